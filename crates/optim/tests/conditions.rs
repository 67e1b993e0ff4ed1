//! Fits over several task conditions (docs/method.md §12): with every parameter shared the fit
//! is the one-condition fit of the pooled trials; a parameter kept per condition moves as in a
//! fit of that condition's trials alone; a multi-condition fit resumes bit for bit.

use std::sync::Arc;

use latentflow_data::SpikeData;
use latentflow_likelihood::{
    ConditionModels, GradRequest, Model, ModelParts, ParameterSharing, Sharing, feature_complexity,
    peq_from_force,
};
use latentflow_optim::{CheckpointConfig, Fit, FitConfig, Method, Params, SpikeProblem};
use latentflow_spectral::{BandedSolver, BoundaryMode, Grid, GridSpec};
use latentflow_synth::{
    Amount, InitialState, Potential, SimulationConfig, Simulator, TrialLength, TuningCurve,
};

const SPEC: GridSpec = GridSpec {
    xbegin: -1.0,
    xend: 1.0,
    ne: 8,
    np: 6,
};
const NV: usize = 20;
const STARTS: [f64; 3] = [-0.4, 0.0, 0.4];

fn rate(n: usize, x: f64) -> f64 {
    if n == 0 {
        10.0 + 20.0 * (x + 1.0)
    } else {
        50.0 - 20.0 * (x + 1.0)
    }
}

/// Decision trials: a linear potential, absorbing bounds, each condition starting near its own
/// point, two neurons.
fn data() -> SpikeData {
    let sims: Vec<Simulator> = STARTS
        .iter()
        .map(|&s| {
            Simulator::new(SimulationConfig {
                potential: Potential::from_fn(|x| 0.5 * x),
                initial: InitialState::Density {
                    potential: Potential::from_fn(move |x| (x - s) * (x - s) / (2.0 * 0.04)),
                },
                d: 1.0,
                boundary: BoundaryMode::Absorbing,
                xbegin: -1.0,
                xend: 1.0,
                neurons: (0..2)
                    .map(|n| TuningCurve::from_fn(move |x| rate(n, x)))
                    .collect(),
                dt: 1e-4,
                latent_stride: None,
            })
            .unwrap()
        })
        .collect();
    Simulator::run_conditions(&sims, Amount::Trials(30), TrialLength::Fixed(5.0), 11)
        .unwrap()
        .data
}

/// The initial model of a condition: flat potential, a wide p0 around `start`, the true rates.
fn model(grid: &Arc<Grid>, start: f64) -> Model {
    let f0: Vec<f64> = grid.x().iter().map(|x| -(x - start) / 0.25).collect();
    Model::new(
        grid.clone(),
        ModelParts {
            boundary: BoundaryMode::Absorbing,
            peq: peq_from_force(grid, &vec![0.0; grid.n()]).unwrap(),
            p0: Some(peq_from_force(grid, &f0).unwrap()),
            d: 1.0,
            rates: (0..2)
                .map(|n| grid.x().iter().map(|&x| rate(n, x)).collect())
                .collect(),
        },
    )
    .unwrap()
}

fn fit(train: SpikeData, params: Params, config: FitConfig) -> Fit<SpikeProblem> {
    let grid = SPEC.build().unwrap();
    let problem = SpikeProblem::new(
        grid,
        BoundaryMode::Absorbing,
        train,
        None,
        NV,
        Box::new(BandedSolver::default()),
    );
    Fit::new(problem, params, config, SPEC, BoundaryMode::Absorbing, NV).unwrap()
}

fn config(fit: GradRequest) -> FitConfig {
    FitConfig {
        iterations: 8,
        fit,
        ..FitConfig::default()
    }
}

fn close(a: &[f64], b: &[f64], what: &str) {
    let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-8 * scale,
            "{what}: node {i}: {x} vs {y}"
        );
    }
    assert_eq!(a.len(), b.len(), "{what}");
}

#[test]
fn all_shared_is_the_fit_of_the_pooled_trials() {
    let grid = SPEC.build().unwrap();
    let data = data();
    let m = model(&grid, 0.0);
    let models = ConditionModels::new(vec![m.clone(); 3], ParameterSharing::default()).unwrap();
    let request = GradRequest {
        force: true,
        d: true,
        ..GradRequest::default()
    };
    let mut several = fit(
        data.clone(),
        Params::from_models(&models, false).unwrap(),
        config(request),
    );
    several.run(&mut []).unwrap();
    let pooled_trials = data
        .trials()
        .iter()
        .map(|t| t.clone().with_condition(0))
        .collect();
    let pooled = SpikeData::new(2, pooled_trials).unwrap();
    let pooled = pooled.clone();
    let mut one = fit(
        pooled,
        Params::from_model(&m, false).unwrap(),
        config(request),
    );
    one.run(&mut []).unwrap();
    let (a, b) = (&several.state().params, &one.state().params);
    close(&a.force, &b.force, "F");
    close(&[a.d], &[b.d], "D");
    assert_ne!(a.force, m.force(), "F did not move");
    let others = &a.conditions.as_ref().unwrap().others;
    assert!(
        others
            .iter()
            .all(|o| o.force.is_none() && o.force0.is_none())
    );
    for (x, y) in several.path().records.iter().zip(&one.path().records) {
        assert!((x.train_neg_loglik - y.train_neg_loglik).abs() < 1e-8 * y.train_neg_loglik.abs());
    }
}

