//! The fit loop: resume is bit-identical, small steps decrease -log L, Adam and mini-batches
//! work, divergence stops cleanly and keeps the checkpoint.

use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{GradRequest, Model, ModelParts, peq_from_force};
use latentflow_optim::{
    Backtracking, CheckpointConfig, Fit, FitConfig, LearningRates, LineSearch, Method, Minibatch,
    OptimError, Params, SpikeProblem,
};
use latentflow_spectral::{BandedSolver, BoundaryMode, Grid, GridSpec};
use latentflow_synth::{Amount, Potential, SimulationConfig, Simulator, TrialLength, TuningCurve};

const GRID: GridSpec = GridSpec {
    xbegin: -1.0,
    xend: 1.0,
    ne: 8,
    np: 6,
};
const NV: usize = 16;

fn grid() -> Arc<Grid> {
    GRID.build().unwrap()
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

/// A fit of the paper's double well (4,000 spikes, cos^2 start) with 50 times the default
/// rate: the first steps raise -log L and are rejected, the rates come down by halvings, and
/// the fit then goes where the default-rate fit goes (every accepted step lowers -log L,
/// within the tolerance). Without the safeguard the same rate overshoots.
#[test]
fn backtracking_rescues_a_huge_learning_rate() {
    let g = Arc::new(Grid::new(-1.0, 1.0, 16, 8).unwrap());
    let data = Simulator::new(SimulationConfig::paper())
        .unwrap()
        .run(Amount::Spikes(4_000), TrialLength::Fixed(10.0), 3)
        .unwrap()
        .data;
    let model = Model::new(
        g.clone(),
        ModelParts {
            boundary: BoundaryMode::Reflecting,
            peq: Potential::cos_squared().peq(g.x(), g.w()).unwrap(),
            p0: None,
            d: 10.0,
            rates: vec![TuningCurve::paper().rates_on(g.x())],
        },
    )
    .unwrap();
    let run = |force: f64, iterations: u64, guard: bool| {
        let problem = SpikeProblem::new(
            g.clone(),
            BoundaryMode::Reflecting,
            data.clone(),
            None,
            NV,
            Box::new(BandedSolver::default()),
        );
        let config = FitConfig {
            iterations,
            learning_rates: LearningRates {
                force,
                ..LearningRates::default()
            },
            backtracking: guard.then(Backtracking::default),
            ..FitConfig::default()
        };
        let params = Params::from_model(&model, false).unwrap();
        let mut fit = Fit::new(
            problem,
            params,
            config,
            GridSpec::of(&g),
            BoundaryMode::Reflecting,
            NV,
        )
        .unwrap();
        let outcome = fit.run(&mut []);
        (outcome, fit.into_path())
    };
    let (outcome, huge) = run(0.25, 150, true);
    outcome.unwrap();
    let r = &huge.records;
    let rejected: u32 = r.iter().map(|x| x.rejected_steps).sum();
    assert!(rejected >= 3, "only {rejected} steps rejected");
    assert!(r.iter().any(|x| x.step_factor < 1.0));
    let tolerance = Backtracking::default().tolerance;
    for w in r.windows(2) {
        assert!(w[1].train_neg_loglik <= w[0].train_neg_loglik + tolerance);
    }
    let (outcome, sensible) = run(0.005, 1_500, true);
    outcome.unwrap();
    let (start, a, b) = (
        r[0].train_neg_loglik,
        r.last().unwrap().train_neg_loglik,
        sensible.records.last().unwrap().train_neg_loglik,
    );
    eprintln!("-log L: start {start}, huge rate guarded {a} ({rejected} rejected), default {b}");
    assert!(
        a < start - 0.9 * (start - b),
        "huge rate: {start} -> {a}; default: {b}"
    );
    let (_, unguarded) = run(0.25, 150, false);
    let rise = unguarded
        .records
        .windows(2)
        .map(|w| w[1].train_neg_loglik - w[0].train_neg_loglik)
        .fold(0.0f64, f64::max);
    assert!(rise > 1.0, "unguarded, the largest rise is {rise}");
}

/// Settings are checked when a fit is made, not clamped.
#[test]
fn bad_settings_are_refused() {
    let g = grid();
    let params = Params::from_model(&initial(&g), false).unwrap();
    for config in [
        FitConfig {
            learning_rates: LearningRates {
                force: -0.005,
                ..LearningRates::default()
            },
            ..FitConfig::default()
        },
        FitConfig {
            learning_rates: LearningRates {
                d: f64::NAN,
                ..LearningRates::default()
            },
            ..FitConfig::default()
        },
        FitConfig {
            minibatch: Some(Minibatch { size: 0, seed: 1 }),
            ..FitConfig::default()
        },
        FitConfig {
            fit: GradRequest::default(),
            ..FitConfig::default()
        },
    ] {
        let err = Fit::new(
            problem(&g),
            params.clone(),
            config,
            GRID,
            BoundaryMode::Reflecting,
            NV,
        )
        .unwrap_err();
        assert!(matches!(err, OptimError::Config(_)), "{err}");
    }
}

/// With the safeguard off, a diverging fit stops with the iteration and keeps the last good
/// checkpoint.
#[test]
fn divergence_stops_with_the_iteration_and_keeps_the_checkpoint() {
    let dir = std::env::temp_dir().join(format!("lf-diverge-{}", std::process::id()));
    let cp = dir.join("fit.ckpt");
    let mut fit = new_fit(FitConfig {
        iterations: 1000,
        backtracking: None,
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
        // The line search alone must keep the steps down, not the step rejection.
        backtracking: None,
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
