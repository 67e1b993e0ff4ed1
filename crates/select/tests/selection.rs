//! Selection logic on constructed paths: every edge case of feature consistency and best
//! generalisation.

use latentflow_select::{
    Divergence, FeatureConsistency, GapSide, PathPoint, SelectError, SelectionWarning,
    best_generalization, jensen_shannon, symmetric_kl,
};
use proptest::prelude::*;

const N: usize = 101;

/// Trapezoid weights and nodes on [-1, 1].
fn grid() -> (Vec<f64>, Vec<f64>) {
    let h = 2.0 / (N - 1) as f64;
    let x = (0..N).map(|i| -1.0 + h * i as f64).collect();
    let mut w = vec![h; N];
    w[0] = 0.5 * h;
    w[N - 1] = 0.5 * h;
    (x, w)
}

/// `(1 + a cos(pi x)) / Z`: uniform for a = 0, further from uniform as |a| grows (|a| < 1).
fn density(a: f64) -> Vec<f64> {
    let (x, w) = grid();
    let p: Vec<f64> = x
        .iter()
        .map(|xi| 1.0 + a * (std::f64::consts::PI * xi).cos())
        .collect();
    let z: f64 = p.iter().zip(&w).map(|(p, w)| p * w).sum();
    p.iter().map(|p| p / z).collect()
}

fn point(iteration: u64, fc: f64, a: f64) -> PathPoint {
    PathPoint {
        iteration,
        feature_complexity: fc,
        peq: density(a),
        p0: None,
        condition_densities: Vec::new(),
        validation_neg_loglik: None,
    }
}

/// Path 1: uniform models at FC 0.1 k; path 2: amplitude `amps[k]` at FC 0.1 k.
/// Iterations are 10 k (path 1) and 10 k + 1 (path 2) so the two can be told apart.
fn paths(amps: &[f64]) -> (Vec<PathPoint>, Vec<PathPoint>) {
    let p1 = (0..amps.len())
        .map(|k| point(10 * k as u64, 0.1 * k as f64, 0.0))
        .collect();
    let p2 = amps
        .iter()
        .enumerate()
        .map(|(k, &a)| point(10 * k as u64 + 1, 0.1 * k as f64, a))
        .collect();
    (p1, p2)
}

fn sym(a: f64, b: f64) -> f64 {
    symmetric_kl(&grid().1, &density(a), &density(b)).unwrap()
}

/// One model per path at each axis point.
fn narrow() -> FeatureConsistency {
    FeatureConsistency {
        radius: 0.05,
        ..FeatureConsistency::kl()
    }
}

fn ramp(n: usize) -> Vec<f64> {
    (0..n).map(|k| 0.02 * k as f64).collect()
}

fn gaps(warnings: &[SelectionWarning]) -> Vec<(usize, GapSide)> {
    warnings
        .iter()
        .filter_map(|w| match w {
            SelectionWarning::Gap {
                axis_index,
                missing,
                ..
            } => Some((*axis_index, *missing)),
            _ => None,
        })
        .collect()
}

#[test]
fn selects_the_last_point_before_the_threshold_is_exceeded() {
    let amps = ramp(11);
    let (p1, p2) = paths(&amps);
    let d: Vec<f64> = amps.iter().map(|&a| sym(0.0, a)).collect();
    assert!(
        d.windows(2).all(|v| v[0] < v[1]),
        "constructed curve must increase"
    );
    let config = FeatureConsistency {
        threshold: 0.5 * (d[5] + d[6]),
        ..narrow()
    };
    let r = config.select(&grid().1, &p1, &p2).unwrap();
    assert_eq!(r.axis.len(), 11);
    for k in 0..11 {
        assert!((r.axis[k] - 0.1 * k as f64).abs() < 1e-12);
        assert_eq!(r.divergence[k], Some(d[k]), "point {k}");
        assert_eq!(r.pairs[k], Some((k, k)));
    }
    assert_eq!(r.first_exceeding, Some(6));
    assert!(r.crossed);
    assert!((r.m_star - 0.5).abs() < 1e-12);
    let s = r.selected;
    assert_eq!((s.axis_index, s.index1, s.index2), (5, 5, 5));
    assert_eq!((s.iteration1, s.iteration2), (50, 51));
    assert_eq!(s.divergence, d[5]);
    assert!((s.feature_complexity1 - 0.5).abs() < 1e-12);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.config.axis_end, Some(1.0));
    assert_eq!(r.threshold, config.threshold);
}