#[test]
fn a_per_condition_p0_moves_as_in_its_own_conditions_fit() {
    let grid = SPEC.build().unwrap();
    let data = data();
    let sharing = ParameterSharing {
        force0: Sharing::PerCondition,
        ..ParameterSharing::default()
    };
    let start = [-0.2, 0.0, 0.2];
    let models =
        ConditionModels::new(start.iter().map(|&s| model(&grid, s)).collect(), sharing).unwrap();
    let request = GradRequest {
        force0: true,
        ..GradRequest::default()
    };
    let mut several = fit(
        data.clone(),
        Params::from_models(&models, false).unwrap(),
        config(request),
    );
    several.run(&mut []).unwrap();
    let params = &several.state().params;
    let fitted: Vec<&Vec<f64>> = std::iter::once(params.force0.as_ref().unwrap())
        .chain(
            params
                .conditions
                .as_ref()
                .unwrap()
                .others
                .iter()
                .map(|o| o.force0.as_ref().unwrap()),
        )
        .collect();
    let parts = data.by_condition().unwrap();
    for (c, part) in parts.into_iter().enumerate() {
        let trials = part
            .trials()
            .iter()
            .map(|t| t.clone().with_condition(0))
            .collect();
        let alone = SpikeData::new(2, trials).unwrap();
        let m = &models.models()[c];
        let initial = Params::from_model(m, false).unwrap();
        let mut one = fit(alone, initial.clone(), config(request));
        one.run(&mut []).unwrap();
        let f0 = one.state().params.force0.as_ref().unwrap();
        close(fitted[c], f0, &format!("F0 of condition {c}"));
        assert_ne!(Some(f0), initial.force0.as_ref(), "F0 did not move");
    }
    // The feature complexity of the initial model: the mean over the conditions of
    // (1/4) int F^2 peq + (1/4) int F0^2 p0.
    let expected: f64 = models
        .models()
        .iter()
        .map(|m| {
            let f0 = Params::from_model(m, false).unwrap().force0.unwrap();
            feature_complexity(grid.w(), m.peq(), &m.force()).unwrap()
                + feature_complexity(grid.w(), m.p0().unwrap(), &f0).unwrap()
        })
        .sum::<f64>()
        / 3.0;
    let first = several.path().records[0].feature_complexity;
    assert!(
        (first - expected).abs() < 1e-12 * expected,
        "{first} vs {expected}"
    );
    // Only the fitted p0 changed: the shared potential and D did not move.
    assert_eq!(params.force, models.models()[0].force());
}

#[test]
fn a_fit_of_several_conditions_resumes_bit_for_bit() {
    let grid = SPEC.build().unwrap();
    let data = data();
    let sharing = ParameterSharing {
        force0: Sharing::PerCondition,
        rates: Sharing::PerCondition,
        ..ParameterSharing::default()
    };
    let models =
        ConditionModels::new(STARTS.iter().map(|&s| model(&grid, s)).collect(), sharing).unwrap();
    let params = Params::from_models(&models, true).unwrap();
    let base = FitConfig {
        iterations: 12,
        method: Method::Rkc(Default::default()),
        fit: GradRequest::ALL,
        ..FitConfig::default()
    };
    let mut straight = fit(data.clone(), params.clone(), base.clone());
    straight.run(&mut []).unwrap();
    let dir = std::env::temp_dir().join(format!("lf-conditions-{}", std::process::id()));
    let cp = dir.join("fit.ckpt");
    let mut first = fit(
        data.clone(),
        params,
        FitConfig {
            iterations: 6,
            checkpoint: Some(CheckpointConfig {
                path: cp.clone(),
                every: 1,
            }),
            ..base.clone()
        },
    );
    first.run(&mut []).unwrap();
    let problem = SpikeProblem::new(
        grid.clone(),
        BoundaryMode::Absorbing,
        data,
        None,
        NV,
        Box::new(BandedSolver::default()),
    );
    let mut resumed = Fit::resume(problem, base, &cp).unwrap();
    resumed.run(&mut []).unwrap();
    assert_eq!(straight.state(), resumed.state());
    std::fs::remove_dir_all(&dir).ok();
}
