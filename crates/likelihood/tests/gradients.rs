//! Every gradient of -log L (F, D, F0, Fr, C) against central finite differences of -log L
//! itself, along random smooth directions, in both boundary modes (docs/method.md §4).
//!
//! Each parameter is perturbed in exactly the parametrisation the gradient refers to:
//! F -> F + h dF with peq = `peq_from_force` (re-normalised; p0 = peq moves with F in the
//! equilibrium model, p0 stays fixed otherwise); F0 -> F0 + h dF0 with p0 = `peq_from_force(F0)`
//! and peq fixed; Fr_n -> Fr_n + h dFr_n with f_n = `rate_from_fr(Fr_n, C_n)` and C_n fixed;
//! D -> D (1 + h); C_n -> C_n (1 + h r_n) with Fr fixed. The functional gradients predict
//! d(-log L)/dh = sum_i w_i grad[i] dir[i].
//!
//! Finite differences: the 4-point central stencil
//! f'(0) ~ [8 (f(h) - f(-h)) - (f(2h) - f(-2h))] / (12 h), truncation error h^4 |f^(5)| / 30,
//! round-off 1.5 e_f / h where e_f is the noise of one evaluation of -log L (a dense eigen solve
//! plus the passes: about 1e-13 |-log L| on these small grids). With max |dir| = 1 (relative
//! steps for D and C) the derivatives f^(k) are O(|-log L|), so h = 1e-3 balances the two at
//! ~1e-10 |-log L|, far below the 1e-6 asked of the analytic gradients.
//!
//! Error measure: |analytic - fd| / sum_i w_i |grad_i dir_i| (the README's
//! `err_over_abs_integrand`), which is at least as strict as |analytic - fd| / |fd| whenever
//! the directional derivative does not cancel, and is not inflated when it happens to (a random
//! direction can make the sum of a non-small integrand nearly vanish).

use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{
    GradRequest, Gradients, Likelihood, Model, ModelParts, peq_from_force, rate_from_fr,
};
use latentflow_spectral::{BoundaryMode, DenseSolver, Grid};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// FD step (see the module comment).
const H: f64 = 1e-3;
/// Required agreement of every gradient with its finite difference, with all modes kept.
///
/// The gradients are the continuum formulas of docs/method.md §4 evaluated on the grid, so they
/// are the derivative of the discrete -log L only up to the discretisation error: grids must
/// resolve the model. With the random models below (|F| up to 8), ne = 8, np = 6 (N = 41)
/// gave a grad-F error of 3e-6 in one case that falls to 2e-9 on ne = 12, np = 8, and
/// ne = 10, np = 7 still gave 3e-6 for an absorbing non-equilibrium case (p0 does not vanish
/// at the absorbing ends), so the property tests use ne 10-12 with np = 8 (N = 71-89) for
/// reflecting ends; with absorbing ends rho0 = p0 / sqrt(peq) does not vanish at the ends and
/// ne 10-12 still gave grad-F errors up to 6e-6, so those use ne 18-20 (N = 127-141).
const TOL: f64 = 1e-6;

/// Parameters in the gradients' own parametrisation.
#[derive(Debug, Clone)]
struct Params {
    force: Vec<f64>,
    /// `None`: equilibrium model (p0 = peq).
    force0: Option<Vec<f64>>,
    d: f64,
    fr: Vec<Vec<f64>>,
    c: Vec<f64>,
}

impl Params {
    fn model(&self, grid: &Arc<Grid>, boundary: BoundaryMode) -> Model {
        let rates = self
            .fr
            .iter()
            .zip(&self.c)
            .map(|(fr, &c)| rate_from_fr(grid, fr, c).unwrap())
            .collect();
        Model::new(
            grid.clone(),
            ModelParts {
                boundary,
                peq: peq_from_force(grid, &self.force).unwrap(),
                p0: self
                    .force0
                    .as_ref()
                    .map(|f0| peq_from_force(grid, f0).unwrap()),
                d: self.d,
                rates,
            },
        )
        .unwrap()
    }
}

