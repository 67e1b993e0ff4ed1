//! `FitConfig::v1_sign_term`, the paper's code's sign error reproduced (docs/method.md §10):
//! a drawn iteration's F step is the paper's code's (true gradient plus delta), the others are
//! exact; the draws are fair, reproducible and survive a resume; wrong settings are refused;
//! configurations without the field parse and serialise as before.

use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{GradRequest, Model, ModelParts, peq_from_force};
use latentflow_optim::{
    CheckpointConfig, Fit, FitConfig, LearningRates, OptimError, Params, SpikeProblem, V1SignTerm,
};
use latentflow_spectral::{BandedSolver, BoundaryMode, Grid, GridSpec};

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

/// Fixed spike trains (a linear congruential stream), each ending in a silent tail.
fn data(trials: usize) -> SpikeData {
    let mut state: u64 = 99;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let trials = (0..trials)
        .map(|_| {
            let mut isi: Vec<f64> = (0..25).map(|_| -0.02 * uniform().ln()).collect();
            isi.push(0.05);
            let mut neuron = vec![Some(0); 25];
            neuron.push(None);
            Trial::new(isi, neuron).unwrap()
        })
        .collect();
    SpikeData::new(1, trials).unwrap()
}

fn model(grid: &Arc<Grid>, p0: bool) -> Model {
    let force: Vec<f64> = grid.x().iter().map(|x| -2.0 * x).collect();
    let peq = peq_from_force(grid, &force).unwrap();
    Model::new(
        grid.clone(),
        ModelParts {
            boundary: BoundaryMode::Reflecting,
            p0: p0.then(|| peq.clone()),
            peq,
            d: 3.0,
            rates: vec![grid.x().iter().map(|x| 40.0 * (x + 1.0) + 5.0).collect()],
        },
    )
    .unwrap()
}

fn problem(grid: &Arc<Grid>) -> SpikeProblem {
    SpikeProblem::new(
        grid.clone(),
        BoundaryMode::Reflecting,
        data(6),
        Some(data(2)),
        NV,
        Box::new(BandedSolver::default()),
    )
}

/// The paper's gradient descent with `v1`, for `iterations`.
fn config(iterations: u64, v1: Option<V1SignTerm>) -> FitConfig {
    FitConfig {
        iterations,
        learning_rates: LearningRates::paper(),
        v1_sign_term: v1,
        ..FitConfig::default()
    }
}

fn new_fit(config: FitConfig) -> Result<Fit<SpikeProblem>, OptimError> {
    let g = grid();
    Fit::new(
        problem(&g),
        Params::from_model(&model(&g, false), false)?,
        config,
        GRID,
        BoundaryMode::Reflecting,
        NV,
    )
}

/// The first seed whose draw at iteration 0 is `negated`.
fn seed_drawing(negated: bool) -> V1SignTerm {
    (0..)
        .map(|seed| V1SignTerm { seed })
        .find(|v| v.negated(0) == negated)
        .unwrap()
}

#[test]
fn a_drawn_step_is_the_paper_codes_and_the_others_are_exact() {
    let g = grid();
    let lik = problem(&g)
        .setup(&Params::from_model(&model(&g, false), false).unwrap())
        .unwrap();
    let (_, grads, delta) = lik
        .neg_loglik_grad_and_v1_sign_term(&data(6), GradRequest::FORCE)
        .unwrap();
    let grad = grads.force.unwrap();
    let start = Params::from_model(&model(&g, false), false).unwrap().force;
    let lr = LearningRates::paper().force;
    for negated in [true, false] {
        let mut fit = new_fit(config(1, Some(seed_drawing(negated)))).unwrap();
        fit.run(&mut []).unwrap();
        let want: Vec<f64> = start
            .iter()
            .zip(grad.iter().zip(&delta))
            .map(|(f, (g, d))| {
                if negated {
                    f - lr * (g + d)
                } else {
                    f - lr * g
                }
            })
            .collect();
        assert_eq!(fit.state().params.force, want, "negated: {negated}");
    }
}

