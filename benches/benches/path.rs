//! Criterion group `path`: the cost of following the descent path on the paper setting (the
//! original's 9,857-spike benchmark trial, 256 x 8 grid, 64 modes, per-spike F rate 0.005,
//! from the paper's cos^2 start), for plain gradient descent and the RKC path method:
//! wall time to reach the feature complexity gradient descent reaches at iteration 2,000.
//! The gradient evaluations each method needs are printed once at the start (they do not
//! vary between runs).

use criterion::{Criterion, criterion_group, criterion_main};
use latentflow_benches::{paper_data, paper_grid};
use latentflow_likelihood::{Model, ModelParts};
use latentflow_optim::{Fit, FitConfig, Method, Params, Rkc, SpikeProblem};
use latentflow_spectral::{BandedSolver, BoundaryMode, GridSpec};
use latentflow_synth::{Potential, TuningCurve};

/// Iterations of gradient descent that set the target feature complexity.
const ITERATIONS: u64 = 2_000;

fn new_fit(method: Method) -> Fit<SpikeProblem> {
    let grid = paper_grid();
    let start = Model::new(
        grid.clone(),
        ModelParts {
            boundary: BoundaryMode::Reflecting,
            peq: Potential::cos_squared().peq(grid.x(), grid.w()).unwrap(),
            p0: None,
            d: 10.0,
            rates: vec![TuningCurve::paper().rates_on(grid.x())],
        },
    )
    .unwrap();
    let problem = SpikeProblem::new(
        grid.clone(),
        BoundaryMode::Reflecting,
        paper_data(),
        None,
        64,
        Box::new(BandedSolver::default()),
    );
    let config = FitConfig {
        iterations: 100 * ITERATIONS,
        method,
        ..FitConfig::default()
    };
    let params = Params::from_model(&start, false).unwrap();
    let spec = GridSpec::of(&grid);
    Fit::new(problem, params, config, spec, BoundaryMode::Reflecting, 64).unwrap()
}

/// Runs a fit until its feature complexity reaches `target`: (iteration, evaluations).
fn reach(method: Method, target: f64) -> (u64, u64) {
    let mut fit = new_fit(method);
    loop {
        let r = fit.step().unwrap();
        if r.feature_complexity >= target {
            return (r.iteration, r.evaluations);
        }
    }
}

fn path(c: &mut Criterion) {
    let mut gd = new_fit(Method::GradientDescent);
    fit_to(&mut gd, ITERATIONS);
    let target = gd.path().records.last().unwrap().feature_complexity;
    let rkc = Method::Rkc(Rkc::default());
    let (gd_at, gd_evals) = reach(Method::GradientDescent, target);
    let (rkc_at, rkc_evals) = reach(rkc, target);
    eprintln!(
        "path: feature complexity {target:.3}: gradient descent at iteration {gd_at} after \
         {gd_evals} evaluations, RKC at {rkc_at} after {rkc_evals}"
    );
    let mut group = c.benchmark_group("path");
    group.sample_size(10);
    group.bench_function("gradient_descent_to_fc", |b| {
        b.iter(|| reach(Method::GradientDescent, target))
    });
    group.bench_function("rkc_to_fc", |b| b.iter(|| reach(rkc, target)));
    group.finish();
}

fn fit_to(fit: &mut Fit<SpikeProblem>, iterations: u64) {
    while fit.state().iteration < iterations {
        fit.step().unwrap();
    }
}

criterion_group!(benches, path);
criterion_main!(benches);
