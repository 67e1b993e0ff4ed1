//! Every bad input gives its named error (never a panic, never a NaN result).
//!
//! `LikelihoodError` variants and how user input reaches them:
//! - `InvalidModel`: `Model::new` (D, densities, rates), `peq_from_force`, `force_from_peq`,
//!   `rate_from_fr`, `fr_from_rate`;
//! - `DataModelMismatch`: data with another neuron count than the model's, censored trials
//!   on a reflecting model;
//! - `ImpossibleSpike`: a spike of a neuron whose rate is zero everywhere;
//! - `InvalidRequest`: an F0 gradient of an equilibrium model, a C gradient with f_n(a) = 0;
//! - `Spectral`: nv = 0 or nv above the N - 2 available modes.
//!
//! Not reachable from valid public input, so not tested here: `NeuronOutOfRange` (a
//! `SpikeData` never holds an id >= its neuron count, and the likelihood rejects data with more
//! neurons than the model before any pass), `NonPositiveNormaliser` (the messages are
//! renormalised at every step and the slowest dark mode is never cut, so c_end > 0 for any
//! valid model and trial), and the "no component in the kept modes" `InvalidModel` of the
//! set-up (p0 > 0 always overlaps the positive ground state).

use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{
    GradRequest, Likelihood, LikelihoodError, Model, ModelParts, force_from_peq, fr_from_rate,
    peq_from_force, rate_from_fr,
};
use latentflow_spectral::{BoundaryMode, DenseSolver, Grid, SpectralError};

/// Every gradient an equilibrium model has.
const ALL_BUT_F0: GradRequest = GradRequest {
    force0: false,
    ..GradRequest::ALL
};

fn grid() -> Arc<Grid> {
    Arc::new(Grid::new(-1.0, 1.0, 8, 6).unwrap())
}

fn good_parts(grid: &Grid) -> ModelParts {
    let force: Vec<f64> = grid.x().iter().map(|&x| -2.0 * x).collect();
    ModelParts {
        boundary: BoundaryMode::Reflecting,
        peq: peq_from_force(grid, &force).unwrap(),
        p0: None,
        d: 1.0,
        rates: vec![
            grid.x().iter().map(|&x| 20.0 + 10.0 * x).collect(),
            vec![5.0; grid.n()],
        ],
    }
}

fn data(num_neurons: usize) -> SpikeData {
    let trials = vec![
        Trial::new(vec![0.1, 0.05, 0.2], vec![Some(0), Some(1), None]).unwrap(),
        Trial::new(vec![0.03, 0.07, 0.01], vec![Some(1), Some(0), Some(0)]).unwrap(),
    ];
    SpikeData::new(num_neurons, trials).unwrap()
}

/// Asserts an `InvalidModel` error whose message mentions `needle`.
#[track_caller]
fn invalid_model<T: std::fmt::Debug>(r: Result<T, LikelihoodError>, needle: &str) {
    match r {
        Err(LikelihoodError::InvalidModel(msg)) => {
            assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}")
        }
        other => panic!("expected InvalidModel({needle}), got {other:?}"),
    }
}

fn with(grid: &Arc<Grid>, edit: impl FnOnce(&mut ModelParts)) -> Result<Model, LikelihoodError> {
    let mut parts = good_parts(grid);
    edit(&mut parts);
    Model::new(grid.clone(), parts)
}

