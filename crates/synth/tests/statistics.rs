//! Statistical tests of the simulator against exact results, with fixed seeds.
//!
//! Every tolerance is a critical value at significance alpha = 1e-3 for the sample size at
//! hand (so a correct simulator fails a given check for about 1 seed in 1000, and the seeds are
//! fixed), plus nothing else: the Euler–Maruyama bias at dt = 1e-4 is far below these bounds.
//!
//! Latent paths are autocorrelated, so their samples are not independent. The integrated
//! autocorrelation time tau (s) of the slowest observables (x itself and the indicators
//! 1{x < q} that the histogram tests use) is estimated from the simulated path with Sokal's
//! automatic window, and a path of total length T counts as N_eff = T / (2 tau) independent
//! samples: for a stationary series sampled every Delta, Var(mean) = 2 tau Var / (N Delta).

use std::sync::OnceLock;

use latentflow_spectral::BoundaryMode;
use latentflow_synth::{
    Amount, InitialState, LatentPath, Potential, SimulationConfig, Simulator, TrialLength,
    TuningCurve,
};

/// Significance level of every test.
const ALPHA: f64 = 1e-3;

/// Two-sided normal critical value at ALPHA: Phi^-1(1 - ALPHA/2).
const Z_CRIT: f64 = 3.2905;

/// The asymptotic Kolmogorov–Smirnov critical value sqrt(n) D_crit = sqrt(-ln(ALPHA/2) / 2)
/// (1.949 at ALPHA = 1e-3; exact for large n, conservative for the n used here).
fn ks_critical(n_eff: f64) -> f64 {
    (-(ALPHA / 2.0).ln() / 2.0).sqrt() / n_eff.sqrt()
}

/// Integrated autocorrelation time (in samples) of one observable g evaluated along several
/// independent stationary series: tau = 1/2 + sum_{k=1}^{M} rho(k), with Sokal's window: the
/// smallest M with M >= 8 tau(M) (a wide window: the slow inter-well mode has a long tail).
fn integrated_time(series: &[Vec<f64>]) -> f64 {
    let n: usize = series.iter().map(Vec::len).sum();
    let mean = series.iter().flatten().sum::<f64>() / n as f64;
    let max_lag = series.iter().map(Vec::len).min().unwrap() / 4;
    let cov = |k: usize| {
        let (mut s, mut m) = (0.0, 0usize);
        for x in series {
            for i in 0..x.len() - k {
                s += (x[i] - mean) * (x[i + k] - mean);
            }
            m += x.len() - k;
        }
        s / m as f64
    };
    let c0 = cov(0);
    let mut tau = 0.5;
    for k in 1..max_lag {
        tau += cov(k) / c0;
        if k as f64 >= 8.0 * tau {
            return tau;
        }
    }
    panic!("the autocorrelation did not decay within {max_lag} samples (tau so far {tau})");
}

/// The largest integrated autocorrelation time (s) of x and of 1{x < q} for q in `cuts`, from
/// paths sampled every `delta` s (the trial-end point, off the regular grid, is dropped).
fn correlation_time(paths: &[LatentPath], delta: f64, cuts: &[f64]) -> f64 {
    let regular: Vec<&[f64]> = paths.iter().map(|p| &p.x[..p.x.len() - 1]).collect();
    let mut observables: Vec<Box<dyn Fn(f64) -> f64>> = vec![Box::new(|x| x)];
    for &q in cuts {
        observables.push(Box::new(move |x| f64::from(u8::from(x < q))));
    }
    observables
        .iter()
        .map(|g| {
            let s: Vec<Vec<f64>> = regular
                .iter()
                .map(|p| p.iter().map(|&x| g(x)).collect())
                .collect();
            integrated_time(&s) * delta
        })
        .fold(0.0, f64::max)
}