#[test]
fn a_divergence_equal_to_the_threshold_does_not_exceed_it() {
    let amps = ramp(11);
    let (p1, p2) = paths(&amps);
    let w = grid().1;
    for k in [3usize, 6] {
        let config = FeatureConsistency {
            threshold: sym(0.0, amps[k]),
            ..narrow()
        };
        let r = config.select(&w, &p1, &p2).unwrap();
        assert_eq!(r.divergence[k], Some(config.threshold));
        assert_eq!(r.first_exceeding, Some(k + 1));
        assert_eq!(r.selected.axis_index, k);
    }
}

#[test]
fn the_first_crossing_decides_even_if_the_curve_comes_back_down() {
    let amps = [0.0, 0.02, 0.04, 0.3, 0.02, 0.02, 0.5];
    let (p1, p2) = paths(&amps);
    let config = FeatureConsistency {
        threshold: sym(0.0, 0.1),
        ..narrow()
    };
    let r = config.select(&grid().1, &p1, &p2).unwrap();
    assert_eq!(r.first_exceeding, Some(3));
    assert_eq!(r.selected.axis_index, 2);
}

#[test]
fn above_threshold_at_the_first_point_selects_the_simplest_pair_with_a_warning() {
    let amps: Vec<f64> = (0..6).map(|k| 0.3 + 0.02 * k as f64).collect();
    let (p1, p2) = paths(&amps);
    let r = narrow().select(&grid().1, &p1, &p2).unwrap();
    assert!(r.divergence[0].unwrap() > r.threshold);
    assert_eq!(r.first_exceeding, Some(0));
    assert!(r.crossed);
    assert_eq!(r.selected.axis_index, 0);
    assert_eq!((r.selected.index1, r.selected.index2), (0, 0));
    assert_eq!(r.m_star, 0.0);
    assert!(matches!(
        r.warnings.as_slice(),
        [SelectionWarning::AboveThresholdAtFirstPoint { fc, .. }] if *fc == 0.0
    ));
}

#[test]
fn never_above_threshold_selects_the_last_point_with_a_warning() {
    let amps = ramp(8);
    let (p1, p2) = paths(&amps);
    let config = FeatureConsistency {
        threshold: 1.0,
        ..narrow()
    };
    let r = config.select(&grid().1, &p1, &p2).unwrap();
    assert_eq!(r.first_exceeding, None);
    assert!(!r.crossed);
    assert_eq!(r.selected.axis_index, 7);
    assert!((r.m_star - 0.7).abs() < 1e-12);
    let max = sym(0.0, amps[7]);
    assert!(matches!(
        r.warnings.as_slice(),
        [SelectionWarning::NeverExceeded { max_divergence, .. }] if *max_divergence == max
    ));
}

#[test]
fn gaps_are_skipped_recorded_and_ignored_by_the_scan() {
    let amps = ramp(11);
    let (mut p1, mut p2) = paths(&amps);
    // Path 2 has nothing at FC 0.3 and 0.4, path 1 nothing at 0.8.
    p2.retain(|p| p.iteration != 31 && p.iteration != 41);
    p1.retain(|p| p.iteration != 80);
    let config = FeatureConsistency {
        threshold: 0.5 * (sym(0.0, amps[4]) + sym(0.0, amps[5])),
        ..narrow()
    };
    let r = config.select(&grid().1, &p1, &p2).unwrap();
    assert_eq!(r.axis.len(), 11);
    assert_eq!(r.divergence[3], None);
    assert_eq!(r.divergence[4], None);
    assert_eq!(r.divergence[8], None);
    assert_eq!(r.pairs[3], None);
    assert_eq!(
        gaps(&r.warnings),
        vec![
            (3, GapSide::Path2),
            (4, GapSide::Path2),
            (8, GapSide::Path1)
        ]
    );
    // The first crossing is at 0.5; the last evaluated point before it is 0.2.
    assert_eq!(r.first_exceeding, Some(5));
    assert_eq!(r.selected.axis_index, 2);
    assert_eq!((r.selected.index1, r.selected.index2), (2, 2));
    // Leading points below both paths' first model are skipped without a warning.
    let late: Vec<PathPoint> = p1
        .iter()
        .filter(|p| p.feature_complexity > 0.15)
        .cloned()
        .collect();
    let late2: Vec<PathPoint> = p2
        .iter()
        .filter(|p| p.feature_complexity > 0.15)
        .cloned()
        .collect();
    let r2 = config.select(&grid().1, &late, &late2).unwrap();
    assert_eq!(r2.divergence[..2], [None, None]);
    assert_eq!(gaps(&r2.warnings).first(), Some(&(3, GapSide::Path2)));
    // Indices refer to the paths as given (path 2 lost two models before index 5).
    assert_eq!(r.pairs[5], Some((5, 3)));
    assert_eq!(r.warnings.len(), 3);
}

