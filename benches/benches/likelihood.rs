//! Criterion group `likelihood`: the paper setting (double well, D = 10, one neuron,
//! ne = 256, np = 8, nv = 64) on the original package's 10,000-spike data; and one epoch of a
//! three-condition decision task.

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use latentflow_benches::{decision_3c, paper_data, paper_grid, paper_model};
use latentflow_likelihood::{ConditionLikelihoods, GradRequest, Likelihood};
use latentflow_spectral::{BandedSolver, BoundaryMode};

fn likelihood(c: &mut Criterion) {
    let grid = paper_grid();
    let data = paper_data();
    let solver = BandedSolver::default();
    let model = paper_model(&grid, BoundaryMode::Reflecting);
    let setup = Likelihood::new(&model, 64, &solver).unwrap();
    // One gradient step's worth of change in F, as the fit loop makes.
    let (_, g) = setup
        .neg_loglik_and_grad(&data, GradRequest::FORCE)
        .unwrap();
    let force: Vec<f64> = model
        .force()
        .iter()
        .zip(g.force.unwrap())
        .map(|(f, g)| f - 1e-5 * g)
        .collect();
    let stepped = model
        .with_peq(latentflow_likelihood::peq_from_force(&grid, &force).unwrap())
        .unwrap();
    let request = GradRequest {
        force: true,
        d: true,
        ..GradRequest::default()
    };

    let mut group = c.benchmark_group("likelihood");
    group.sample_size(20);
    group.bench_function("loglik_grad_paper", |b| {
        b.iter(|| {
            let lik = Likelihood::with_warm_start(&stepped, 64, &solver, setup.modes()).unwrap();
            lik.neg_loglik_and_grad(&data, request).unwrap()
        })
    });
    group.bench_function("loglik_paper", |b| {
        b.iter(|| setup.neg_loglik(&data).unwrap())
    });
    // The pieces of loglik_grad_paper: the warm-started set-up, and the passes given it.
    group.bench_function("setup_warm_paper", |b| {
        b.iter(|| Likelihood::with_warm_start(&stepped, 64, &solver, setup.modes()).unwrap())
    });
    group.bench_function("grad_given_setup_paper", |b| {
        b.iter(|| setup.neg_loglik_and_grad(&data, request).unwrap())
    });
    group.bench_function("setup_cold_paper", |b| {
        b.iter(|| Likelihood::new(&model, 64, &solver).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("likelihood");
    // Seconds per iteration: criterion's minimum of 10 samples, one iteration each (the
    // default linear sampling would run 1 + 2 + ... + 10 = 55 iterations).
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("iteration_absorbing_full", |b| {
        // Set up here so that filtering this id out skips the expensive set-up too.
        let absorbing = paper_model(&grid, BoundaryMode::Absorbing);
        let full = grid.n() - 2;
        let abs_setup = Likelihood::new(&absorbing, full, &solver).unwrap();
        b.iter(|| {
            let lik =
                Likelihood::with_warm_start(&absorbing, full, &solver, abs_setup.modes()).unwrap();
            lik.neg_loglik_and_grad(&data, request).unwrap()
        })
    });
    group.finish();
}

/// One epoch of a decision-task fit (docs/performance.md): every condition's set-up and the
/// -log L with the F, F0 and D gradients on all trials (`fixtures/bench/decision_3c.json`).
fn conditions(c: &mut Criterion) {
    let (models, data, nv) = decision_3c();
    let solver = BandedSolver::default();
    let request = GradRequest {
        force: true,
        d: true,
        force0: true,
        ..GradRequest::default()
    };
    let mut group = c.benchmark_group("likelihood");
    group.sample_size(10);
    group.bench_function("epoch_decision_3c", |b| {
        b.iter(|| {
            ConditionLikelihoods::new(&models, nv, &solver)
                .unwrap()
                .neg_loglik_and_grad(&data, request)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, likelihood, conditions);
criterion_main!(benches);
