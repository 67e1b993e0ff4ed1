//! Structural properties of -log L: additivity over trials, trial order, thread count, and
//! finite values for extreme but valid inputs.
//!
//! What the code promises (src/gradient.rs): each trial is evaluated independently and the
//! per-trial results are summed in trial-index order (`neg_loglik`: one by one;
//! `neg_loglik_and_grad`: in units of 4 trials, units in index order), so the result has the
//! same bits whatever the number of threads. A different trial order changes only the order
//! of a floating-point sum: the per-trial values are bit-identical, permuted, and totals agree
//! to a few ulps per trial, i.e. far below the 1e-12 relative asked here.

use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{
    GradRequest, Gradients, Likelihood, Model, ModelParts, peq_from_force, rate_from_fr,
};
use latentflow_spectral::dense::{Mat, sym_eigen};
use latentflow_spectral::{
    BandedSolver, BoundaryMode, DenseSolver, EigenSolver, FokkerPlanck, Grid,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Totals summed in a different order: n trials of O(|total|) terms, each sum rounding
/// at most n eps |terms|, stays below 1e-12 relative for the trial counts used here.
const SUM_ORDER_TOL: f64 = 1e-12;

const BOTH: [BoundaryMode; 2] = [BoundaryMode::Reflecting, BoundaryMode::Absorbing];

/// A double-well model with two neurons (one increasing, one decreasing rate) on `grid`;
/// non-equilibrium (a narrow p0 at `x = 0.1`) when `p0` is set.
fn model(grid: &Arc<Grid>, boundary: BoundaryMode, p0: bool) -> Model {
    let x = grid.x();
    let force: Vec<f64> = x.iter().map(|&x| -4.0 * x * (x * x - 0.25)).collect();
    let fr_up: Vec<f64> = x.iter().map(|_| 1.5).collect();
    let fr_down: Vec<f64> = x.iter().map(|&x| -1.0 + 0.5 * x).collect();
    let force0: Vec<f64> = x.iter().map(|&x| -6.0 * (x - 0.1)).collect();
    Model::new(
        grid.clone(),
        ModelParts {
            boundary,
            peq: peq_from_force(grid, &force).unwrap(),
            p0: p0.then(|| peq_from_force(grid, &force0).unwrap()),
            d: 1.5,
            rates: vec![
                rate_from_fr(grid, &fr_up, 5.0).unwrap(),
                rate_from_fr(grid, &fr_down, 60.0).unwrap(),
            ],
        },
    )
    .unwrap()
}

/// `trials` random trials of 1..max_spikes spikes (mean interval 20 ms), silent tails.
fn data(seed: u64, trials: usize, max_spikes: usize) -> SpikeData {
    let mut rng = StdRng::seed_from_u64(seed);
    let trials = (0..trials)
        .map(|_| {
            let s = rng.random_range(1..max_spikes);
            let isi = (0..=s)
                .map(|_| -0.02 * (1.0 - rng.random::<f64>()).ln())
                .collect();
            let mut neuron: Vec<Option<u32>> =
                (0..s).map(|_| Some(rng.random_range(0..2))).collect();
            neuron.push(None);
            Trial::new(isi, neuron).unwrap()
        })
        .collect();
    SpikeData::new(2, trials).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// The gradients as one flat vector (all entries present for a non-equilibrium model).
fn flat(g: &Gradients) -> Vec<f64> {
    let mut v = g.force.clone().unwrap();
    v.push(g.d.unwrap());
    v.extend(g.force0.iter().flatten());
    v.extend(g.fr.iter().flatten().flatten());
    v.extend(g.c.iter().flatten());
    v
}

/// max |a - b| / max |b|.
fn rel_max(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn request(m: &Model) -> GradRequest {
    GradRequest {
        force0: m.p0().is_some(),
        ..GradRequest::ALL
    }
}

#[test]
fn neg_loglik_is_additive_over_trials() {
    let grid = Arc::new(Grid::new(-1.0, 1.0, 10, 7).unwrap());
    let d = data(1, 11, 40);
    for boundary in BOTH {
        for p0 in [false, true] {
            let m = model(&grid, boundary, p0);
            let lik = Likelihood::new(&m, 30, &DenseSolver).unwrap();
            let per_trial = lik.neg_loglik_per_trial(&d).unwrap();
            assert_eq!(per_trial.len(), d.num_trials());
            let total = lik.neg_loglik(&d).unwrap();
            // neg_loglik sums the same per-trial values in the same order: same bits.
            assert_eq!(total.to_bits(), per_trial.iter().sum::<f64>().to_bits());
            // Each trial alone gives its per-trial value, bit for bit.
            for (i, v) in per_trial.iter().enumerate() {
                let one = d.subset(&[i]).unwrap();
                assert_eq!(lik.neg_loglik(&one).unwrap().to_bits(), v.to_bits());
            }
            // Two disjoint subsets add up to the total, for -log L and every gradient.
            let (evens, odds): (Vec<usize>, Vec<usize>) =
                (0..d.num_trials()).partition(|i| i % 2 == 0);
            let (a, b) = (d.subset(&evens).unwrap(), d.subset(&odds).unwrap());
            let req = request(&m);
            let (nll, g) = lik.neg_loglik_and_grad(&d, req).unwrap();
            let (nll_a, g_a) = lik.neg_loglik_and_grad(&a, req).unwrap();
            let (nll_b, g_b) = lik.neg_loglik_and_grad(&b, req).unwrap();
            assert!(rel(nll, total) < SUM_ORDER_TOL, "{nll} vs {total}");
            assert!(rel(nll_a + nll_b, total) < SUM_ORDER_TOL);
            let sum: Vec<f64> = flat(&g_a)
                .iter()
                .zip(flat(&g_b))
                .map(|(x, y)| x + y)
                .collect();
            // Each gradient is a sum of per-trial terms passed through the same linear maps;
            // the split only reorders sums of O(max |grad|) terms.
            let err = rel_max(&sum, &flat(&g));
            assert!(
                err < 1e-11,
                "{boundary:?} p0 {p0}: gradient additivity {err:e}"
            );
        }
    }
}

#[test]
fn trial_order_only_permutes_per_trial_values() {
    let grid = Arc::new(Grid::new(-1.0, 1.0, 10, 7).unwrap());
    let d = data(2, 13, 30);
    let reversed: Vec<usize> = (0..d.num_trials()).rev().collect();
    let r = d.subset(&reversed).unwrap();
    for boundary in BOTH {
        let m = model(&grid, boundary, true);
        let lik = Likelihood::new(&m, 30, &DenseSolver).unwrap();
        let fwd = lik.neg_loglik_per_trial(&d).unwrap();
        let mut bwd = lik.neg_loglik_per_trial(&r).unwrap();
        bwd.reverse();
        assert_eq!(bits(&fwd), bits(&bwd), "{boundary:?}: per-trial values");
        let (t1, t2) = (lik.neg_loglik(&d).unwrap(), lik.neg_loglik(&r).unwrap());
        assert!(rel(t1, t2) < SUM_ORDER_TOL, "{t1} vs {t2}");
        let req = request(&m);
        let (n1, g1) = lik.neg_loglik_and_grad(&d, req).unwrap();
        let (n2, g2) = lik.neg_loglik_and_grad(&r, req).unwrap();
        assert!(rel(n1, n2) < SUM_ORDER_TOL);
        let err = rel_max(&flat(&g2), &flat(&g1));
        assert!(
            err < 1e-11,
            "{boundary:?}: gradients after reordering {err:e}"
        );
    }
}

/// Set-up and evaluation inside a rayon pool of `threads` threads.
fn in_pool(
    threads: usize,
    m: &Model,
    nv: usize,
    d: &SpikeData,
    solver: &dyn EigenSolver,
) -> (f64, Vec<f64>, f64, Vec<f64>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let lik = Likelihood::new(m, nv, solver).unwrap();
        let (nll_g, g) = lik.neg_loglik_and_grad(d, request(m)).unwrap();
        (
            lik.neg_loglik(d).unwrap(),
            lik.neg_loglik_per_trial(d).unwrap(),
            nll_g,
            flat(&g),
        )
    })
}

#[test]
fn same_bits_with_one_and_two_threads() {
    // Small: many trials (several work units of 4). Medium: N = 281 with all modes, so the
    // set-up's matrix products (>= 2^24 flops) take faer's parallel path, and trials longer
    // than one chunk (1024 intervals) of the parallel decays and interval sums.
    let small = (
        Arc::new(Grid::new(-1.0, 1.0, 10, 7).unwrap()),
        30,
        data(3, 19, 30),
    );
    let medium_grid = Arc::new(Grid::new(-1.0, 1.0, 40, 8).unwrap());
    let medium = (medium_grid.clone(), medium_grid.n() - 2, data(4, 4, 2600));
    for (grid, nv, d) in [small, medium] {
        for boundary in BOTH {
            let m = model(&grid, boundary, true);
            let one = in_pool(1, &m, nv, &d, &BandedSolver::default());
            let two = in_pool(2, &m, nv, &d, &BandedSolver::default());
            let what = format!("{boundary:?}, N = {}", grid.n());
            assert_eq!(one.0.to_bits(), two.0.to_bits(), "{what}: neg_loglik");
            assert_eq!(bits(&one.1), bits(&two.1), "{what}: per trial");
            assert_eq!(
                one.2.to_bits(),
                two.2.to_bits(),
                "{what}: neg_loglik_and_grad"
            );
            assert_eq!(bits(&one.3), bits(&two.3), "{what}: gradients");
        }
    }
}

#[test]
fn extreme_valid_inputs_give_finite_values() {
    let grid = Arc::new(Grid::new(-1.0, 1.0, 10, 7).unwrap());
    let x = grid.x().to_vec();
    // Rates from 1e-3 Hz to 1e4 Hz: flat at each extreme, and one spanning the whole range
    // (log-linear in x).
    let span = (1e4f64 / 1e-3).ln() / 2.0;
    let rate_sets: Vec<Vec<Vec<f64>>> = vec![
        vec![vec![1e-3; x.len()]],
        vec![vec![1e4; x.len()]],
        vec![x.iter().map(|&x| 1e-3 * (span * (x + 1.0)).exp()).collect()],
    ];
    // Long silent intervals (up to 100 s) and bursts of 1e-4 s intervals.
    let trials = vec![
        Trial::new(vec![100.0], vec![None]).unwrap(),
        Trial::new(
            vec![50.0, 100.0, 0.0, 100.0],
            vec![Some(0), Some(0), Some(0), None],
        )
        .unwrap(),
        Trial::new(
            vec![1e-4; 400],
            (0..400).map(|i| (i < 399).then_some(0)).collect(),
        )
        .unwrap(),
        Trial::new(vec![1e-3, 100.0], vec![Some(0), Some(0)]).unwrap(),
    ];
    let d = SpikeData::new(1, trials).unwrap();
    let force: Vec<f64> = x.iter().map(|&x| -3.0 * x).collect();
    for boundary in BOTH {
        for rates in &rate_sets {
            for p0 in [
                None,
                Some(
                    peq_from_force(&grid, &x.iter().map(|&x| -8.0 * x).collect::<Vec<_>>())
                        .unwrap(),
                ),
            ] {
                let m = Model::new(
                    grid.clone(),
                    ModelParts {
                        boundary,
                        peq: peq_from_force(&grid, &force).unwrap(),
                        p0: p0.clone(),
                        d: 2.0,
                        rates: rates.clone(),
                    },
                )
                .unwrap();
                let lik = Likelihood::new(&m, grid.n() - 2, &DenseSolver).unwrap();
                let what = format!(
                    "{boundary:?}, rate {:e}..{:e}, p0 {}",
                    rates[0][0],
                    rates[0][x.len() - 1],
                    p0.is_some()
                );
                let per = lik.neg_loglik_per_trial(&d).unwrap();
                assert!(per.iter().all(|v| v.is_finite()), "{what}: {per:?}");
                let (nll, g) = lik.neg_loglik_and_grad(&d, request(&m)).unwrap();
                assert!(nll.is_finite(), "{what}: {nll}");
                let v = flat(&g);
                assert!(
                    v.iter().all(|v| v.is_finite()),
                    "{what}: non-finite gradient"
                );
            }
        }
    }
}

/// -log L of one trial by the plain forward recursion in the H0 basis: dense exp(-Hd dt) for
/// every interval (no decay cut, no dark-basis bookkeeping), log-scaled at each step.
/// Reflecting boundaries, equilibrium start.
fn plain_neg_loglik(model: &Model, nv: usize, trial: &Trial) -> f64 {
    let grid = model.grid();
    let w = grid.w();
    let fp = FokkerPlanck::new(grid, model.peq(), model.d(), model.boundary()).unwrap();
    let modes = fp.solve(nv, &DenseSolver, None).unwrap();
    // weighted(g)_kl = sum_i w_i g_i psi_k(x_i) psi_l(x_i); project(g)_k = sum_i w_i g_i psi_k.
    let weighted = |g: &[f64]| {
        Mat::from_col_major(
            nv,
            nv,
            (0..nv * nv)
                .map(|kl| {
                    let (k, l) = (kl % nv, kl / nv);
                    (0..grid.n())
                        .map(|i| w[i] * g[i] * modes.psi.get(i, k) * modes.psi.get(i, l))
                        .sum()
                })
                .collect(),
        )
    };
    let project = |g: &[f64]| -> Vec<f64> {
        (0..nv)
            .map(|k| {
                (0..grid.n())
                    .map(|i| w[i] * g[i] * modes.psi.get(i, k))
                    .sum()
            })
            .collect()
    };
    let f_tot: Vec<f64> = (0..grid.n())
        .map(|i| model.rates().iter().map(|r| r[i]).sum())
        .collect();
    let mut hd = weighted(&f_tot);
    for k in 0..nv {
        hd.set(k, k, hd.get(k, k) + modes.lambda[k]);
    }
    let hd_sym = Mat::from_col_major(
        nv,
        nv,
        (0..nv * nv)
            .map(|kl| 0.5 * (hd.get(kl % nv, kl / nv) + hd.get(kl / nv, kl % nv)))
            .collect(),
    );
    let (mu, v) = sym_eigen(&hd_sym).unwrap();
    let spike_ops: Vec<Mat> = model.rates().iter().map(|r| weighted(r)).collect();
    let sqrt_peq: Vec<f64> = model.peq().iter().map(|p| p.sqrt()).collect();
    let mut a = project(&sqrt_peq);
    let b = a.clone();
    let mut log_c = 0.0;
    let apply = |m: &Mat, x: &[f64]| -> Vec<f64> {
        (0..nv)
            .map(|k| (0..nv).map(|l| m.get(k, l) * x[l]).sum())
            .collect()
    };
    for (&dt, &neuron) in trial.isi().iter().zip(trial.neuron()) {
        // exp(-Hd dt) a = V diag(exp(-mu dt)) V^T a.
        let coef: Vec<f64> = (0..nv)
            .map(|j| (-mu[j] * dt).exp() * (0..nv).map(|k| v.get(k, j) * a[k]).sum::<f64>())
            .collect();
        a = (0..nv)
            .map(|k| (0..nv).map(|j| v.get(k, j) * coef[j]).sum())
            .collect();
        if let Some(n) = neuron {
            a = apply(&spike_ops[n as usize], &a);
        }
        let c = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        a.iter_mut().for_each(|x| *x /= c);
        log_c += c.ln();
    }
    -(log_c + b.iter().zip(&a).map(|(x, y)| x * y).sum::<f64>().ln())
}

#[test]
fn passes_agree_with_a_plain_dense_recursion_on_long_and_short_intervals() {
    // Intervals from 0.2 ms to 3 s: the long ones keep only a few components after the decay
    // cut (components decaying below exp(-46) are dropped), the short ones keep all. Two trials
    // longer than the 1024-interval chunks in which the decays are computed.
    let grid = Arc::new(Grid::new(-1.0, 1.0, 12, 6).unwrap());
    let m = model(&grid, BoundaryMode::Reflecting, false);
    let nv = 30;
    let mut rng = StdRng::seed_from_u64(11);
    let trials: Vec<Trial> = [1500, 2200]
        .iter()
        .map(|&s| {
            let isi = (0..s)
                .map(|_| 10f64.powf(rng.random_range(-3.7..0.5)))
                .collect();
            let mut neuron: Vec<Option<u32>> =
                (1..s).map(|_| Some(rng.random_range(0..2))).collect();
            neuron.push(None);
            Trial::new(isi, neuron).unwrap()
        })
        .collect();
    let lik = Likelihood::new(&m, nv, &DenseSolver).unwrap();
    let data = SpikeData::new(2, trials.clone()).unwrap();
    let per_trial = lik.neg_loglik_per_trial(&data).unwrap();
    let (with_grad, _) = lik.neg_loglik_and_grad(&data, GradRequest::FORCE).unwrap();
    let mut plain_total = 0.0;
    for (t, (trial, got)) in trials.iter().zip(&per_trial).enumerate() {
        let plain = plain_neg_loglik(&m, nv, trial);
        assert!(
            rel(*got, plain) < 1e-10,
            "trial {t}: {got} vs plain {plain}"
        );
        plain_total += plain;
    }
    assert!(
        rel(with_grad, plain_total) < 1e-10,
        "{with_grad} vs {plain_total}"
    );
}
