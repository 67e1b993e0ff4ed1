//! Wells of a potential: local minima of `Phi = -log peq` with their prominence.

use crate::SelectError;
use crate::density::check_finite;

/// Positions (ascending, in x units) of the wells of `Phi = -log peq`: interior local minima
/// whose prominence is at least `min_prominence` (in units of Phi).
///
/// Conventions:
/// - A well is a node, or a run of nodes with equal Phi, whose neighbours on both sides are
///   higher; its position is the node (mean node of the run). Minima at the first or last node
///   are not wells. Resolution is the node spacing.
/// - Prominence of a well = (lower of the two saddles) - Phi(well), where the saddle on a side
///   is the highest Phi between the well and the nearest point on that side that lies lower
///   than the well (or the end of the grid if there is none). Equal depths are ordered by
///   position (the left one counts as lower), so two equally deep wells separated by a small
///   bump count as one deep well plus one well of the bump's height.
/// - `peq` need not be normalised (a constant shift of Phi changes nothing).
///
/// # Errors
/// Empty input, length mismatch, non-finite entries, `x` not strictly increasing, `peq <= 0`
/// anywhere (negative or zero: Phi would be undefined or infinite), `min_prominence` not finite
/// or negative.
pub fn find_wells(x: &[f64], peq: &[f64], min_prominence: f64) -> Result<Vec<f64>, SelectError> {
    if x.is_empty() {
        return Err(SelectError::Empty {
            what: "nodes x".into(),
        });
    }
    check_finite(x, x.len(), "x")?;
    check_finite(peq, x.len(), "peq")?;
    if let Some(index) = (1..x.len()).find(|&i| x[i] <= x[i - 1]) {
        return Err(SelectError::NotIncreasing {
            index,
            prev: x[index - 1],
            next: x[index],
        });
    }
    for (index, &value) in peq.iter().enumerate() {
        if value < 0.0 {
            return Err(SelectError::Negative {
                what: "peq".into(),
                index,
                value,
            });
        }
        if value == 0.0 {
            return Err(SelectError::ZeroEntry {
                what: "peq".into(),
                index,
            });
        }
    }
    if !(min_prominence.is_finite() && min_prominence >= 0.0) {
        return Err(SelectError::InvalidConfig {
            field: "min_prominence",
            value: min_prominence.to_string(),
            reason: "must be finite and >= 0",
        });
    }

    // Runs of equal Phi: (first node, last node, Phi).
    let mut runs: Vec<(usize, usize, f64)> = Vec::new();
    for (i, p) in peq.iter().enumerate() {
        let phi = -p.ln();
        match runs.last_mut() {
            Some(run) if run.2 == phi => run.1 = i,
            _ => runs.push((i, i, phi)),
        }
    }
    // Run r is lower than run s if its Phi is lower, or equal and it lies further left.
    let lower = |r: usize, s: usize| runs[r].2 < runs[s].2 || (runs[r].2 == runs[s].2 && r < s);
    let mut wells = Vec::new();
    for r in 1..runs.len().saturating_sub(1) {
        let v = runs[r].2;
        if !(runs[r - 1].2 > v && runs[r + 1].2 > v) {
            continue;
        }
        let mut left = v;
        for s in (0..r).rev() {
            if lower(s, r) {
                break;
            }
            left = left.max(runs[s].2);
        }
        let mut right = v;
        for s in r + 1..runs.len() {
            if lower(s, r) {
                break;
            }
            right = right.max(runs[s].2);
        }
        if left.min(right) - v >= min_prominence {
            let (a, b, _) = runs[r];
            wells.push(x[a..=b].iter().sum::<f64>() / (b - a + 1) as f64);
        }
    }
    Ok(wells)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64)
            .collect()
    }

    /// The project's piecewise-cubic potential through extrema (docs/method.md §7).
    fn piecewise(x: &[f64], xs: &[f64], phis: &[f64]) -> Vec<f64> {
        x.iter()
            .map(|&xi| {
                let k = (0..xs.len() - 1)
                    .find(|&k| xi <= xs[k + 1])
                    .unwrap_or(xs.len() - 2);
                let t = (xi - xs[k]) / (xs[k + 1] - xs[k]);
                let phi = phis[k] + (phis[k + 1] - phis[k]) * (3.0 * t * t - 2.0 * t * t * t);
                (-phi).exp()
            })
            .collect()
    }

    #[test]
    fn tilted_double_well_has_two_wells() {
        let x = grid(401);
        // Phi = 2 (s^4 - 2 s^2) + 0.3 x, s = x / 0.6: wells near +-0.6, barrier ~2 high.
        let peq: Vec<f64> = x
            .iter()
            .map(|&xi| {
                let s = xi / 0.6;
                (-(2.0 * (s.powi(4) - 2.0 * s * s) + 0.3 * xi)).exp()
            })
            .collect();
        let wells = find_wells(&x, &peq, 1.0).unwrap();
        assert_eq!(wells.len(), 2, "{wells:?}");
        assert!((wells[0] + 0.6).abs() < 0.03 && (wells[1] - 0.6).abs() < 0.03);
        // The shallower (right) well has prominence ~ 2 - 0.18 < 2.5 < the left one's.
        let wells = find_wells(&x, &peq, 2.5).unwrap();
        assert_eq!(wells.len(), 1, "{wells:?}");
        assert!((wells[0] + 0.6).abs() < 0.03);
    }

    #[test]
    fn triple_and_four_wells_are_counted() {
        let x = grid(801);
        let triple = piecewise(
            &x,
            &[-1.0, -0.6, -0.3, 0.0, 0.3, 0.6, 1.0],
            &[4.0, 0.0, 2.0, 0.0, 2.0, 0.0, 4.0],
        );
        let wells = find_wells(&x, &triple, 1.0).unwrap();
        assert_eq!(wells.len(), 3, "{wells:?}");
        for (got, want) in wells.iter().zip([-0.6, 0.0, 0.6]) {
            assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
        let four = piecewise(
            &x,
            &[-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0],
            &[4.0, 0.0, 2.0, 0.5, 2.0, 0.5, 2.0, 0.0, 4.0],
        );
        assert_eq!(find_wells(&x, &four, 1.0).unwrap().len(), 4);
        // The two inner wells are 1.5 deep: a higher bar keeps only the outer two.
        assert_eq!(find_wells(&x, &four, 1.6).unwrap(), vec![-0.75, 0.75]);
    }

    #[test]
    fn equal_wells_behind_a_small_bump_count_once() {
        let x = grid(7);
        let phi = [3.0, 0.0, 0.1, 0.0, 3.0, 3.0, 3.0];
        let peq: Vec<f64> = phi.iter().map(|p: &f64| (-p).exp()).collect();
        assert_eq!(find_wells(&x, &peq, 0.5).unwrap().len(), 1);
        assert_eq!(find_wells(&x, &peq, 0.05).unwrap().len(), 2);
    }

    #[test]
    fn flat_and_monotone_densities_have_no_wells_and_plateaus_are_centred() {
        let x = grid(11);
        assert!(find_wells(&x, &[0.5; 11], 0.0).unwrap().is_empty());
        let ramp: Vec<f64> = x.iter().map(|v| v.exp()).collect();
        assert!(find_wells(&x, &ramp, 0.0).unwrap().is_empty());
        let phi = [2.0, 1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0];
        let peq: Vec<f64> = phi.iter().map(|p: &f64| (-p).exp()).collect();
        let wells = find_wells(&x, &peq, 1.0).unwrap();
        assert_eq!(wells.len(), 1);
        assert!((wells[0] - x[3]).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_rejected() {
        let x = [0.0, 1.0, 2.0];
        assert!(matches!(
            find_wells(&[], &[], 0.0),
            Err(SelectError::Empty { .. })
        ));
        assert!(matches!(
            find_wells(&[0.0, 0.0, 1.0], &[1.0; 3], 0.0),
            Err(SelectError::NotIncreasing { index: 1, .. })
        ));
        assert!(matches!(
            find_wells(&x, &[1.0, 0.0, 1.0], 0.0),
            Err(SelectError::ZeroEntry { index: 1, .. })
        ));
        assert!(matches!(
            find_wells(&x, &[1.0, 1.0], 0.0),
            Err(SelectError::LengthMismatch { .. })
        ));
        assert!(matches!(
            find_wells(&x, &[1.0; 3], -1.0),
            Err(SelectError::InvalidConfig { .. })
        ));
    }
}