struct Problem {
    grid: Arc<Grid>,
    boundary: BoundaryMode,
    nv: usize,
    data: SpikeData,
}

impl Problem {
    fn nll(&self, p: &Params) -> f64 {
        let lik =
            Likelihood::new(&p.model(&self.grid, self.boundary), self.nv, &DenseSolver).unwrap();
        lik.neg_loglik(&self.data).unwrap()
    }

    fn grads(&self, p: &Params, nv: usize) -> Gradients {
        let lik = Likelihood::new(&p.model(&self.grid, self.boundary), nv, &DenseSolver).unwrap();
        let request = GradRequest {
            force0: p.force0.is_some(),
            ..GradRequest::ALL
        };
        lik.neg_loglik_and_grad(&self.data, request).unwrap().1
    }

    /// 4-point central difference of -log L along `step(p, h)`.
    fn fd(&self, p: &Params, step: impl Fn(&mut Params, f64)) -> f64 {
        let at = |h: f64| {
            let mut q = p.clone();
            step(&mut q, h);
            self.nll(&q)
        };
        (8.0 * (at(H) - at(-H)) - (at(2.0 * H) - at(-2.0 * H))) / (12.0 * H)
    }
}

/// A random smooth direction on the nodes: a few low-order cosine/sine modes, max |dir| = 1.
fn smooth_direction(grid: &Grid, rng: &mut StdRng) -> Vec<f64> {
    let (a, b) = (grid.xbegin(), grid.xend());
    let coef: Vec<(f64, f64)> = (0..4)
        .map(|_| (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
        .collect();
    let dir: Vec<f64> = grid
        .x()
        .iter()
        .map(|&x| {
            let t = std::f64::consts::PI * (x - a) / (b - a);
            coef.iter()
                .enumerate()
                .map(|(k, (c, s))| c * (k as f64 * t).cos() + s * ((k + 1) as f64 * t).sin())
                .sum()
        })
        .collect();
    let top = dir.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    dir.iter().map(|v| v / top).collect()
}

/// A few short trials of a few spikes of `neurons` neurons, each ending in a silent tail; in
/// absorbing mode the last trial is marked censored when `censor_last`.
fn random_data(rng: &mut StdRng, neurons: u32, trials: usize, censor_last: bool) -> SpikeData {
    let trials = (0..trials)
        .map(|t| {
            let spikes = rng.random_range(1..6usize);
            let mut isi: Vec<f64> = (0..=spikes)
                .map(|_| -0.05 * (1.0 - rng.random::<f64>()).ln())
                .collect();
            isi[0] += 1e-3;
            let mut neuron: Vec<Option<u32>> = (0..spikes)
                .map(|_| Some(rng.random_range(0..neurons)))
                .collect();
            neuron.push(None);
            let trial = Trial::new(isi, neuron).unwrap();
            trial.with_censored(censor_last && t + 1 == trials)
        })
        .collect();
    SpikeData::new(neurons as usize, trials).unwrap()
}

/// A random model on `grid`: smooth force, D, two neurons with smooth log-rates.
fn random_params(grid: &Grid, rng: &mut StdRng, equilibrium: bool) -> Params {
    let x = grid.x();
    let (a1, a3, s) = (
        rng.random_range(-3.0..3.0),
        rng.random_range(-3.0..3.0),
        rng.random_range(-2.0..2.0),
    );
    let force = x
        .iter()
        .map(|&x| a1 * x + a3 * x.powi(3) + s * (std::f64::consts::PI * x).sin())
        .collect();
    let force0 = (!equilibrium).then(|| {
        let (x0, k) = (rng.random_range(-0.3..0.3), rng.random_range(2.0..8.0));
        x.iter().map(|&x| -k * (x - x0)).collect()
    });
    let fr = (0..2)
        .map(|_| {
            let (m, q) = (rng.random_range(-1.5..1.5), rng.random_range(-1.0..1.0));
            x.iter()
                .map(|&x| m + q * (std::f64::consts::PI * x).cos())
                .collect()
        })
        .collect();
    Params {
        force,
        force0,
        d: rng.random_range(0.3..3.0),
        fr,
        c: vec![rng.random_range(5.0..40.0), rng.random_range(5.0..40.0)],
    }
}

/// sum_i w_i a_i b_i and sum_i w_i |a_i b_i|.
fn weighted(grid: &Grid, a: &[f64], b: &[f64]) -> (f64, f64) {
    grid.w()
        .iter()
        .zip(a.iter().zip(b))
        .fold((0.0, 0.0), |(s, t), (w, (x, y))| {
            (s + w * x * y, t + w * (x * y).abs())
        })
}

fn add_scaled(x: &mut [f64], h: f64, dir: &[f64]) {
    x.iter_mut().zip(dir).for_each(|(v, d)| *v += h * d);
}

/// (analytic, fd, scale) for every gradient the model has, along random directions.
fn all_checks(problem: &Problem, p: &Params, rng: &mut StdRng) -> Vec<(&'static str, f64)> {
    let grid = &problem.grid;
    let g = problem.grads(p, problem.nv);
    let mut errs = Vec::new();
    // A finite difference resolves a derivative only to about e_f / H, e_f ~ 1e-12 |-log L|
    // the noise of one evaluation: 1e-9 |-log L| here. A derivative that is itself that small
    // relative to -log L (D's can nearly vanish: measured 1e-5 against -log L ~ 10, where the
    // FD scatters by 1e-9 with the grid while the analytic value holds 8 digits) is compared
    // on that floor instead of its own size.
    let floor = 1e-9 * problem.nll(p).abs() / TOL;
    let mut push = |name, analytic: f64, fd: f64, scale: f64| {
        errs.push((name, (analytic - fd).abs() / scale.max(floor)));
    };

    let dir = smooth_direction(grid, rng);
    let (an, sc) = weighted(grid, g.force.as_ref().unwrap(), &dir);
    let fd = problem.fd(p, |q, h| add_scaled(&mut q.force, h, &dir));
    push("F", an, fd, sc);

    // D's scale: the sum of the per-trial |d(-log L_t)/d log D|, so that cancellation between
    // trials does not inflate the relative error.
    let an = g.d.unwrap() * p.d;
    let d_scale: f64 = (0..problem.data.num_trials())
        .map(|t| {
            let one = Problem {
                grid: grid.clone(),
                boundary: problem.boundary,
                nv: problem.nv,
                data: problem.data.subset(&[t]).unwrap(),
            };
            (one.grads(p, problem.nv).d.unwrap() * p.d).abs()
        })
        .sum();
    let fd = problem.fd(p, |q, h| q.d *= 1.0 + h);
    push("D", an, fd, d_scale);

    if p.force0.is_some() {
        let dir = smooth_direction(grid, rng);
        let (an, sc) = weighted(grid, g.force0.as_ref().unwrap(), &dir);
        let fd = problem.fd(p, |q, h| add_scaled(q.force0.as_mut().unwrap(), h, &dir));
        push("F0", an, fd, sc);
    }

    let dirs: Vec<Vec<f64>> = p.fr.iter().map(|_| smooth_direction(grid, rng)).collect();
    let (mut an, mut sc) = (0.0, 0.0);
    for (gn, dn) in g.fr.as_ref().unwrap().iter().zip(&dirs) {
        let (a, s) = weighted(grid, gn, dn);
        an += a;
        sc += s;
    }
    let fd = problem.fd(p, |q, h| {
        for (fr, dn) in q.fr.iter_mut().zip(&dirs) {
            add_scaled(fr, h, dn);
        }
    });
    push("Fr", an, fd, sc);

    let r: Vec<f64> = p.c.iter().map(|_| rng.random_range(-1.0..1.0)).collect();
    let terms: Vec<f64> = (0..p.c.len())
        .map(|n| g.c.as_ref().unwrap()[n] * p.c[n] * r[n])
        .collect();
    let fd = problem.fd(p, |q, h| {
        for (c, rn) in q.c.iter_mut().zip(&r) {
            *c *= 1.0 + h * rn;
        }
    });
    push(
        "C",
        terms.iter().sum(),
        fd,
        terms.iter().map(|t| t.abs()).sum(),
    );
    errs
}

fn check_full_basis(
    boundary: BoundaryMode,
    ne: usize,
    np: usize,
    equilibrium: bool,
    seed: u64,
) -> Result<(), TestCaseError> {
    let grid = Arc::new(Grid::new(-1.0, 1.0, ne, np).unwrap());
    let mut rng = StdRng::seed_from_u64(seed);
    let p = random_params(&grid, &mut rng, equilibrium);
    let trials = rng.random_range(1..4usize);
    let censor_last = boundary == BoundaryMode::Absorbing && rng.random::<bool>();
    let data = random_data(&mut rng, 2, trials, censor_last);
    let problem = Problem {
        nv: grid.n() - 2,
        grid,
        boundary,
        data,
    };
    for (name, err) in all_checks(&problem, &p, &mut rng) {
        prop_assert!(
            err < TOL,
            "{boundary:?}, eq {equilibrium}, seed {seed}: grad {name} error {err:e}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn gradients_match_finite_differences_reflecting(
        ne in 10usize..=12, np in 8usize..=8, equilibrium: bool, seed: u64,
    ) {
        check_full_basis(BoundaryMode::Reflecting, ne, np, equilibrium, seed)?;
    }

    #[test]
    fn gradients_match_finite_differences_absorbing(
        ne in 18usize..=20, np in 8usize..=8, equilibrium: bool, seed: u64,
    ) {
        check_full_basis(BoundaryMode::Absorbing, ne, np, equilibrium, seed)?;
    }
}

/// Which quantity the F gradient is with a truncated basis (fixtures/README.md): the
/// continuum formula of docs/method.md §4 written in the kept eigenmodes. It is *not* the
/// derivative of the truncated -log L, because the formula does not differentiate the
/// truncation (the kept subspace moves with F): the gap is a truncation error, large for few
/// modes, shrinking as modes are added, and gone (< TOL) with all modes. Fr and C do not move
/// the H0 basis, so their gradients stay exact derivatives of the truncated -log L.
#[test]
fn truncated_basis_f_gradient_is_the_continuum_formula() {
    let grid = Arc::new(Grid::new(-1.0, 1.0, 12, 8).unwrap());
    let mut rng = StdRng::seed_from_u64(11);
    let p = random_params(&grid, &mut rng, true);
    let data = random_data(&mut rng, 2, 3, false);
    let full = grid.n() - 2;
    let mut gaps = Vec::new();
    for nv in [8, 16, 32, full] {
        let problem = Problem {
            grid: grid.clone(),
            boundary: BoundaryMode::Reflecting,
            nv,
            data: data.clone(),
        };
        let mut dir_rng = StdRng::seed_from_u64(5);
        let errs = all_checks(&problem, &p, &mut dir_rng);
        for (name, err) in &errs {
            if *name == "Fr" || *name == "C" {
                assert!(err < &TOL, "nv {nv}: grad {name} error {err:e}");
            }
        }
        gaps.push(errs.iter().find(|(n, _)| *n == "F").unwrap().1);
    }
    // Measured: the gap at nv = 8 is ~1e-3 here (1e-4 to 1e-2 over other seeds).
    assert!(gaps[0] > 100.0 * TOL, "nv 8: F gap {:e}", gaps[0]);
    assert!(
        gaps.windows(2).all(|w| w[1] < 0.5 * w[0]),
        "the F gap must shrink as modes are added: {gaps:?}"
    );
    assert!(gaps[3] < TOL, "all modes: F gap {:e}", gaps[3]);
}
