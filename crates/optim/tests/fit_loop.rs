//! The fit loop: resume is bit-identical, small steps decrease -log L, Adam and mini-batches
//! work, divergence stops cleanly and keeps the checkpoint.

use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{GradRequest, Model, ModelParts, peq_from_force};
use latentflow_optim::{
    CheckpointConfig, Fit, FitConfig, LearningRates, LineSearch, Method, Minibatch, OptimError,
    Params, SpikeProblem,
};
use latentflow_spectral::{BandedSolver, BoundaryMode, Grid};

const GRID: (f64, f64, usize, usize) = (-1.0, 1.0, 8, 6);
const NV: usize = 16;

fn grid() -> Arc<Grid> {
    Arc::new(Grid::new(GRID.0, GRID.1, GRID.2, GRID.3).unwrap())
}

/// Deterministic pseudo-random spike trains (a linear congruential stream): not a realistic
/// sample, just fixed data with structure to fit.
fn data(trials: usize) -> SpikeData {
    let mut state: u64 = 12345;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let trials = (0..trials)
        .map(|t| {
            let spikes = 20 + 5 * (t % 4);
            let mut isi: Vec<f64> = (0..spikes).map(|_| -0.02 * uniform().ln()).collect();
            isi.push(0.05);
            let mut neuron: Vec<Option<u32>> = vec![Some(0); spikes];
            neuron.push(None);
            Trial::new(isi, neuron).unwrap()
        })
        .collect();
    SpikeData::new(1, trials).unwrap()
}

fn initial(grid: &Arc<Grid>) -> Model {
    let force: Vec<f64> = grid.x().iter().map(|x| -2.0 * x).collect();
    let rate: Vec<f64> = grid.x().iter().map(|x| 40.0 * (x + 1.0) + 5.0).collect();
    Model::new(
        grid.clone(),
        ModelParts {
            boundary: BoundaryMode::Reflecting,
            peq: peq_from_force(grid, &force).unwrap(),
            p0: None,
            d: 3.0,
            rates: vec![rate],
        },
    )
    .unwrap()
}

fn problem(grid: &Arc<Grid>) -> SpikeProblem {
    SpikeProblem::new(
        grid.clone(),
        BoundaryMode::Reflecting,
        data(12),
        Some(data(5)),
        NV,
        Box::new(BandedSolver::default()),
    )
}

fn new_fit(config: FitConfig) -> Fit<SpikeProblem> {
    let g = grid();
    let params = Params::from_model(&initial(&g), false).unwrap();
    Fit::new(
        problem(&g),
        params,
        config,
        GRID,
        BoundaryMode::Reflecting,
        NV,
    )
    .unwrap()
}

