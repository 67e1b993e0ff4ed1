//! Criterion group `fit`: what the fit loop adds to the likelihood. `step_paper` is one
//! gradient-descent iteration of `Fit::step` on the paper setting (warm-started setup, forward
//! and backward passes, F gradient, feature complexity, path bookkeeping, update);
//! `likelihood_only` is the same work done directly with the likelihood crate. Their ratio is
//! the loop's overhead (target < 10%). Both take steps of learning rate 1e-6 from the ground
//! truth, so that every iteration does the same work (thousands of paper-rate steps would move
//! the model along the whole fit path while criterion samples).

use criterion::{Criterion, criterion_group, criterion_main};
use latentflow_benches::{paper_data, paper_grid, paper_model};
use latentflow_likelihood::{GradRequest, Likelihood};
use latentflow_optim::{Fit, FitConfig, LearningRates, Params, SaveSchedule, SpikeProblem};
use latentflow_spectral::{BandedSolver, BoundaryMode, GridSpec};

/// Learning rate of both benches.
const LR: f64 = 1e-6;

fn fit(c: &mut Criterion) {
    let grid = paper_grid();
    let data = paper_data();
    let model = paper_model(&grid, BoundaryMode::Reflecting);
    let solver = BandedSolver::default();
    let mut group = c.benchmark_group("fit");
    group.sample_size(30);

    let problem = SpikeProblem::new(
        grid.clone(),
        BoundaryMode::Reflecting,
        data.clone(),
        None,
        64,
        Box::new(BandedSolver::default()),
    );
    let config = FitConfig {
        iterations: u64::MAX,
        learning_rates: LearningRates {
            force: LR,
            ..LearningRates::paper()
        },
        save: SaveSchedule::default(),
        ..FitConfig::default()
    };
    let params = Params::from_model(&model, false).unwrap();
    let spec = GridSpec::of(&grid);
    let mut fit = Fit::new(problem, params, config, spec, BoundaryMode::Reflecting, 64).unwrap();
    fit.step().unwrap();
    group.bench_function("step_paper", |b| b.iter(|| fit.step().unwrap()));

    // The likelihood work of one iteration alone: warm-started setup and F gradient.
    let mut prev = Likelihood::new(&model, 64, &solver).unwrap();
    let (_, g) = prev.neg_loglik_and_grad(&data, GradRequest::FORCE).unwrap();
    let mut force = model.force();
    let mut grad = g.force.unwrap();
    group.bench_function("likelihood_only", |b| {
        b.iter(|| {
            force.iter_mut().zip(&grad).for_each(|(f, g)| *f -= LR * g);
            let m = model
                .with_peq(latentflow_likelihood::peq_from_force(&grid, &force).unwrap())
                .unwrap();
            let next = Likelihood::with_warm_start(&m, 64, &solver, prev.modes()).unwrap();
            let (_, g) = next.neg_loglik_and_grad(&data, GradRequest::FORCE).unwrap();
            grad = g.force.unwrap();
            prev = next;
        })
    });
    group.finish();
}

criterion_group!(benches, fit);
criterion_main!(benches);
