//! Property tests: normalised densities, reflection, and reproducible simulations.

use latentflow_spectral::{BoundaryMode, Grid};
use latentflow_synth::{
    Amount, InitialState, Potential, SimulationConfig, Simulator, TrialLength, TuningCurve, reflect,
};
use proptest::prelude::*;

/// A random GLL grid: [a, a + len] with a in [-3, 1), len in [0.2, 4), 1..=24 elements of
/// 3..=9 nodes.
fn grids() -> impl Strategy<Value = Grid> {
    (-3.0..1.0f64, 0.2..4.0f64, 1usize..=24, 3usize..=9)
        .prop_map(|(a, len, ne, np)| Grid::new(a, a + len, ne, np).unwrap())
}

/// Extrema at 2..=8 distinct sorted positions in [a - 0.5, b + 0.5] with values in [-5, 5].
fn random_wells(a: f64, b: f64) -> impl Strategy<Value = Potential> {
    prop::collection::vec((0.0..1.0f64, -5.0..5.0f64), 2..=8).prop_filter_map(
        "extrema too close",
        move |pts| {
            let mut x: Vec<f64> = pts.iter().map(|p| a - 0.5 + (b - a + 1.0) * p.0).collect();
            x.sort_by(f64::total_cmp);
            if x.windows(2).any(|w| w[1] - w[0] < 1e-6) {
                return None;
            }
            let phi = pts.iter().map(|p| p.1).collect();
            Some(Potential::wells(x, phi).unwrap())
        },
    )
}

/// A random shape on [a, b]: single well, double well (with tilt), extrema, or cos^2; all with
/// Phi ranges of at most a few hundred, so that peq does not underflow.
fn random_shape(a: f64, b: f64) -> impl Strategy<Value = Potential> {
    let mid = 0.5 * (a + b);
    let len = b - a;
    prop_oneof![
        (-1.0..1.0f64, 0.0..20.0f64).prop_map(move |(c, k)| Potential::SingleWell {
            center: mid + 0.5 * len * c,
            curvature: k,
        }),
        (0.25..0.5f64, 0.0..4.0f64, -2.0..2.0f64).prop_map(move |(s, depth, tilt)| {
            Potential::DoubleWell {
                xmax: mid,
                xmin: mid + s * len,
                depth,
                tilt,
            }
        }),
        random_wells(a, b),
        (1e-3..1.0f64).prop_map(move |floor| Potential::CosSquared {
            xbegin: a,
            xend: b,
            floor,
        }),
    ]
}

/// A grid with a potential on it: a shape, or a mixture of 1..=3 shapes.
fn grid_and_potential() -> impl Strategy<Value = (Grid, Potential)> {
    grids().prop_flat_map(|g| {
        let (a, b) = (g.xbegin(), g.xend());
        let mixture = prop::collection::vec((0.01..1.0f64, random_shape(a, b)), 1..=3)
            .prop_map(move |c| Potential::mixture(c, a, b).unwrap());
        let p = prop_oneof![random_shape(a, b), mixture];
        (Just(g), p)
    })
}

/// `cases` cases, no failure files.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(200))]

    /// sum w peq = 1 (to 1e-12) and peq > 0 and finite at every node.
    #[test]
    fn densities_are_normalised_and_positive((g, p) in grid_and_potential()) {
        let peq = p.peq(g.x(), g.w()).unwrap();
        let total: f64 = peq.iter().zip(g.w()).map(|(p, w)| p * w).sum();
        prop_assert!((total - 1.0).abs() < 1e-12, "sum w peq = {}", total);
        prop_assert!(peq.iter().all(|v| v.is_finite() && *v > 0.0));
    }

    /// Reflection lands in [a, b], leaves inside points alone and mirrors near points exactly.
    #[test]
    fn reflection_stays_inside(
        a in -10.0..10.0f64,
        len in 1e-3..10.0f64,
        x in prop_oneof![-1e6..1e6f64, -1e300..1e300f64, -20.0..20.0f64],
    ) {
        let b = a + len;
        let y = reflect(x, a, b);
        prop_assert!(a <= y && y <= b, "reflect({}, {}, {}) = {}", x, a, b, y);
        if (a..=b).contains(&x) {
            prop_assert_eq!(y, x);
        } else if x < a && 2.0 * a - x <= b {
            prop_assert_eq!(y, 2.0 * a - x);
        } else if x > b && 2.0 * b - x >= a {
            prop_assert_eq!(y, 2.0 * b - x);
        }
    }
}