#[test]
fn resume_is_bit_identical() {
    let dir = std::env::temp_dir().join(format!("lf-resume-{}", std::process::id()));
    let cp = dir.join("fit.ckpt");
    let config = FitConfig {
        iterations: 200,
        method: Method::adam(),
        learning_rates: LearningRates {
            force: 0.05,
            ..LearningRates::paper()
        },
        ..FitConfig::default()
    };
    let mut straight = new_fit(config.clone());
    straight.run(&mut []).unwrap();

    let mut first = new_fit(FitConfig {
        iterations: 100,
        checkpoint: Some(CheckpointConfig {
            path: cp.clone(),
            every: 50,
        }),
        ..config.clone()
    });
    first.run(&mut []).unwrap();
    let g = grid();
    let mut resumed = Fit::resume(problem(&g), config, &cp).unwrap();
    assert_eq!(resumed.state().iteration, 100);
    resumed.run(&mut []).unwrap();
    assert_eq!(
        straight.state(),
        resumed.state(),
        "state after 200 iterations differs"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn small_steps_decrease_the_loss() {
    let mut fit = new_fit(FitConfig {
        iterations: 30,
        learning_rates: LearningRates {
            force: 1e-3,
            ..LearningRates::paper()
        },
        ..FitConfig::default()
    });
    fit.run(&mut []).unwrap();
    let r = &fit.path().records;
    for w in r.windows(2) {
        assert!(
            w[1].train_neg_loglik < w[0].train_neg_loglik,
            "-log L rose from {} to {} at iteration {}",
            w[0].train_neg_loglik,
            w[1].train_neg_loglik,
            w[1].iteration
        );
    }
    assert!(r.iter().all(|x| x.validation_neg_loglik.is_some()));
}

#[test]
fn fitting_d_and_minibatches_is_deterministic() {
    let config = FitConfig {
        iterations: 20,
        fit: GradRequest {
            force: true,
            d: true,
            ..GradRequest::default()
        },
        minibatch: Some(Minibatch { size: 5, seed: 7 }),
        ..FitConfig::default()
    };
    let mut a = new_fit(config.clone());
    let mut b = new_fit(config);
    a.run(&mut []).unwrap();
    b.run(&mut []).unwrap();
    assert_eq!(a.state(), b.state());
    assert_ne!(a.state().params.d, 3.0, "D was not fitted");
}

#[test]
fn divergence_stops_with_the_iteration_and_keeps_the_checkpoint() {
    let dir = std::env::temp_dir().join(format!("lf-diverge-{}", std::process::id()));
    let cp = dir.join("fit.ckpt");
    let mut fit = new_fit(FitConfig {
        iterations: 1000,
        learning_rates: LearningRates {
            force: 1e4,
            ..LearningRates::paper()
        },
        checkpoint: Some(CheckpointConfig {
            path: cp.clone(),
            every: 1,
        }),
        ..FitConfig::default()
    });
    let err = fit.run(&mut []).unwrap_err();
    let OptimError::Diverged { iteration, .. } = err else {
        panic!("expected a divergence, got {err}");
    };
    assert!(iteration > 0 && iteration < 1000);
    assert_eq!(fit.path().records.len() as u64, iteration);
    // The checkpoint on disk is the last good state and resumes.
    let g = grid();
    let resumed = Fit::resume(problem(&g), fit.config().clone(), &cp).unwrap();
    assert_eq!(resumed.state(), fit.state());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_corrupt_checkpoint_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("lf-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cp = dir.join("fit.ckpt");
    let mut fit = new_fit(FitConfig {
        iterations: 3,
        checkpoint: Some(CheckpointConfig {
            path: cp.clone(),
            every: 1,
        }),
        ..FitConfig::default()
    });
    fit.run(&mut []).unwrap();
    let bytes = std::fs::read(&cp).unwrap();
    std::fs::write(&cp, &bytes[..bytes.len() / 2]).unwrap();
    let g = grid();
    let err = Fit::resume(problem(&g), FitConfig::default(), &cp).unwrap_err();
    assert!(err.to_string().contains("fit.ckpt"), "{err}");
    std::fs::write(&cp, b"hello").unwrap();
    assert!(Fit::resume(problem(&g), FitConfig::default(), &cp).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn line_search_on_d_decreases_the_loss_each_step() {
    // D alone with a learning rate far too large for a fixed step: the line search must still
    // make every accepted step decrease -log L (F is held fixed, so -log L is a function of D).
    let mut fit = new_fit(FitConfig {
        iterations: 15,
        fit: GradRequest {
            d: true,
            ..GradRequest::default()
        },
        learning_rates: LearningRates {
            d: 10.0,
            ..LearningRates::paper()
        },
        line_search: Some(LineSearch::default()),
        ..FitConfig::default()
    });
    fit.run(&mut []).unwrap();
    let r = &fit.path().records;
    for w in r.windows(2) {
        assert!(
            w[1].train_neg_loglik <= w[0].train_neg_loglik,
            "-log L rose from {} to {} at iteration {}",
            w[0].train_neg_loglik,
            w[1].train_neg_loglik,
            w[1].iteration
        );
    }
    assert!(r.last().unwrap().train_neg_loglik < r[0].train_neg_loglik);
    assert_ne!(fit.state().params.d, 3.0, "D was not fitted");
}