#[test]
fn the_divergence_is_the_minimum_over_pairs_within_the_radius() {
    let w = grid().1;
    // Path 1: a = 0 at FC 0, a = 0.12 at FC 0.35. Path 2: a = 0.1 at FC 0.3, a = 0.13 at
    // FC 0.45, a = 0.6 at FC 2.0 (outside every window). Radius 0.4, axis {0, 0.5}.
    let p1 = vec![point(0, 0.0, 0.0), point(1, 0.35, 0.12)];
    let p2 = vec![point(0, 0.3, 0.1), point(1, 0.45, 0.13), point(2, 2.0, 0.6)];
    let config = FeatureConsistency {
        radius: 0.4,
        axis_end: Some(0.5),
        stride: 0.5,
        ..FeatureConsistency::kl()
    };
    let r = config.select(&w, &p1, &p2).unwrap();
    // At FC 0: candidates {0, 1} x {0}; (1, 0) is the closer pair.
    assert!(sym(0.12, 0.1) < sym(0.0, 0.1));
    assert_eq!(r.pairs[0], Some((1, 0)));
    assert_eq!(r.divergence[0], Some(sym(0.12, 0.1)));
    // At FC 0.5: candidates {1} x {0, 1}; (1, 1) is the closer pair.
    assert!(sym(0.12, 0.13) < sym(0.12, 0.1));
    assert_eq!(r.pairs[1], Some((1, 1)));
    assert_eq!(r.divergence[1], Some(sym(0.12, 0.13)));
}

#[test]
fn ties_go_to_the_earliest_models() {
    // Path 2 holds the same density three times: every pair ties at each point.
    let p1 = vec![point(0, 0.0, 0.1), point(1, 0.05, 0.1)];
    let p2 = vec![point(7, 0.0, 0.2), point(8, 0.02, 0.2), point(9, 0.04, 0.2)];
    let config = FeatureConsistency {
        axis_end: Some(0.0),
        ..FeatureConsistency::kl()
    };
    let r = config.select(&grid().1, &p1, &p2).unwrap();
    assert_eq!(r.axis, vec![0.0]);
    assert_eq!(r.pairs[0], Some((0, 0)));
    assert_eq!((r.selected.iteration1, r.selected.iteration2), (0, 7));
}

#[test]
fn unequal_path_lengths_and_unordered_paths() {
    // Path 1: 11 models on FC 0..1; path 2: 31 models on FC 0..1.5 (a = 0.01 j at FC 0.05 j),
    // stored in reverse order.
    let p1: Vec<PathPoint> = (0..=10).map(|k| point(k, 0.1 * k as f64, 0.0)).collect();
    let mut p2: Vec<PathPoint> = (0..=30)
        .map(|j| point(100 + j, 0.05 * j as f64, 0.01 * j as f64))
        .collect();
    p2.reverse();
    let config = FeatureConsistency {
        radius: 0.06,
        threshold: sym(0.0, 0.115),
        ..FeatureConsistency::kl()
    };
    let r = config.select(&grid().1, &p1, &p2).unwrap();
    // Default axis end: the smaller of the largest FC each path reaches (1.0 and 1.5).
    assert_eq!(r.config.axis_end, Some(1.0));
    assert_eq!(r.axis.len(), 11);
    // At FC 0.1 m path 1 offers model m; path 2 offers j = 2m - 1, 2m, 2m + 1 (stored at
    // 30 - j); the closest to the uniform model is the lowest amplitude, j = 2m - 1.
    assert_eq!(r.pairs[0], Some((0, 30)));
    for m in 1..=10 {
        let j = 2 * m - 1;
        assert_eq!(r.pairs[m], Some((m, 30 - j)), "point {m}");
        assert_eq!(r.divergence[m], Some(sym(0.0, 0.01 * j as f64)));
    }
    // a = 0.11 (j = 11) at axis FC 0.6 is the last pair under the threshold (a = 0.115).
    assert_eq!(r.first_exceeding, Some(7));
    assert_eq!(r.selected.axis_index, 6);
    assert_eq!(r.selected.index2, 30 - 11);
    assert_eq!(r.selected.iteration2, 111);
    assert!(r.warnings.is_empty());
}

