//! The original package's -log L at paper scale (ne = 256, np = 8, N = 1793) on its
//! 10,000-spike benchmark data (`fixtures/bench`, `shared/reference/README.md`).

use std::path::Path;
use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{Likelihood, Model, ModelParts, peq_from_force};
use latentflow_spectral::{BandedSolver, BoundaryMode, Grid};

fn data() -> SpikeData {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/bench/paper_double_well_10k.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let trials = v["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let isi = t["isi"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let neuron = t["neuron"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| u32::try_from(n.as_i64().unwrap()).ok())
                .collect();
            Trial::new(isi, neuron).unwrap()
        })
        .collect();
    SpikeData::new(1, trials).unwrap()
}

fn model(boundary: BoundaryMode) -> Model {
    let grid = Arc::new(Grid::new(-1.0, 1.0, 256, 8).unwrap());
    // Double well Phi = 2 (s^4 - 2 s^2), s = x / 0.6; F = -Phi'.
    let force: Vec<f64> = grid
        .x()
        .iter()
        .map(|&x| {
            let s = x / 0.6;
            -2.0 * (4.0 * s.powi(3) - 4.0 * s) / 0.6
        })
        .collect();
    let rate = grid
        .x()
        .iter()
        .map(|x| (100.0 * (x + 1.0)).max(1.0))
        .collect();
    Model::new(
        grid.clone(),
        ModelParts {
            boundary,
            peq: peq_from_force(&grid, &force).unwrap(),
            p0: None,
            d: 10.0,
            rates: vec![rate],
        },
    )
    .unwrap()
}

#[test]
fn reflecting_nv64_matches_the_original() {
    let lik = Likelihood::new(
        &model(BoundaryMode::Reflecting),
        64,
        &BandedSolver::default(),
    )
    .unwrap();
    let nll = lik.neg_loglik(&data()).unwrap();
    let expected = -36039.46996002277;
    assert!(
        ((nll - expected) / expected).abs() < 1e-7,
        "{nll} vs {expected}"
    );
}

#[test]
#[ignore = "all 1791 modes: about a minute; run with --ignored"]
fn absorbing_all_modes_matches_the_original() {
    let m = model(BoundaryMode::Absorbing);
    let nv = m.grid().n() - 2;
    let lik = Likelihood::new(&m, nv, &BandedSolver::default()).unwrap();
    let nll = lik.neg_loglik(&data()).unwrap();
    let expected = -35894.79869397788;
    assert!(
        ((nll - expected) / expected).abs() < 1e-7,
        "{nll} vs {expected}"
    );
}
