//! The RKC path method follows gradient descent's path: the same models at the same
//! iterations (within a small divergence) with far fewer gradient evaluations, resumes
//! bit-identically, and refuses settings it cannot honour.

use std::sync::Arc;

use latentflow_data::{SpikeData, Split};
use latentflow_likelihood::{GradRequest, Model, ModelParts};
use latentflow_optim::{
    CheckpointConfig, Fit, FitConfig, FitPath, Method, Minibatch, OptimError, Params, Rkc,
    SaveSchedule, SpikeProblem,
};
use latentflow_select::symmetric_kl;
use latentflow_spectral::{BandedSolver, BoundaryMode, Grid, GridSpec};
use latentflow_synth::{Amount, Potential, SimulationConfig, Simulator, TrialLength};

const GRID: GridSpec = GridSpec {
    xbegin: -1.0,
    xend: 1.0,
    ne: 32,
    np: 6,
};
const NV: usize = 24;

fn grid() -> Arc<Grid> {
    GRID.build().unwrap()
}

/// Half of a 4,000-spike sample of the paper's double well (one neuron, 100 (x + 1) Hz).
fn half() -> SpikeData {
    let config = SimulationConfig {
        potential: Potential::paper_double_well(),
        ..SimulationConfig::paper()
    };
    let data = Simulator::new(config)
        .unwrap()
        .run(Amount::Spikes(4_000), TrialLength::Fixed(10.0), 7)
        .unwrap()
        .data;
    data.split(Split::Alternating).unwrap().0
}

/// The fit's objective on [`half`].
fn problem() -> SpikeProblem {
    SpikeProblem::new(
        grid(),
        BoundaryMode::Reflecting,
        half(),
        None,
        NV,
        Box::new(BandedSolver::default()),
    )
}

fn fit(
    method: Method,
    iterations: u64,
    save: SaveSchedule,
    checkpoint: Option<CheckpointConfig>,
) -> Fit<SpikeProblem> {
    let grid = grid();
    let problem = problem();
    // The paper's start: peq ~ cos^2(pi x / 2) (kept positive), D 10, rate 100 (x + 1) Hz.
    let raw: Vec<f64> = grid
        .x()
        .iter()
        .map(|x| (0.5 * std::f64::consts::PI * x).cos().powi(2) + 1e-3)
        .collect();
    let z: f64 = raw.iter().zip(grid.w()).map(|(p, w)| p * w).sum();
    let initial = Model::new(
        grid.clone(),
        ModelParts {
            boundary: BoundaryMode::Reflecting,
            peq: raw.iter().map(|p| p / z).collect(),
            p0: None,
            d: 10.0,
            rates: vec![grid.x().iter().map(|x| 100.0 * (x + 1.0) + 1.0).collect()],
        },
    )
    .unwrap();
    let config = FitConfig {
        iterations,
        method,
        fit: GradRequest::FORCE,
        save,
        checkpoint,
        ..FitConfig::default()
    };
    Fit::new(
        problem,
        Params::from_model(&initial, false).unwrap(),
        config,
        GRID,
        BoundaryMode::Reflecting,
        NV,
    )
    .unwrap()
}

fn run(method: Method, iterations: u64, save: SaveSchedule) -> FitPath {
    let mut f = fit(method, iterations, save, None);
    f.run(&mut []).unwrap();
    f.into_path()
}

#[test]
fn rkc_follows_gradient_descent_with_fewer_evaluations() {
    let n = 2_000;
    // Gradient descent keeps every iteration's model, to compare iteration by iteration.
    let every = SaveSchedule {
        dense_until: n,
        per_decade: 100,
    };
    let gd = run(Method::GradientDescent, n, every);
    let rkc = run(Method::Rkc(Rkc::default()), n, SaveSchedule::default());
    let w = grid().w().to_vec();
    assert_eq!(gd.records.len() as u64, n);
    assert_eq!(gd.records.last().unwrap().evaluations, n);
    // Every RKC model against gradient descent's model of the same iteration.
    let mut worst: f64 = 0.0;
    for m in &rkc.models {
        let g = &gd.models[m.record.iteration as usize];
        assert_eq!(g.record.iteration, m.record.iteration);
        worst = worst.max(symmetric_kl(&w, &m.peq, &g.peq).unwrap());
    }
    let evaluations = rkc.records.last().unwrap().evaluations;
    let (fc_gd, fc_rkc) = (
        gd.records.last().unwrap().feature_complexity,
        rkc.records.last().unwrap().feature_complexity,
    );
    eprintln!(
        "{} RKC records, {evaluations} evaluations (GD {n}); worst KL {worst:.2e}; \
         FC at the end {fc_rkc:.3} (GD {fc_gd:.3})",
        rkc.records.len()
    );
    assert!(worst < 1e-3, "RKC strays from gradient descent: KL {worst}");
    assert!(
        evaluations * 2 < n,
        "RKC needed {evaluations} evaluations for {n} iterations"
    );
    // The path moved: the comparison is not between two standing models.
    let first = &gd.models[0].peq;
    assert!(symmetric_kl(&w, first, &gd.models.last().unwrap().peq).unwrap() > 0.05);
}

