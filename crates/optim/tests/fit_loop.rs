//! The fit loop: resume is bit-identical, small steps decrease -log L, Adam and mini-batches
//! work, divergence stops cleanly and keeps the checkpoint.

use std::path::PathBuf;
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
    problem_on(grid, data(12))
}

/// The fit of `train` validated on the usual validation data.
fn problem_on(grid: &Arc<Grid>, train: SpikeData) -> SpikeProblem {
    SpikeProblem::new(
        grid.clone(),
        BoundaryMode::Reflecting,
        train,
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
    let run = |force: f64, iterations: u64, guard: bool, method: Method| {
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
            method,
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
    let gd = Method::GradientDescent;
    let (outcome, huge) = run(0.25, 150, true, gd);
    outcome.unwrap();
    let r = &huge.records;
    let rejected: u32 = r.iter().map(|x| x.rejected_steps).sum();
    assert!(rejected >= 3, "only {rejected} steps rejected");
    assert!(r.iter().any(|x| x.step_factor < 1.0));
    let tolerance = Backtracking::default().tolerance;
    for w in r.windows(2) {
        assert!(w[1].train_neg_loglik <= w[0].train_neg_loglik + tolerance);
    }
    let (outcome, sensible) = run(0.005, 1_500, true, gd);
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
    let (_, unguarded) = run(0.25, 150, false, gd);
    let rise = unguarded
        .records
        .windows(2)
        .map(|w| w[1].train_neg_loglik - w[0].train_neg_loglik)
        .fold(0.0f64, f64::max);
    assert!(rise > 1.0, "unguarded, the largest rise is {rise}");
    // The path method shortens gradient descent's own step the same way (and its paths with
    // sensible rates, where the factor stays 1, are unchanged by it).
    let (outcome, rkc) = run(0.25, 150, true, Method::Rkc(Default::default()));
    outcome.unwrap();
    let r = &rkc.records;
    assert!(
        r.iter()
            .any(|x| x.step_factor < 1.0 && x.rejected_steps > 0)
    );
    for w in r.windows(2) {
        assert!(w[1].train_neg_loglik <= w[0].train_neg_loglik + tolerance);
    }
    let a = r.last().unwrap().train_neg_loglik;
    assert!(
        a < start - 0.9 * (start - b),
        "huge rate, path method: {start} -> {a}; default: {b}"
    );
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

/// Resume reads only a checkpoint of the same fit: one of another fit (other settings, other
/// data) is refused naming the file; a corrupt one (a flipped byte, a truncation, garbage) is
/// replaced by the previous checkpoint, from which the fit repeats the uninterrupted fit's
/// bits; with both bad, the error names the current one.
#[test]
fn resume_refuses_other_fits_and_falls_back_from_a_corrupt_checkpoint() {
    let dir = std::env::temp_dir().join(format!("lf-fallback-{}", std::process::id()));
    let cp = dir.join("fit.ckpt");
    let prev = dir.join("fit.ckpt.prev");
    let config = FitConfig {
        iterations: 30,
        checkpoint: Some(CheckpointConfig {
            path: cp.clone(),
            every: 10,
        }),
        ..FitConfig::default()
    };
    let mut straight = new_fit(config.clone());
    straight.run(&mut []).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let g = grid();
    let interrupted = || {
        std::fs::remove_dir_all(&dir).ok();
        new_fit(FitConfig {
            iterations: 20,
            ..config.clone()
        })
        .run(&mut [])
        .unwrap();
        assert!(prev.exists(), "the previous checkpoint is not kept");
    };
    let resume = |problem: SpikeProblem, config: FitConfig| Fit::resume(problem, config, &cp);

    interrupted();
    let other_settings = FitConfig {
        learning_rates: LearningRates {
            force: 0.001,
            ..LearningRates::default()
        },
        ..config.clone()
    };
    let other_data = problem_on(&g, data(11));
    for (what, err) in [
        ("settings", resume(problem(&g), other_settings).unwrap_err()),
        ("data", resume(other_data, config.clone()).unwrap_err()),
    ] {
        let err = err.to_string();
        assert!(
            err.contains("fit.ckpt:") && err.contains("another fit"),
            "other {what}: {err}"
        );
    }
    // More iterations are the same fit.
    let longer = FitConfig {
        iterations: 40,
        ..config.clone()
    };
    assert_eq!(resume(problem(&g), longer).unwrap().state().iteration, 20);

    // The saved models are in fit.ckpt.models (entries 10 to 20 after the previous
    // checkpoint's); losing its tail loses only the current checkpoint.
    let models = dir.join("fit.ckpt.models");
    type Damage = fn(&mut Vec<u8>);
    let damages: [(&str, &PathBuf, Damage); 4] = [
        ("flipped byte", &cp, |b| {
            let k = b.len() / 2;
            b[k] ^= 0x10;
        }),
        ("truncated", &cp, |b| b.truncate(b.len() - 100)),
        ("garbage", &cp, |b| *b = b"not a checkpoint".to_vec()),
        ("models file truncated", &models, |b| {
            b.truncate(b.len() - 100)
        }),
    ];
    for (what, file, damage) in damages {
        interrupted();
        let mut bytes = std::fs::read(file).unwrap();
        damage(&mut bytes);
        std::fs::write(file, &bytes).unwrap();
        let mut resumed = resume(problem(&g), config.clone()).unwrap();
        assert_eq!(resumed.state().iteration, 10, "{what}");
        let note = resumed.resume_note().expect("no note on the fallback");
        assert!(note.contains("fit.ckpt.prev"), "{what}: {note}");
        resumed.run(&mut []).unwrap();
        assert_eq!(
            resumed.state(),
            straight.state(),
            "{what}: not the same fit"
        );
    }

    // Seeded random damage, 60 cases: one to four bytes changed anywhere in the checkpoint or
    // the models file. Every resume either reads a good checkpoint (the current one, or the
    // previous one with a note) or fails with an error naming a file; none panics.
    let mut state: u64 = 2026;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    interrupted();
    let pristine = [std::fs::read(&cp).unwrap(), std::fs::read(&models).unwrap()];
    let (mut fell_back, mut refused) = (0, 0);
    for case in 0..60 {
        let which = case % 2;
        let file = [&cp, &models][which];
        let mut bytes = pristine[which].clone();
        for _ in 0..1 + next(4) {
            let k = next(bytes.len());
            bytes[k] ^= 1 + next(255) as u8;
        }
        std::fs::write(file, &bytes).unwrap();
        match resume(problem(&g), config.clone()) {
            Ok(f) => {
                assert!(f.resume_note().is_some(), "case {case}: damage not noticed");
                assert_eq!(f.state().iteration, 10, "case {case}");
                fell_back += 1;
            }
            Err(e) => {
                assert!(e.to_string().contains("fit.ckpt"), "case {case}: {e}");
                refused += 1;
            }
        }
        std::fs::write(file, &pristine[which]).unwrap();
    }
    assert_eq!(fell_back + refused, 60);
    assert!(
        fell_back >= 30,
        "the checkpoint's damage always falls back: {fell_back}"
    );

    interrupted();
    std::fs::write(&cp, b"hello").unwrap();
    std::fs::write(&prev, b"hello").unwrap();
    let err = resume(problem(&g), config.clone()).unwrap_err().to_string();
    assert!(
        err.contains("fit.ckpt:") && err.contains("not a latentflow checkpoint"),
        "{err}"
    );
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
