//! The posterior of the latent and the Viterbi path (docs/method.md §11): the posterior
//! integrates to 1 at every time, agrees with the likelihood (inserting a spike of neuron n at
//! time t multiplies L by the posterior mean of f_n(x(t)), so at the trial's end the posterior
//! is the forward pass's filtering density), on both boundaries and with a non-equilibrium p0;
//! the model's predicted rates start from p0 and relax to peq; Viterbi paths equal the original
//! package's (`fixtures/reference_viterbi`).

mod common;

use common::{case_files, floats, load};
use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{Density, Likelihood, LikelihoodError};
use latentflow_spectral::{BandedSolver, BoundaryMode};
use proptest::prelude::*;

fn setup(case: &common::Case) -> Likelihood {
    Likelihood::new(&case.model, case.nv, &BandedSolver::default()).unwrap()
}

fn neg_loglik(lik: &Likelihood, trial: &Trial) -> f64 {
    let data = SpikeData::new(lik.model().num_neurons(), vec![trial.clone()]).unwrap();
    lik.neg_loglik(&data).unwrap()
}

/// `trial` with a spike of `neuron` inserted at time `t` (strictly inside an interval, or at the
/// trial's end when `t` is the duration: then the trial ends with that spike).
fn with_spike(trial: &Trial, t: f64, neuron: u32) -> Trial {
    let mut isi = Vec::new();
    let mut ids = Vec::new();
    let mut start = 0.0;
    let mut inserted = false;
    for (&dt, &n) in trial.isi().iter().zip(trial.neuron()) {
        let end = start + dt;
        if !inserted && t > start && t < end {
            isi.push(t - start);
            ids.push(Some(neuron));
            isi.push(end - t);
            inserted = true;
        } else {
            isi.push(dt);
        }
        ids.push(n);
        start = end;
    }
    if !inserted {
        // At the end: replace a final silent interval's end by the spike.
        assert!(ids.last() == Some(&None) && (t - start).abs() < 1e-12);
        *ids.last_mut().unwrap() = Some(neuron);
    }
    Trial::new(isi, ids)
        .unwrap()
        .with_censored(trial.censored())
}

/// Times inside up to 8 intervals spread over the trial (not at events), at those intervals'
/// ends and at both ends of the trial.
fn probe_times(trial: &Trial) -> Vec<f64> {
    let isi = trial.isi();
    let step = isi.len().div_ceil(8);
    let mut times = vec![0.0];
    let mut t = 0.0;
    for (i, dt) in isi.iter().enumerate() {
        if i % step == 0 || i == isi.len() - 1 {
            times.push(t + 0.37 * dt);
            times.push(t + dt);
        }
        t += dt;
    }
    times
}

#[test]
fn posterior_integrates_to_one_and_matches_spike_insertion() {
    for path in case_files("reference") {
        let case = load(&path);
        let lik = setup(&case);
        let grid = case.model.grid();
        let absorbing = case.model.boundary() == BoundaryMode::Absorbing;
        for (k, trial) in case.data.trials().iter().enumerate() {
            let times = probe_times(trial);
            let post = lik.posterior(k, trial, &times, Density::Keep).unwrap();
            for (t, p) in times.iter().zip(&post.density) {
                let mass = grid.integrate(p);
                assert!(
                    (mass - 1.0).abs() < 1e-8,
                    "{}: trial {k} at t = {t}: integral {mass}",
                    case.name
                );
            }
            let base = neg_loglik(&lik, trial);
            let duration = trial.duration();
            for (j, &t) in times.iter().enumerate() {
                // Inside intervals (every other probe), and at the end of a reflecting trial:
                // the filtering density of the forward pass.
                let inside = j % 2 == 1;
                let at_end = j == times.len() - 1 && !absorbing;
                if !(inside || at_end) {
                    continue;
                }
                for (n, rate) in case.model.rates().iter().enumerate() {
                    let inserted = with_spike(trial, t, n as u32);
                    let ratio = (base - neg_loglik(&lik, &inserted)).exp();
                    let f: Vec<f64> = post.density[j]
                        .iter()
                        .zip(rate)
                        .map(|(p, f)| p * f)
                        .collect();
                    let expect = grid.integrate(&f);
                    assert!(
                        ((expect - ratio) / ratio).abs() < 1e-7,
                        "{}: trial {k}, t = {t} of {duration}, neuron {n}: E[f] = {expect}, L ratio {ratio}",
                        case.name
                    );
                }
            }
            for j in 0..times.len() {
                assert!(
                    post.lower[j] <= post.mean[j] + 1e-9 && post.mean[j] <= post.upper[j] + 1e-9
                );
                assert!(post.sd[j] >= 0.0);
            }
        }
    }
}

