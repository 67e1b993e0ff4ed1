//! Criterion group `path`: the cost of following the descent path on the paper setting (the
//! original's 9,857-spike benchmark trial, 256 x 8 grid, 64 modes, per-spike F rate 0.005,
//! from the paper's cos^2 start), for plain gradient descent and the RKC path method:
//! wall time to follow the path to iteration 2,000 (the fit's end; an RKC step never passes
//! it), where the model's feature complexity is ~7.35. The gradient evaluations each method
//! needs and the feature complexity each reaches are printed once at the start (they do not
//! vary between runs). (Feature complexity is not monotone along this path — it first falls
//! from the start's — so the path's end, not the first model of a given complexity, is the
//! target.)

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
        iterations: ITERATIONS,
        method,
        ..FitConfig::default()
    };
    let params = Params::from_model(&start, false).unwrap();
    let spec = GridSpec::of(&grid);
    Fit::new(problem, params, config, spec, BoundaryMode::Reflecting, 64).unwrap()
}

/// Runs a fit until the model of its end (iteration 2,000) is evaluated and recorded:
/// (evaluations, feature complexity there).
fn reach(method: Method) -> (u64, f64) {
    let mut fit = new_fit(method);
    let recorded = |f: &Fit<SpikeProblem>| f.path().records.last().map_or(0, |r| r.iteration);
    while fit.path().records.is_empty() || recorded(&fit) < ITERATIONS {
        fit.step().unwrap();
    }
    let end = *fit.path().records.last().unwrap();
    assert_eq!(end.iteration, ITERATIONS);
    (end.evaluations, end.feature_complexity)
}

fn path(c: &mut Criterion) {
    let rkc = Method::Rkc(Rkc::default());
    let (gd_evals, gd_fc) = reach(Method::GradientDescent);
    let (rkc_evals, rkc_fc) = reach(rkc);
    eprintln!(
        "path to iteration {ITERATIONS}: gradient descent {gd_evals} evaluations (feature \
         complexity {gd_fc:.4}), RKC {rkc_evals} (feature complexity {rkc_fc:.4})"
    );
    let mut group = c.benchmark_group("path");
    group.sample_size(10);
    group.bench_function("gradient_descent_to_2000", |b| {
        b.iter(|| reach(Method::GradientDescent))
    });
    group.bench_function("rkc_to_2000", |b| b.iter(|| reach(rkc)));
    group.finish();
}

criterion_group!(benches, path);
criterion_main!(benches);