#[test]
fn jensen_shannon_variant() {
    let amps = ramp(11);
    let (p1, p2) = paths(&amps);
    let w = grid().1;
    let js: Vec<f64> = amps
        .iter()
        .map(|&a| jensen_shannon(&w, &density(0.0), &density(a)).unwrap())
        .collect();
    let config = FeatureConsistency {
        radius: 0.05,
        threshold: 0.5 * (js[7] + js[8]),
        ..FeatureConsistency::js()
    };
    assert_eq!(config.divergence, Divergence::JensenShannon);
    let r = config.select(&w, &p1, &p2).unwrap();
    for k in 0..11 {
        assert_eq!(r.divergence[k], Some(js[k]));
    }
    assert_eq!(r.selected.axis_index, 7);
    // JS is smaller than symmetric KL (about a quarter of it for close densities), hence
    // the smaller default threshold.
    assert!(js[5] < 0.3 * sym(0.0, amps[5]));
    assert_eq!(FeatureConsistency::js().threshold, 0.002);
    assert_eq!(FeatureConsistency::default(), FeatureConsistency::kl());
    assert_eq!(FeatureConsistency::kl().threshold, 0.01);
}

#[test]
fn errors_name_what_is_wrong() {
    let w = grid().1;
    let (p1, p2) = paths(&ramp(4));
    let kl = FeatureConsistency::kl();
    assert!(matches!(
        kl.select(&w, &[], &p2),
        Err(SelectError::Empty { ref what }) if what == "path 1"
    ));
    let mut bad = p2.clone();
    bad[2].peq[0] *= 2.0;
    assert!(matches!(
        kl.select(&w, &p1, &bad),
        Err(SelectError::NotNormalised { ref what, .. }) if what == "path 2 point 2 (iteration 21) peq"
    ));
    let mut bad = p2.clone();
    bad[1].peq.pop();
    assert!(matches!(
        kl.select(&w, &p1, &bad),
        Err(SelectError::LengthMismatch { .. })
    ));
    let mut bad = p1.clone();
    bad[3].feature_complexity = f64::NAN;
    assert!(matches!(
        kl.select(&w, &bad, &p2),
        Err(SelectError::NonFinite { .. })
    ));
    for config in [
        FeatureConsistency { stride: 0.0, ..kl },
        FeatureConsistency { radius: -1.0, ..kl },
        FeatureConsistency {
            threshold: f64::NAN,
            ..kl
        },
        FeatureConsistency {
            axis_end: Some(f64::INFINITY),
            ..kl
        },
        FeatureConsistency {
            max_candidates: 0,
            ..kl
        },
        FeatureConsistency {
            stride: 1e-9,
            axis_end: Some(1.0),
            ..kl
        },
    ] {
        assert!(matches!(
            config.select(&w, &p1, &p2),
            Err(SelectError::InvalidConfig { .. })
        ));
    }
    // Paths at disjoint FCs: nothing to compare.
    let far: Vec<PathPoint> = (0..3).map(|k| point(k, 5.0 + k as f64, 0.0)).collect();
    let config = FeatureConsistency {
        axis_end: Some(1.0),
        ..narrow()
    };
    assert!(matches!(
        config.select(&w, &p1, &far),
        Err(SelectError::NoComparablePoints { .. })
    ));
    // A density that vanishes where the other does not makes symmetric KL infinite, not JS.
    let mut zero = p2.clone();
    zero[0].peq = vec![0.0; N];
    zero[0].peq[N / 2] = 2.0 / (grid().1[N / 2] * 2.0);
    let err = kl.select(&w, &p1, &zero).unwrap_err();
    assert!(
        matches!(err, SelectError::ZeroDensity { ref zero, .. } if zero.starts_with("path 2 point 0"))
    );
    assert!(FeatureConsistency::js().select(&w, &p1, &zero).is_ok());
}