/// Normalised exp(-Phi) and its cumulative integral on `n` + 1 uniform nodes of [a, b]
/// (trapezoid rule), as (x, density, cdf).
fn reference_density(p: &Potential, a: f64, b: f64, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let h = (b - a) / n as f64;
    let x: Vec<f64> = (0..=n).map(|i| a + h * i as f64).collect();
    let mut dens: Vec<f64> = x.iter().map(|&v| (-p.phi(v)).exp()).collect();
    let mut cdf = vec![0.0; n + 1];
    for i in 1..=n {
        cdf[i] = cdf[i - 1] + 0.5 * h * (dens[i - 1] + dens[i]);
    }
    let z = cdf[n];
    dens.iter_mut().for_each(|d| *d /= z);
    cdf.iter_mut().for_each(|c| *c /= z);
    (x, dens, cdf)
}

/// Kolmogorov–Smirnov distance between the samples and a CDF given at uniform nodes
/// (linear interpolation).
fn ks_distance(samples: &mut [f64], a: f64, b: f64, cdf: &[f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len() as f64;
    let cells = cdf.len() - 1;
    let h = (b - a) / cells as f64;
    samples
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let u = ((x - a) / h).clamp(0.0, cells as f64);
            let j = (u as usize).min(cells - 1);
            let f = cdf[j] + (cdf[j + 1] - cdf[j]) * (u - j as f64);
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max)
}

/// The paper's double well simulated for 2000 s (20 reflecting trials of 100 s, p0 = peq), the
/// path sampled every 10 ms.
struct PaperRun {
    paths: Vec<LatentPath>,
    spikes: usize,
    seconds: f64,
    tau: f64,
}

const PAPER_STRIDE: usize = 100;

fn paper_run() -> &'static PaperRun {
    static RUN: OnceLock<PaperRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let config = SimulationConfig {
            latent_stride: Some(PAPER_STRIDE),
            ..SimulationConfig::paper()
        };
        let delta = PAPER_STRIDE as f64 * config.dt;
        let out = Simulator::new(config)
            .unwrap()
            .run(Amount::Trials(20), TrialLength::Fixed(100.0), 11)
            .unwrap();
        let tau = correlation_time(&out.latent, delta, &[-0.6, 0.0, 0.6]);
        PaperRun {
            spikes: out.data.num_spikes(),
            seconds: out.data.total_time(),
            paths: out.latent,
            tau,
        }
    })
}

#[test]
fn paper_double_well_histogram_matches_peq() {
    let run = paper_run();
    // The hopping between the wells sets tau; about 0.1 s here (barrier 2, D = 10).
    assert!(run.tau > 0.01 && run.tau < 1.0, "tau = {} s", run.tau);
    let mut samples: Vec<f64> = run
        .paths
        .iter()
        .flat_map(|p| p.x[..p.x.len() - 1].iter().copied())
        .collect();
    assert!(samples.iter().all(|x| (-1.0..=1.0).contains(x)));
    let (_, _, cdf) = reference_density(&Potential::paper_double_well(), -1.0, 1.0, 20_000);
    let n_eff = run.seconds / (2.0 * run.tau);
    let d = ks_distance(&mut samples, -1.0, 1.0, &cdf);
    let crit = ks_critical(n_eff);
    assert!(
        d < crit,
        "KS distance {d:.4} >= {crit:.4} (N_eff = {n_eff:.0}, tau = {:.3} s)",
        run.tau
    );
    // The test has power: a flat density, or the double well with depth 1.5, is rejected.
    let (_, _, flat) = reference_density(&Potential::uniform(), -1.0, 1.0, 20_000);
    assert!(ks_distance(&mut samples, -1.0, 1.0, &flat) > 3.0 * crit);
    let shallower = Potential::DoubleWell {
        xmax: 0.0,
        xmin: 0.6,
        depth: 1.5,
        tilt: 0.0,
    };
    let (_, _, other) = reference_density(&shallower, -1.0, 1.0, 20_000);
    assert!(ks_distance(&mut samples, -1.0, 1.0, &other) > crit);
}