#[test]
fn the_good_model_is_accepted() {
    let g = grid();
    let m = with(&g, |_| {}).unwrap();
    let lik = Likelihood::new(&m, 10, &DenseSolver).unwrap();
    let (nll, grads) = lik.neg_loglik_and_grad(&data(2), ALL_BUT_F0).unwrap();
    assert!(nll.is_finite() && grads.force.unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn bad_d_is_invalid_model() {
    let g = grid();
    for d in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        invalid_model(with(&g, |p| p.d = d), "D must be finite and > 0");
    }
}

#[test]
fn bad_densities_are_invalid_model() {
    let g = grid();
    let n = g.n();
    let peq = good_parts(&g).peq;
    // Each bad density, as peq and as p0.
    let cases: Vec<(Vec<f64>, &str)> = vec![
        (peq.iter().map(|v| 2.0 * v).collect(), "not normalised"),
        (
            peq.iter().map(|v| v * (1.0 + 1e-4)).collect(),
            "not normalised",
        ),
        (peq[..n - 1].to_vec(), "values, the grid has"),
        (vec![1.0; n + 1], "values, the grid has"),
        (vec![], "values, the grid has"),
        (
            {
                let mut p = peq.clone();
                p[3] = -p[3];
                p
            },
            "at node 3",
        ),
        (
            {
                let mut p = peq.clone();
                p[0] = 0.0;
                p
            },
            "at node 0",
        ),
        (
            {
                let mut p = peq.clone();
                p[5] = f64::NAN;
                p
            },
            "at node 5",
        ),
        (
            {
                let mut p = peq.clone();
                p[n - 1] = f64::INFINITY;
                p
            },
            "at node",
        ),
    ];
    for (bad, needle) in &cases {
        invalid_model(with(&g, |p| p.peq = bad.clone()), needle);
        invalid_model(with(&g, |p| p.p0 = Some(bad.clone())), needle);
        invalid_model(force_from_peq(&g, bad), needle);
    }
    // Within the documented tolerance, a density is accepted.
    let nearly: Vec<f64> = peq.iter().map(|v| v * (1.0 + 1e-8)).collect();
    assert!(with(&g, |p| p.peq = nearly).is_ok());
}

#[test]
fn bad_rates_are_invalid_model() {
    let g = grid();
    let n = g.n();
    invalid_model(with(&g, |p| p.rates.clear()), "at least one neuron");
    invalid_model(with(&g, |p| p.rates[1].truncate(n - 1)), "neuron 1 has");
    invalid_model(with(&g, |p| p.rates[0].push(1.0)), "neuron 0 has");
    for (v, i) in [(-1e-9, 2), (f64::NAN, 0), (f64::INFINITY, n - 1)] {
        invalid_model(
            with(&g, |p| p.rates[1][i] = v),
            &format!("neuron 1 at node {i}"),
        );
    }
    // Zero rates are valid (a silent neuron).
    assert!(with(&g, |p| p.rates[1] = vec![0.0; n]).is_ok());
}

#[test]
fn bad_parametrisations_are_invalid_model() {
    let g = grid();
    let n = g.n();
    invalid_model(peq_from_force(&g, &vec![0.0; n - 1]), "force has");
    let mut f = vec![0.0; n];
    f[4] = f64::NAN;
    invalid_model(peq_from_force(&g, &f), "force at node 4");
    // A force so steep that peq underflows at the far end.
    let steep: Vec<f64> = vec![-1e4; n];
    invalid_model(peq_from_force(&g, &steep), "underflows");

    let fr = vec![0.5; n];
    for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        invalid_model(rate_from_fr(&g, &fr, c), "C must be finite");
    }
    invalid_model(rate_from_fr(&g, &fr[1..], 1.0), "finite values");
    invalid_model(rate_from_fr(&g, &f, 1.0), "finite values");
    let mut rate = vec![3.0; n];
    invalid_model(fr_from_rate(&g, &rate[1..]), "finite values > 0");
    rate[2] = 0.0;
    invalid_model(fr_from_rate(&g, &rate), "finite values > 0");
}

#[test]
fn more_neurons_in_the_data_than_rates_is_a_mismatch() {
    let g = grid();
    let m = with(&g, |p| p.rates.truncate(1)).unwrap();
    let lik = Likelihood::new(&m, 10, &DenseSolver).unwrap();
    let d = data(2);
    let mismatch = |r: Result<_, LikelihoodError>| {
        assert!(
            matches!(&r, Err(LikelihoodError::DataModelMismatch(msg)) if msg.contains("2 neurons")),
            "{r:?}"
        )
    };
    mismatch(lik.neg_loglik(&d).map(|_| ()));
    mismatch(lik.neg_loglik_per_trial(&d).map(|_| ()));
    mismatch(lik.neg_loglik_and_grad(&d, GradRequest::FORCE).map(|_| ()));
    // Fewer neurons in the data than in the model is a mismatch too: the counts must be equal.
    let m2 = with(&g, |_| {}).unwrap();
    let lik2 = Likelihood::new(&m2, 10, &DenseSolver).unwrap();
    let one = SpikeData::new(
        1,
        vec![Trial::new(vec![0.1, 0.1], vec![Some(0), None]).unwrap()],
    )
    .unwrap();
    let r = lik2.neg_loglik(&one);
    assert!(
        matches!(&r, Err(LikelihoodError::DataModelMismatch(msg))
            if msg.contains("1 neuron,") && msg.contains("must be equal")),
        "{r:?}"
    );
}