#[test]
fn the_term_changes_the_path_from_the_first_drawn_iteration_on() {
    let v1 = V1SignTerm { seed: 5 };
    let first = (0..).find(|&i| v1.negated(i)).unwrap();
    let iterations = first + 3;
    let mut exact = new_fit(config(iterations, None)).unwrap();
    let mut paper = new_fit(config(iterations, Some(v1))).unwrap();
    exact.run(&mut []).unwrap();
    paper.run(&mut []).unwrap();
    let (a, b) = (&exact.path().records, &paper.path().records);
    let k = first as usize;
    assert_eq!(a[..=k], b[..=k], "the records before the first drawn step");
    assert_ne!(a[k + 1].train_neg_loglik, b[k + 1].train_neg_loglik);
}

#[test]
fn draws_are_fair_reproducible_and_independent_per_stream() {
    let v1 = V1SignTerm { seed: 2020 };
    let draws = |v: V1SignTerm| (0..2000).map(|i| v.negated(i)).collect::<Vec<bool>>();
    let (a, b) = (draws(v1), draws(v1.stream(1)));
    assert_eq!(a, draws(v1));
    for d in [&a, &b] {
        let n = d.iter().filter(|&&x| x).count();
        // Binomial(2000, 1/2): sd 22.4; 4.5 sd either side.
        assert!((900..=1100).contains(&n), "{n} of 2000 drawn");
    }
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    assert!(
        (900..=1100).contains(&same),
        "streams agree on {same} of 2000"
    );
    assert_ne!(v1.stream(0), v1.stream(1));
}

#[test]
fn resume_draws_the_same() {
    let dir = std::env::temp_dir().join(format!("lf-v1-resume-{}", std::process::id()));
    let cp = dir.join("fit.ckpt");
    let v1 = Some(V1SignTerm { seed: 3 });
    let mut straight = new_fit(config(12, v1)).unwrap();
    straight.run(&mut []).unwrap();
    let mut first = new_fit(FitConfig {
        checkpoint: Some(CheckpointConfig {
            path: cp.clone(),
            every: 6,
        }),
        ..config(6, v1)
    })
    .unwrap();
    first.run(&mut []).unwrap();
    let mut resumed = Fit::resume(problem(&grid()), config(12, v1), &cp).unwrap();
    resumed.run(&mut []).unwrap();
    assert_eq!(straight.state(), resumed.state());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn needs_f_fitted_and_an_equilibrium_model() {
    let v1 = Some(V1SignTerm { seed: 1 });
    for fit in [
        GradRequest {
            force: false,
            d: true,
            ..GradRequest::default()
        },
        GradRequest {
            force0: true,
            ..GradRequest::FORCE
        },
    ] {
        let err = new_fit(FitConfig {
            fit,
            ..config(1, v1)
        })
        .unwrap_err();
        assert!(err.to_string().contains("fit F and not F0"), "{err}");
    }
    let g = grid();
    let err = Fit::new(
        problem(&g),
        Params::from_model(&model(&g, true), false).unwrap(),
        config(1, v1),
        GRID,
        BoundaryMode::Reflecting,
        NV,
    )
    .unwrap_err();
    assert!(err.to_string().contains("equilibrium model"), "{err}");
}

#[test]
fn configurations_without_the_field_are_unchanged() {
    let plain = serde_json::to_value(FitConfig::default()).unwrap();
    assert!(plain.get("v1_sign_term").is_none());
    let back: FitConfig = serde_json::from_value(plain).unwrap();
    assert_eq!(back, FitConfig::default());
    let with = config(1, Some(V1SignTerm { seed: 9 }));
    let text = serde_json::to_string(&with).unwrap();
    assert!(text.contains(r#""v1_sign_term":{"seed":9}"#), "{text}");
    assert_eq!(serde_json::from_str::<FitConfig>(&text).unwrap(), with);
}