#[test]
fn best_generalization_picks_the_earliest_minimum() {
    let mut path: Vec<PathPoint> = (0..6)
        .map(|k| point(k * 100, 0.5 * k as f64, 0.0))
        .collect();
    let values = [None, Some(3.0), Some(1.5), None, Some(1.5), Some(2.0)];
    for (p, v) in path.iter_mut().zip(values) {
        p.validation_neg_loglik = v;
    }
    let r = best_generalization(&path).unwrap();
    assert_eq!((r.index, r.iteration), (2, 200));
    assert_eq!(r.validation_neg_loglik, 1.5);
    assert_eq!(r.feature_complexity, 1.0);
    assert_eq!(r.validation, values.to_vec());
    assert_eq!(r.iterations, vec![0, 100, 200, 300, 400, 500]);

    path[2].validation_neg_loglik = Some(1.6);
    assert_eq!(best_generalization(&path).unwrap().index, 4);

    assert!(matches!(
        best_generalization(&[]),
        Err(SelectError::Empty { .. })
    ));
    path[4].validation_neg_loglik = Some(f64::NAN);
    assert!(matches!(
        best_generalization(&path),
        Err(SelectError::NonFinite { index: 4, .. })
    ));
    path.iter_mut().for_each(|p| p.validation_neg_loglik = None);
    assert_eq!(best_generalization(&path), Err(SelectError::NoValidation));
}