#[test]
fn spike_of_a_silent_neuron_is_impossible() {
    let g = grid();
    for boundary in [BoundaryMode::Reflecting, BoundaryMode::Absorbing] {
        let m = with(&g, |p| {
            p.boundary = boundary;
            p.rates[1] = vec![0.0; g.n()];
        })
        .unwrap();
        let lik = Likelihood::new(&m, 10, &DenseSolver).unwrap();
        // Only one trial holds a spike of neuron 1 (with several bad trials, which one is
        // reported depends on the parallel schedule).
        let silent0 = Trial::new(vec![0.02, 0.05], vec![Some(0), None]).unwrap();
        let bad = Trial::new(vec![0.1, 0.05, 0.2], vec![Some(0), Some(1), None]).unwrap();
        let d = SpikeData::new(2, vec![bad.clone(), silent0.clone()]).unwrap();
        let impossible = |r: Result<(), LikelihoodError>, trial: usize| match r {
            Err(LikelihoodError::ImpossibleSpike {
                trial: t,
                event: 1,
                neuron: 1,
            }) if t == trial => {}
            other => panic!("{boundary:?}: expected ImpossibleSpike({trial}, 1, 1), got {other:?}"),
        };
        impossible(lik.neg_loglik(&d).map(|_| ()), 0);
        impossible(lik.neg_loglik_per_trial(&d).map(|_| ()), 0);
        let req = GradRequest {
            force: true,
            d: true,
            fr: true,
            ..GradRequest::default()
        };
        impossible(lik.neg_loglik_and_grad(&d, req).map(|_| ()), 0);
        // Reported with the index of the trial where it happens (also past the first work
        // unit of 4 trials of the gradient pass).
        let mut trials = vec![silent0; 6];
        trials.push(bad);
        let later = SpikeData::new(2, trials).unwrap();
        impossible(lik.neg_loglik(&later).map(|_| ()), 6);
        impossible(lik.neg_loglik_and_grad(&later, req).map(|_| ()), 6);
        // Data without spikes of the silent neuron are fine.
        let only0 = SpikeData::new(
            2,
            vec![Trial::new(vec![0.1, 0.2], vec![Some(0), None]).unwrap()],
        )
        .unwrap();
        let (nll, grads) = lik.neg_loglik_and_grad(&only0, req).unwrap();
        assert!(nll.is_finite() && grads.fr.unwrap().iter().flatten().all(|v| v.is_finite()));
    }
}

#[test]
fn gradients_the_model_cannot_give_are_invalid_requests() {
    let g = grid();
    let eq = with(&g, |_| {}).unwrap();
    let lik = Likelihood::new(&eq, 10, &DenseSolver).unwrap();
    let f0 = GradRequest {
        force0: true,
        ..GradRequest::default()
    };
    assert!(
        matches!(lik.neg_loglik_and_grad(&data(2), f0), Err(LikelihoodError::InvalidRequest(m)) if m.contains("F0")),
    );
    let zero_left = with(&g, |p| p.rates[1][0] = 0.0).unwrap();
    let lik = Likelihood::new(&zero_left, 10, &DenseSolver).unwrap();
    let c = GradRequest {
        c: true,
        ..GradRequest::default()
    };
    assert!(
        matches!(lik.neg_loglik_and_grad(&data(2), c), Err(LikelihoodError::InvalidRequest(m)) if m.contains("neuron 1")),
    );
    // The Fr gradient alone is defined there.
    let fr = GradRequest {
        fr: true,
        ..GradRequest::default()
    };
    let (_, grads) = lik.neg_loglik_and_grad(&data(2), fr).unwrap();
    assert!(grads.fr.unwrap().iter().flatten().all(|v| v.is_finite()));
    // An empty request gives -log L and no gradients.
    let (nll, none) = lik
        .neg_loglik_and_grad(&data(2), GradRequest::default())
        .unwrap();
    assert_eq!(nll.to_bits(), lik.neg_loglik(&data(2)).unwrap().to_bits());
    assert_eq!(none, Default::default());
}