#[test]
fn posterior_rejects_bad_times() {
    let case = load(&case_files("reference")[0]);
    let lik = setup(&case);
    let trial = &case.data.trials()[0];
    let d = trial.duration();
    for times in [
        vec![-0.1],
        vec![d * 1.01],
        vec![0.5 * d, 0.1 * d],
        vec![f64::NAN],
    ] {
        let err = lik.posterior(0, trial, &times, Density::Keep).unwrap_err();
        assert!(
            matches!(err, LikelihoodError::InvalidRequest(_)),
            "{times:?}: {err}"
        );
    }
}

#[test]
fn viterbi_equals_the_original() {
    for path in case_files("reference_viterbi") {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // A case refers to its model and trials in fixtures/reference, or holds them itself.
        let case = match v["source"].as_str() {
            Some(source) => load(&path.parent().unwrap().join(source)),
            None => load(&path),
        };
        let lik = setup(&case);
        let reflecting = case.model.boundary() == BoundaryMode::Reflecting;
        let expected = v["state_inds"].as_array().unwrap();
        assert_eq!(expected.len(), case.data.num_trials(), "{}", path.display());
        for (k, (trial, theirs)) in case.data.trials().iter().zip(expected).enumerate() {
            let theirs: Vec<usize> = floats(theirs).iter().map(|&s| s as usize).collect();
            let ours = lik.viterbi(k, trial).unwrap();
            let x = floats(&v["trajectory"][k]);
            // The original leaves its last state index 0 with reflecting bounds; its
            // trajectory holds the end point.
            let compare = if reflecting {
                theirs.len() - 1
            } else {
                theirs.len()
            };
            assert_eq!(
                &ours.states[..compare],
                &theirs[..compare],
                "{}: trial {k}",
                path.display()
            );
            let err = ours
                .x
                .iter()
                .zip(&x)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                err < 1e-12,
                "{}: trial {k}: x differs by {err}",
                path.display()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random trials on every reference model (both boundaries, equilibrium and not): the
    /// posterior integrates to 1 at random times, and its mean lies inside the domain.
    #[test]
    fn posterior_is_normalised_on_random_trials(
        case_index in 0usize..5,
        events in proptest::collection::vec((0.001f64..0.2, 0u32..8), 1..30),
        censored in any::<bool>(),
        fractions in proptest::collection::vec(0.0f64..1.0, 1..20),
    ) {
        let files = case_files("reference");
        let case = load(&files[case_index % files.len()]);
        let lik = setup(&case);
        let grid = case.model.grid();
        let neurons = case.model.num_neurons() as u32;
        let mut isi: Vec<f64> = events.iter().map(|e| e.0).collect();
        let mut ids: Vec<Option<u32>> = events.iter().map(|e| Some(e.1 % neurons)).collect();
        isi.push(0.05);
        ids.push(None);
        let trial = Trial::new(isi, ids).unwrap().with_censored(censored);
        let duration = trial.duration();
        let mut times: Vec<f64> = fractions.iter().map(|f| f * duration).collect();
        times.sort_by(f64::total_cmp);
        let post = lik.posterior(0, &trial, &times, Density::Keep).unwrap();
        for (t, p) in times.iter().zip(&post.density) {
            let mass = grid.integrate(p);
            prop_assert!((mass - 1.0).abs() < 1e-8, "{}: t = {t}: integral {mass}", case.name);
        }
        for m in &post.mean {
            prop_assert!(*m >= grid.xbegin() - 1e-9 && *m <= grid.xend() + 1e-9);
        }
    }
}

#[test]
fn predicted_rates_start_at_p0_and_relax_to_peq() {
    for path in case_files("reference") {
        let case = load(&path);
        let lik = setup(&case);
        let grid = case.model.grid();
        let peq = case.model.peq();
        let p0 = case.model.p0().unwrap_or(peq);
        let mean = |p: &[f64], f: &[f64]| {
            let fp: Vec<f64> = f.iter().zip(p).map(|(f, p)| f * p).collect();
            grid.integrate(&fp) / grid.integrate(p)
        };
        let rates = lik.predicted_rates(&[0.0, 100.0]).unwrap();
        for (n, f) in case.model.rates().iter().enumerate() {
            let start = mean(p0, f);
            // p0 is represented in the kept modes only (exact for an equilibrium model).
            assert!(
                ((rates[n][0] - start) / start).abs() < 1e-3,
                "{}: neuron {n}: {} vs {start}",
                case.name,
                rates[n][0]
            );
            if case.model.boundary() == BoundaryMode::Reflecting {
                let end = mean(peq, f);
                assert!(
                    ((rates[n][1] - end) / end).abs() < 1e-9,
                    "{}: neuron {n}",
                    case.name
                );
            }
        }
    }
    let case = load(&case_files("reference")[0]);
    assert!(setup(&case).predicted_rates(&[-1.0]).is_err());
}