/// A small random simulation: a double well of random depth and tilt on a random [a, b],
/// random D (dt chosen to pass the step limits), either boundary, path recorded at every step.
fn random_config() -> impl Strategy<Value = SimulationConfig> {
    (
        -2.0..0.0f64,
        0.5..3.0f64,
        0.0..4.0f64,
        -2.0..2.0f64,
        0.5..20.0f64,
        any::<bool>(),
    )
        .prop_map(|(a, len, depth, tilt, d, absorbing)| {
            let b = a + len;
            let potential = Potential::DoubleWell {
                xmax: a + 0.5 * len,
                xmin: a + 0.8 * len,
                depth,
                tilt,
            };
            // max |F| = depth |4 (s^3 - s)| / (0.3 len) + |tilt| with |s| <= 5/3: < 40 depth / len
            // + |tilt|; dt keeps D dt max|F| and sqrt(2 D dt) well inside the limits.
            let max_force = 40.0 * depth / len + tilt.abs() + 1.0;
            let dt = (0.01 * len / (d * max_force)).min(1e-4 * len * len / d);
            SimulationConfig {
                potential,
                initial: InitialState::Equilibrium,
                d,
                boundary: if absorbing {
                    BoundaryMode::Absorbing
                } else {
                    BoundaryMode::Reflecting
                },
                xbegin: a,
                xend: b,
                neurons: vec![TuningCurve::constant(20.0), TuningCurve::paper()],
                dt,
                latent_stride: Some(1),
            }
        })
}

proptest! {
    #![proptest_config(config(24))]

    /// Every recorded point of every path is in [a, b]; absorbed trials end on a bound.
    #[test]
    fn paths_stay_inside(config in random_config(), seed in any::<u64>()) {
        let (a, b) = (config.xbegin, config.xend);
        let sim = Simulator::new(config).unwrap();
        let samples = sim.samples(Amount::Trials(4), TrialLength::Fixed(0.2), seed).unwrap();
        for s in &samples {
            let path = s.latent.as_ref().unwrap();
            prop_assert!(path.x.iter().all(|x| (a..=b).contains(x)));
            prop_assert!(path.t.windows(2).all(|t| t[0] < t[1]));
            prop_assert_eq!(*path.t.last().unwrap(), s.duration);
            if s.absorbed {
                let end = *path.x.last().unwrap();
                prop_assert!(end == a || end == b, "absorbed at {}", end);
            }
            prop_assert!(s.spikes.iter().all(|p| p.time >= 0.0 && p.time < s.duration));
        }
    }

    /// The same seed gives identical data (spikes and paths).
    #[test]
    fn same_seed_same_data(config in random_config(), seed in any::<u64>()) {
        let sim = Simulator::new(config).unwrap();
        let first = sim.run(Amount::Seconds(1.0), TrialLength::Fixed(0.3), seed).unwrap();
        let second = sim.run(Amount::Seconds(1.0), TrialLength::Fixed(0.3), seed).unwrap();
        prop_assert_eq!(&first, &second);
        let other = sim.run(Amount::Seconds(1.0), TrialLength::Fixed(0.3), seed ^ 1).unwrap();
        prop_assert_ne!(&first.latent, &other.latent);
    }

    /// Rayon pools of 1 and 2 threads give identical data (trials have their own streams and
    /// are collected in order).
    #[test]
    fn thread_count_does_not_matter(config in random_config(), seed in any::<u64>()) {
        let sim = Simulator::new(config).unwrap();
        let with = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| sim.run(Amount::Spikes(200), TrialLength::Fixed(0.25), seed))
                .unwrap()
        };
        let one = with(1);
        prop_assert_eq!(&one, &with(2));
        prop_assert!(one.data.num_spikes() >= 200);
    }
}

/// Amount::Seconds with fixed-length reflecting trials gives exactly the whole trials that fit
/// (no sliver of a trial from round-off in the summed durations), then the cut remainder.
#[test]
fn seconds_give_whole_trials_without_slivers() {
    let sim = Simulator::new(SimulationConfig::paper()).unwrap();
    for (total, len, trials) in [
        (0.3, 0.1, 3),
        (0.8, 0.1, 8),
        (1.0, 0.1, 10),
        (1.0, 1.0, 1),
        (0.25, 0.1, 3),
    ] {
        let out = sim
            .run(Amount::Seconds(total), TrialLength::Fixed(len), 1)
            .unwrap();
        assert_eq!(
            out.data.num_trials(),
            trials,
            "{total} s in trials of {len} s"
        );
        assert!((out.data.total_time() - total).abs() < 1e-12);
        let shortest = out
            .data
            .trials()
            .iter()
            .map(|t| t.duration())
            .fold(f64::INFINITY, f64::min);
        assert!(shortest > 0.04, "a trial of {shortest} s");
    }
}
