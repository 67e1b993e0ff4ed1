//! Recovery of the paper's double well by gradient descent on F from the paper's initial
//! cos^2 model (D and the rate known, as in the paper). The full version (~200,000 spikes,
//! paper grid) is `#[ignore]`d; run it with
//! `cargo test --release -p latentflow-optim --test recovery -- --ignored`.

use std::sync::Arc;

use latentflow_likelihood::force_from_peq;
use latentflow_optim::{Fit, FitConfig, LearningRates, Params, Rates, SaveSchedule, SpikeProblem};
use latentflow_select::symmetric_kl;
use latentflow_spectral::{BandedSolver, BoundaryMode, Grid, GridSpec};
use latentflow_synth::{Amount, Potential, SimulationConfig, Simulator, TrialLength, TuningCurve};

/// Fits F for `iterations` steps on `spikes` spikes of the paper's ground truth and returns
/// (symmetrised KL of the initial model to the truth, of the final model to the truth).
fn recover(
    ne: usize,
    nv: usize,
    spikes: u64,
    iterations: u64,
    learning_rates: LearningRates,
) -> (f64, f64) {
    let grid = Arc::new(Grid::new(-1.0, 1.0, ne, 8).unwrap());
    let (x, w) = (grid.x(), grid.w());
    let truth = Potential::paper_double_well().peq(x, w).unwrap();
    let initial = Potential::cos_squared().peq(x, w).unwrap();
    let sim = Simulator::new(SimulationConfig::paper()).unwrap();
    let data = sim
        .run(Amount::Spikes(spikes), TrialLength::Fixed(10.0), 2020)
        .unwrap()
        .data;
    let tuning = TuningCurve::paper();
    let params = Params {
        force: force_from_peq(&grid, &initial).unwrap(),
        d: 10.0,
        force0: None,
        rates: Rates::Fixed(vec![x.iter().map(|&x| tuning.rate(x)).collect()]),
        conditions: None,
    };
    let problem = SpikeProblem::new(
        grid.clone(),
        BoundaryMode::Reflecting,
        data,
        None,
        nv,
        Box::new(BandedSolver::default()),
    );
    let config = FitConfig {
        iterations,
        learning_rates,
        save: SaveSchedule {
            dense_until: 0,
            per_decade: 1,
        },
        ..FitConfig::default()
    };
    let grid_spec = GridSpec::of(&grid);
    let mut fit = Fit::new(
        problem,
        params,
        config,
        grid_spec,
        BoundaryMode::Reflecting,
        nv,
    )
    .unwrap();
    fit.run(&mut []).unwrap();
    let last = fit
        .state()
        .params
        .to_model(&grid, BoundaryMode::Reflecting)
        .unwrap();
    (
        symmetric_kl(w, &initial, &truth).unwrap(),
        symmetric_kl(w, last.peq(), &truth).unwrap(),
    )
}

/// CI version: 20,000 spikes on a 64-element grid, 300 steps. The initial cos^2 model is far
/// from the double well (symmetrised KL ~1); the fit must close most of that gap.
#[test]
fn gradient_descent_moves_towards_the_double_well() {
    // The paper's absolute rate: on 20,000 spikes twice the paper's step per spike.
    let (start, end) = recover(64, 32, 20_000, 300, LearningRates::paper());
    eprintln!("symmetrised KL to truth: initial {start:.4}, after 300 steps {end:.4}");
    assert!(end < 0.1 * start, "KL {start} -> {end}");
}

/// The recovery test: ~200,000 spikes, paper grid (Ne = 256, Np = 8, Nv = 64).
///
/// -log L and its gradient are sums over spikes, so a step of a given learning rate grows with
/// the data: the paper's rate 0.005 is for halves of ~10,000 spikes, and on 200,000 spikes it
/// overshoots (measured: symmetrised KL to the truth 0.60 -> 1.60 after 2,000 steps). The
/// default per-spike rate ([`latentflow_optim::RateScale::PerSpike`]) gives the same step per
/// spike as the paper's on 10,000: 0.005 x 10,000 / 200,000.
#[test]
#[ignore = "about 10 minutes; run with --ignored"]
fn paper_recovery_on_200k_spikes() {
    let (start, end) = recover(256, 64, 200_000, 2_000, LearningRates::default());
    eprintln!("symmetrised KL to truth: initial {start:.4}, final {end:.4}");
    assert!(end < 0.02, "KL {start} -> {end}");
}