#[test]
fn results_and_configs_round_trip_through_json() {
    let (p1, p2) = paths(&ramp(6));
    let r = narrow().select(&grid().1, &p1, &p2).unwrap();
    let text = serde_json::to_string(&r).unwrap();
    let back: latentflow_select::FeatureConsistencyResult = serde_json::from_str(&text).unwrap();
    // serde_json's default float parsing may differ from the written value in the last bit.
    assert_eq!(
        (back.axis.len(), back.pairs, back.selected.index1),
        (6, r.pairs, 5)
    );
    assert_eq!(back.warnings.len(), r.warnings.len());
    for (a, b) in back.divergence.iter().zip(&r.divergence) {
        assert!((a.unwrap() - b.unwrap()).abs() <= 1e-15 * b.unwrap());
    }
    // Omitted config fields take the KL defaults.
    let c: FeatureConsistency =
        serde_json::from_str(r#"{"divergence": "JensenShannon", "threshold": 0.002}"#).unwrap();
    assert_eq!(c, FeatureConsistency::js());
    let point: PathPoint = serde_json::from_str(
        r#"{"iteration": 3, "feature_complexity": 0.5, "peq": [1.0], "validation_neg_loglik": null}"#,
    )
    .unwrap();
    assert_eq!(point.validation_neg_loglik, None);
}

/// A random path: `len` models with FC in [0, 2] and amplitude in [-0.5, 0.5].
fn random_path() -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec((0.0f64..2.0, -0.5f64..0.5), 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// With few models (no subsampling), every evaluated point carries the minimum over all
    /// in-radius pairs, gaps are exactly the points where a side has no in-radius model, and
    /// the selection obeys the threshold rule.
    #[test]
    fn selection_matches_brute_force(
        a in random_path(),
        b in random_path(),
        threshold in 0.0f64..0.2,
        radius in 0.05f64..1.0,
    ) {
        let w = grid().1;
        let p1: Vec<PathPoint> = a.iter().enumerate().map(|(k, &(fc, amp))| point(k as u64, fc, amp)).collect();
        let p2: Vec<PathPoint> = b.iter().enumerate().map(|(k, &(fc, amp))| point(k as u64, fc, amp)).collect();
        let config = FeatureConsistency { threshold, radius, axis_end: Some(2.0), ..FeatureConsistency::kl() };
        let result = config.select(&w, &p1, &p2);
        let near = |p: &[(f64, f64)], c: f64| -> Vec<usize> {
            (0..p.len()).filter(|&k| (p[k].0 - c).abs() <= radius).collect()
        };
        let mut expected = Vec::new();
        for k in 0..=20 {
            let c = 0.1 * k as f64;
            let (n1, n2) = (near(&a, c), near(&b, c));
            let mut best: Option<f64> = None;
            for &i in &n1 {
                for &j in &n2 {
                    let d = sym(a[i].1, b[j].1);
                    best = Some(best.map_or(d, |m| m.min(d)));
                }
            }
            expected.push(best);
        }
        if expected.iter().all(Option::is_none) {
            prop_assert!(matches!(result, Err(SelectError::NoComparablePoints { .. })), "{:?}", result);
            return Ok(());
        }
        let r = result.unwrap();
        prop_assert_eq!(r.axis.len(), 21);
        for k in 0..=20 {
            match (r.divergence[k], expected[k]) {
                (Some(got), Some(want)) => prop_assert!((got - want).abs() <= 1e-12 * want.max(1e-300), "{} {} {}", k, got, want),
                (None, None) => {}
                (got, want) => prop_assert!(false, "point {}: {:?} vs {:?}", k, got, want),
            }
        }
        let s = r.selected;
        let first_eval = expected.iter().position(Option::is_some).unwrap();
        match r.first_exceeding {
            Some(k) if k == first_eval => prop_assert_eq!(s.axis_index, k),
            Some(k) => {
                prop_assert!(s.axis_index < k);
                prop_assert!(s.divergence <= threshold);
                prop_assert!(expected[s.axis_index + 1..k].iter().all(Option::is_none));
            }
            None => prop_assert!(expected[s.axis_index + 1..].iter().all(Option::is_none)),
        }
        prop_assert!((p1[s.index1].feature_complexity - r.m_star).abs() <= radius + 1e-9);
        prop_assert!((p2[s.index2].feature_complexity - r.m_star).abs() <= radius + 1e-9);
    }
}

#[test]
fn non_stationary_paths_must_agree_on_p0_too() {
    // The same peq along both paths; the p0 of path 2 moves away as in the test above.
    let amps = ramp(11);
    let (p1, p2) = paths(&amps);
    let with_p0 = |path: &[PathPoint], p0_of: &[PathPoint]| -> Vec<PathPoint> {
        path.iter()
            .zip(p0_of)
            .map(|(p, q)| PathPoint {
                peq: density(0.0),
                p0: Some(q.peq.clone()),
                ..p.clone()
            })
            .collect()
    };
    let (q1, q2) = (with_p0(&p1, &p1), with_p0(&p2, &p2));
    let d: Vec<f64> = amps.iter().map(|&a| sym(0.0, a)).collect();
    let config = FeatureConsistency {
        threshold: 0.5 * (d[5] + d[6]),
        ..narrow()
    };
    // Equal peq: only the p0 divergence can cross, and it does where it did for peq.
    let r = config.select(&grid().1, &q1, &q2).unwrap();
    assert_eq!(r.divergence[7], Some(d[7]));
    assert!(
        r.crossed && (r.m_star - 0.5).abs() < 1e-12,
        "{:?}",
        r.m_star
    );
    // Without p0 the same paths agree everywhere.
    let strip = |v: &[PathPoint]| -> Vec<PathPoint> {
        v.iter()
            .map(|p| PathPoint {
                p0: None,
                ..p.clone()
            })
            .collect()
    };
    let r = config.select(&grid().1, &strip(&q1), &strip(&q2)).unwrap();
    assert!(!r.crossed && r.divergence.iter().flatten().all(|&v| v == 0.0));
    // A path mixing equilibrium and non-equilibrium models is refused.
    let mut mixed = q2.clone();
    mixed[3].p0 = None;
    let err = config.select(&grid().1, &q1, &mixed).unwrap_err();
    assert!(matches!(err, SelectError::MixedP0 { .. }), "{err}");
}

#[test]
fn the_conditions_densities_count_like_p0() {
    // Two further conditions: the first agrees everywhere, the second's density moves away
    // along path 2 as peq did above; the pair's divergence is the larger.
    let amps = ramp(11);
    let (p1, p2) = paths(&amps);
    let with_conditions = |path: &[PathPoint]| -> Vec<PathPoint> {
        path.iter()
            .map(|p| PathPoint {
                peq: density(0.0),
                condition_densities: vec![density(0.0), p.peq.clone()],
                ..p.clone()
            })
            .collect()
    };
    let (q1, q2) = (with_conditions(&p1), with_conditions(&p2));
    let d: Vec<f64> = amps.iter().map(|&a| sym(0.0, a)).collect();
    let config = FeatureConsistency {
        threshold: 0.5 * (d[5] + d[6]),
        ..narrow()
    };
    let r = config.select(&grid().1, &q1, &q2).unwrap();
    assert_eq!(r.divergence[7], Some(d[7]));
    assert!(
        r.crossed && (r.m_star - 0.5).abs() < 1e-12,
        "{:?}",
        r.m_star
    );
    // Paths of different numbers of conditions are refused, and so is a path mixing them.
    let fewer: Vec<PathPoint> = q2
        .iter()
        .map(|p| PathPoint {
            condition_densities: p.condition_densities[..1].to_vec(),
            ..p.clone()
        })
        .collect();
    let err = config.select(&grid().1, &q1, &fewer).unwrap_err();
    assert!(matches!(err, SelectError::MixedConditions { .. }), "{err}");
    let mut mixed = q2.clone();
    mixed[4].condition_densities.pop();
    let err = config.select(&grid().1, &q1, &mixed).unwrap_err();
    assert!(matches!(err, SelectError::MixedConditions { .. }), "{err}");
}