#[test]
fn paper_mean_rate_is_integral_of_peq_f() {
    let run = paper_run();
    let f = TuningCurve::paper();
    let (x, dens, _) = reference_density(&Potential::paper_double_well(), -1.0, 1.0, 20_000);
    let h = x[1] - x[0];
    let integral = |g: &dyn Fn(usize) -> f64| {
        (0..x.len())
            .map(|i| {
                if i == 0 || i == x.len() - 1 {
                    0.5 * g(i)
                } else {
                    g(i)
                }
            })
            .sum::<f64>()
            * h
    };
    let mean_f = integral(&|i| dens[i] * f.rate(x[i]));
    let var_f = integral(&|i| dens[i] * (f.rate(x[i]) - mean_f).powi(2));
    let sim = Simulator::new(SimulationConfig::paper()).unwrap();
    assert!((sim.expected_rate() - mean_f).abs() < 1e-6 * mean_f);
    // The count N over time T is Poisson given the path, with mean int f(x(t)) dt:
    // Var N = E N + Var int f dt ~ mean_f T + 2 tau var_f T (tau: correlation time of x, and f
    // is linear in x except below x = -0.99).
    let t = run.seconds;
    let sd = (mean_f * t + 2.0 * run.tau * var_f * t).sqrt() / t;
    let rate = run.spikes as f64 / t;
    assert!(
        (rate - mean_f).abs() < Z_CRIT * sd,
        "rate {rate:.3} Hz vs int peq f = {mean_f:.3} Hz (sd {sd:.3} Hz)"
    );
}

#[test]
fn constant_rate_isis_are_exponential() {
    let rate = 50.0;
    let config = SimulationConfig {
        potential: Potential::uniform(),
        neurons: vec![TuningCurve::constant(rate)],
        ..SimulationConfig::paper()
    };
    let out = Simulator::new(config)
        .unwrap()
        .run(Amount::Seconds(400.0), TrialLength::Fixed(20.0), 3)
        .unwrap();
    // Intervals between consecutive spikes of a trial (the first, from the trial start, is
    // also Exp(rate) by memorylessness; the last, to the trial end, is censored).
    let mut isi: Vec<f64> = out
        .data
        .trials()
        .iter()
        .flat_map(|t| t.isi()[..t.isi().len() - 1].to_vec())
        .collect();
    let n = isi.len() as f64;
    // About 20,000 spikes: n within Poisson error of 400 s x 50 Hz.
    assert!(
        (n - 20_000.0).abs() < Z_CRIT * 20_000f64.sqrt(),
        "{n} spikes"
    );
    isi.sort_by(f64::total_cmp);
    let d = isi
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = 1.0 - (-rate * v).exp();
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max);
    assert!(d < ks_critical(n), "KS distance {d:.4} (n = {n})");
    // Power: Exp(1.05 rate) is rejected.
    let d_other = isi
        .iter()
        .enumerate()
        .map(|(i, &v)| ((1.0 - (-1.05 * rate * v).exp()) - i as f64 / n).abs())
        .fold(0.0, f64::max);
    assert!(d_other > ks_critical(n));
}

/// Checks the mean exit time of free diffusion from (a, b) started at x0,
/// E T = (x0 - a)(b - x0) / (2 D), against `trials` simulated trials.
fn check_exit_time(a: f64, b: f64, x0: f64, d: f64, trials: u64, seed: u64) {
    let config = SimulationConfig {
        potential: Potential::uniform(),
        initial: InitialState::Point { x: x0 },
        d,
        boundary: BoundaryMode::Absorbing,
        xbegin: a,
        xend: b,
        neurons: vec![TuningCurve::constant(0.0)],
        ..SimulationConfig::paper()
    };
    let expected = (x0 - a) * (b - x0) / (2.0 * d);
    let sim = Simulator::new(config).unwrap();
    // Trials long enough (100 mean exit times) that none is censored: the survival beyond
    // t decays like exp(-D pi^2 t / (b - a)^2), below 1e-30 at 100 E T here.
    let samples = sim
        .samples(
            Amount::Trials(trials),
            TrialLength::Fixed(100.0 * expected),
            seed,
        )
        .unwrap();
    assert!(samples.iter().all(|s| s.absorbed && !s.censored));
    let t: Vec<f64> = samples.iter().map(|s| s.duration).collect();
    let n = t.len() as f64;
    let mean = t.iter().sum::<f64>() / n;
    let var = t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // Trials are independent: the sample mean has sd sqrt(var / n).
    let sd = (var / n).sqrt();
    assert!(
        (mean - expected).abs() < Z_CRIT * sd,
        "[{a}, {b}] from {x0}, D = {d}: mean exit time {mean:.5} s vs {expected:.5} s \
         (sd {sd:.2e})"
    );
    // Power: the test resolves the mean exit time to better than 3 %.
    assert!(Z_CRIT * sd < 0.03 * expected, "sd {sd:.2e}");
}

