//! Decision trials in several conditions (docs/method.md §12): free diffusion between absorbing
//! bounds at -1 and 1, each condition starting from its own narrow p0; the fraction of trials
//! that end at +1 is the gambler's-ruin probability (x0 + 1) / 2 of its start, trials carry
//! their condition, and the same seed gives the same data.

use latentflow_spectral::BoundaryMode;
use latentflow_synth::{
    Amount, InitialState, Potential, SimulationConfig, Simulator, TrialLength, TuningCurve,
};

fn decision(start: f64) -> Simulator {
    Simulator::new(SimulationConfig {
        potential: Potential::uniform(),
        initial: InitialState::Density {
            potential: Potential::from_fn(move |x| (x - start) * (x - start) / (2.0 * 0.02 * 0.02)),
        },
        d: 1.0,
        boundary: BoundaryMode::Absorbing,
        xbegin: -1.0,
        xend: 1.0,
        neurons: vec![TuningCurve::constant(5.0); 2],
        dt: 1e-4,
        latent_stride: Some(50),
    })
    .unwrap()
}

#[test]
fn each_condition_ends_at_the_upper_bound_as_often_as_gamblers_ruin_says() {
    let starts = [-0.4, 0.0, 0.4];
    let sims: Vec<Simulator> = starts.iter().map(|&s| decision(s)).collect();
    let out =
        Simulator::run_conditions(&sims, Amount::Trials(400), TrialLength::Fixed(50.0), 3).unwrap();
    assert_eq!(out.data.num_conditions(), 3);
    assert_eq!(out.data.num_trials(), 1200);
    let trials = out.data.trials();
    for (c, &x0) in starts.iter().enumerate() {
        let mine: Vec<usize> = (0..trials.len())
            .filter(|&k| trials[k].condition() == c as u32)
            .collect();
        assert_eq!(mine.len(), 400);
        assert!(
            mine.iter().all(|&k| !trials[k].censored()),
            "a trial of 50 s was not absorbed"
        );
        let up = mine
            .iter()
            .filter(|&&k| *out.latent[k].x.last().unwrap() > 0.0)
            .count();
        let frac = up as f64 / 400.0;
        let expect = (x0 + 1.0) / 2.0;
        // Binomial sd <= 0.025: four of them.
        assert!(
            (frac - expect).abs() < 0.1,
            "condition {c}: {frac} ended at +1, expected {expect}"
        );
    }
    let again =
        Simulator::run_conditions(&sims, Amount::Trials(400), TrialLength::Fixed(50.0), 3).unwrap();
    assert_eq!(again, out);
    let other =
        Simulator::run_conditions(&sims, Amount::Trials(400), TrialLength::Fixed(50.0), 4).unwrap();
    assert_ne!(other.data, out.data);
}

#[test]
fn conditions_need_the_same_neurons() {
    let mut sims = vec![decision(0.0)];
    sims.push(
        Simulator::new(SimulationConfig {
            neurons: vec![TuningCurve::constant(5.0)],
            ..decision(0.0).config().clone()
        })
        .unwrap(),
    );
    let err = Simulator::run_conditions(&sims, Amount::Trials(2), TrialLength::Fixed(1.0), 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("condition 1"), "{err}");
}