/// A fit interrupted at a checkpoint and resumed repeats the uninterrupted fit's bits (one
/// checkpointed after an arbitrary step: checkpoints do not cut RKC steps); one stopped at its
/// iteration cap and extended follows the same path (its cap ended a step).
#[test]
fn rkc_resumes_bit_identically() {
    let dir = std::env::temp_dir().join(format!("lf-rkc-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let method = Method::Rkc(Rkc::default());
    let save = SaveSchedule::default();
    let every = |name: &str| CheckpointConfig {
        path: dir.join(name),
        every: 500,
    };
    let mut whole = fit(method, 1_500, save, Some(every("whole.ckpt")));
    whole.run(&mut []).unwrap();
    let whole = whole.into_path();
    // Stopped at iteration 1,000 (a checkpoint), then resumed to 1,500.
    let mut first = fit(method, 1_000, save, Some(every("part.ckpt")));
    first.run(&mut []).unwrap();
    assert_eq!(first.state().iteration, 1_000);
    assert!(whole.records.iter().any(|r| r.iteration == 1_000));
    let problem = problem();
    let config = first.config().clone();
    let config = FitConfig {
        iterations: 1_500,
        ..config
    };
    let mut resumed = Fit::resume(problem, config, &dir.join("part.ckpt")).unwrap();
    resumed.run(&mut []).unwrap();
    let path = resumed.into_path();
    assert!(path.records.len() > 20);
    // The cap ended a step at 1,000 that the whole run took longer: the paths are the same
    // bit for bit before that step and stay within the step control's tolerance after it.
    let before_cap = |p: &FitPath| {
        p.records
            .iter()
            .take_while(|r| r.iteration <= 900)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(before_cap(&path), before_cap(&whole));
    let w = grid().w().to_vec();
    assert_eq!(path.models.len(), whole.models.len());
    let mut worst: f64 = 0.0;
    for (a, b) in path.models.iter().zip(&whole.models) {
        assert_eq!(a.record.iteration, b.record.iteration);
        worst = worst.max(symmetric_kl(&w, &a.peq, &b.peq).unwrap());
    }
    assert!(worst < 1e-8, "the extended fit strays: KL {worst}");
    // Checkpointed mid-run after the first step past iteration 700, not a multiple of the
    // checkpoint period.
    let mut part = fit(method, 1_500, save, Some(every("mid.ckpt")));
    while part.state().iteration <= 700 {
        part.step().unwrap();
    }
    let at = part.state().iteration;
    assert!(!at.is_multiple_of(500), "iteration {at}");
    part.checkpoint().unwrap();
    let config = part.config().clone();
    drop(part);
    let problem = self::problem();
    let mut resumed = Fit::resume(problem, config, &dir.join("mid.ckpt")).unwrap();
    assert_eq!(resumed.state().iteration, at);
    resumed.run(&mut []).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let path = resumed.into_path();
    assert_eq!(path.records, whole.records);
    assert_eq!(path.models, whole.models);
}

#[test]
fn rkc_refuses_minibatches_and_bad_settings() {
    let bad = |c: FitConfig| {
        let problem = problem();
        let p = fit(Method::GradientDescent, 1, SaveSchedule::default(), None)
            .state()
            .params
            .clone();
        match Fit::new(problem, p, c, GRID, BoundaryMode::Reflecting, NV) {
            Err(OptimError::Config(m)) => m,
            other => panic!("accepted: {other:?}"),
        }
    };
    let rkc = FitConfig {
        method: Method::Rkc(Rkc::default()),
        ..FitConfig::default()
    };
    assert!(
        bad(FitConfig {
            minibatch: Some(Minibatch { size: 2, seed: 1 }),
            ..rkc.clone()
        })
        .contains("mini-batches")
    );
    assert!(
        bad(FitConfig {
            method: Method::Rkc(Rkc {
                tolerance: 0.0,
                ..Rkc::default()
            }),
            ..rkc
        })
        .contains("tolerance")
    );
}