#[test]
fn too_many_or_zero_modes_is_a_spectral_error() {
    let g = grid();
    let available = g.n() - 2;
    for boundary in [BoundaryMode::Reflecting, BoundaryMode::Absorbing] {
        let m = with(&g, |p| p.boundary = boundary).unwrap();
        for nv in [0, available + 1, 10 * available] {
            match Likelihood::new(&m, nv, &DenseSolver) {
                Err(LikelihoodError::Spectral(SpectralError::TooManyModes {
                    requested,
                    available: a,
                })) => assert_eq!((requested, a), (nv, available)),
                other => panic!("{boundary:?}, nv {nv}: expected TooManyModes, got {other:?}"),
            }
        }
        assert_eq!(
            Likelihood::new(&m, available, &DenseSolver).unwrap().nv(),
            available
        );
    }
}

#[test]
fn absorbing_trials_ending_in_a_spike_or_censored_are_accepted() {
    // The code checks nothing specific to absorbing trial ends: a trial may end in a spike
    // (absorption right at it) or be censored (survival term only); both give finite values.
    let g = grid();
    let m = with(&g, |p| p.boundary = BoundaryMode::Absorbing).unwrap();
    let lik = Likelihood::new(&m, g.n() - 2, &DenseSolver).unwrap();
    let d = data(2);
    let censored = SpikeData::new(
        2,
        d.trials()
            .iter()
            .map(|t| t.clone().with_censored(true))
            .collect(),
    )
    .unwrap();
    let req = ALL_BUT_F0;
    let (a, ga) = lik.neg_loglik_and_grad(&d, req).unwrap();
    let (b, gb) = lik.neg_loglik_and_grad(&censored, req).unwrap();
    assert!(a.is_finite() && b.is_finite());
    assert!(
        ga.force
            .unwrap()
            .iter()
            .chain(&gb.force.unwrap())
            .all(|v| v.is_finite())
    );
    // Absorption at the end is extra information: the two must differ.
    assert!((a - b).abs() > 1e-6 * a.abs(), "{a} vs {b}");
}

#[test]
fn censored_trials_on_a_reflecting_model_are_a_mismatch() {
    let g = grid();
    let m = with(&g, |_| {}).unwrap();
    let lik = Likelihood::new(&m, 10, &DenseSolver).unwrap();
    let d = data(2);
    let censored = SpikeData::new(
        2,
        d.trials()
            .iter()
            .enumerate()
            .map(|(k, t)| t.clone().with_censored(k == 1))
            .collect(),
    )
    .unwrap();
    let mismatch = |r: Result<(), LikelihoodError>| {
        assert!(
            matches!(&r, Err(LikelihoodError::DataModelMismatch(msg))
                if msg.contains("trial 1 is marked censored") && msg.contains("reflecting")),
            "{r:?}"
        )
    };
    mismatch(lik.neg_loglik(&censored).map(|_| ()));
    mismatch(lik.neg_loglik_per_trial(&censored).map(|_| ()));
    mismatch(lik.neg_loglik_and_grad(&censored, ALL_BUT_F0).map(|_| ()));
    assert!(lik.neg_loglik(&d).unwrap().is_finite());
}

#[test]
fn a_reflecting_model_on_one_element_is_an_invalid_grid() {
    // Strong Neumann at both ends of a single element used to index out of bounds.
    let g = Arc::new(Grid::new(-1.0, 1.0, 1, 4).unwrap());
    invalid_model(with(&g, |_| {}), "at least 2 elements");
    // The spectral crate refuses the problem too (for callers that skip `Model`).
    let peq = vec![0.5; g.n()];
    match latentflow_spectral::FokkerPlanck::new(&g, &peq, 1.0, BoundaryMode::Reflecting) {
        Err(SpectralError::InvalidGrid(msg)) => {
            assert!(msg.contains("at least 2 elements"), "{msg}")
        }
        other => panic!("expected InvalidGrid, got {other:?}"),
    }
    // Absorbing boundaries on one element are fine.
    let m = with(&g, |p| p.boundary = BoundaryMode::Absorbing).unwrap();
    assert_eq!(Likelihood::new(&m, 2, &DenseSolver).unwrap().nv(), 2);
}