#[test]
fn free_particle_mean_exit_time() {
    check_exit_time(-1.0, 1.0, 0.3, 10.0, 40_000, 5);
    check_exit_time(0.0, 1.0, 0.2, 1.0, 40_000, 6);
}

/// Positions of the local minima of Phi on a grid of spacing 1e-4 over [-1, 1].
fn minima_of(p: &Potential) -> Vec<f64> {
    let n = 20_000;
    let x: Vec<f64> = (0..=n).map(|i| -1.0 + 2.0 * i as f64 / n as f64).collect();
    let phi: Vec<f64> = x.iter().map(|&v| p.phi(v)).collect();
    (1..n)
        .filter(|&i| phi[i] < phi[i - 1] && phi[i] <= phi[i + 1])
        .map(|i| x[i])
        .collect()
}

/// Simulates 500 s of the potential (reflecting, D = 10, path every 1 ms) and checks that the
/// histogram's mode in each basin (between consecutive maxima of Phi) is within two bins of
/// the well, with bins of width 0.05 centred on multiples of 0.05.
fn check_histogram_modes(p: Potential, wells: &[f64], barriers: &[f64], seed: u64) {
    let config = SimulationConfig {
        potential: p,
        latent_stride: Some(10),
        ..SimulationConfig::paper()
    };
    let out = Simulator::new(config)
        .unwrap()
        .run(Amount::Trials(10), TrialLength::Fixed(50.0), seed)
        .unwrap();
    let width = 0.05;
    let bins = 41;
    let mut counts = vec![0.0f64; bins];
    for path in &out.latent {
        for &x in &path.x[..path.x.len() - 1] {
            counts[((x + 1.0) / width).round() as usize] += 1.0;
        }
    }
    // The end bins cover half a width.
    counts[0] *= 2.0;
    counts[bins - 1] *= 2.0;
    let center = |j: usize| -1.0 + width * j as f64;
    let mut edges = vec![-1.0];
    edges.extend_from_slice(barriers);
    edges.push(1.0);
    for (k, well) in wells.iter().enumerate() {
        let mode = (0..bins)
            .filter(|&j| center(j) > edges[k] && center(j) < edges[k + 1])
            .max_by(|&i, &j| counts[i].total_cmp(&counts[j]))
            .unwrap();
        assert!(
            (center(mode) - well).abs() <= 2.0 * width + 1e-9,
            "the mode of basin {k} is at {:.2}, the well at {well}",
            center(mode)
        );
    }
    // And the barriers are valleys of the histogram: below both neighbouring modes.
    for (k, barrier) in barriers.iter().enumerate() {
        let at = |x: f64| counts[((x + 1.0) / width).round() as usize];
        assert!(at(*barrier) < at(wells[k]) && at(*barrier) < at(wells[k + 1]));
    }
}

#[test]
fn triple_well_minima_where_defined() {
    let p = Potential::triple_well();
    let wells = [-0.6, 0.0, 0.6];
    let found = minima_of(&p);
    assert_eq!(found.len(), 3, "minima {found:?}");
    for (f, w) in found.iter().zip(wells) {
        assert!((f - w).abs() < 1e-9, "minimum at {f}, defined at {w}");
        assert!(p.force(w).abs() < 1e-12);
    }
    check_histogram_modes(p, &wells, &[-0.3, 0.3], 21);
}

#[test]
fn four_well_minima_where_defined() {
    let p = Potential::four_well();
    let wells = [-0.75, -0.25, 0.25, 0.75];
    let found = minima_of(&p);
    assert_eq!(found.len(), 4, "minima {found:?}");
    for (f, w) in found.iter().zip(wells) {
        assert!((f - w).abs() < 1e-9, "minimum at {f}, defined at {w}");
        assert!(p.force(w).abs() < 1e-12);
    }
    check_histogram_modes(p, &wells, &[-0.5, 0.0, 0.5], 22);
}
