//! Shared set-up for latentflow's criterion benches: the paper's double-well problem and the
//! original package's 10,000-spike benchmark data (`fixtures/bench/paper_double_well_10k.json`).

use std::path::Path;
use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{Model, ModelParts, peq_from_force};
use latentflow_spectral::{BoundaryMode, Grid};

/// D of the paper's ground truth (1/s).
pub const PAPER_D: f64 = 10.0;

/// The paper grid: [-1, 1], 256 elements of 8 GLL nodes (N = 1793).
pub fn paper_grid() -> Arc<Grid> {
    Arc::new(Grid::new(-1.0, 1.0, 256, 8).expect("paper grid"))
}

/// The paper's ground-truth model on `grid`: double well, D = 10, one neuron
/// f(x) = max(100 (x + 1), 1) Hz, with the given boundary mode.
pub fn paper_model(grid: &Arc<Grid>, boundary: BoundaryMode) -> Model {
    let force: Vec<f64> = grid
        .x()
        .iter()
        .map(|&x| {
            let s = x / 0.6;
            -2.0 * (4.0 * s.powi(3) - 4.0 * s) / 0.6
        })
        .collect();
    let rate: Vec<f64> = grid
        .x()
        .iter()
        .map(|x| (100.0 * (x + 1.0)).max(1.0))
        .collect();
    Model::new(
        grid.clone(),
        ModelParts {
            boundary,
            peq: peq_from_force(grid, &force).expect("peq"),
            p0: None,
            d: PAPER_D,
            rates: vec![rate],
        },
    )
    .expect("paper model")
}

/// The original package's benchmark data: one 100 s trial with 9,857 spikes.
pub fn paper_data() -> SpikeData {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bench/paper_double_well_10k.json");
    let text = std::fs::read_to_string(&path).expect("benchmark data");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let trials = trials_from(&v);
    SpikeData::new(1, trials).expect("data")
}

/// The decision-task data of `fixtures/bench/decision_3c.json` (simulated by the original
/// package; `make_decision_3c.py` there): three conditions with a shared potential, D and rates
/// and a p0 per condition, absorbing bounds, five neurons, on grid ne 32, np 8 with all N - 2
/// modes. Returns the condition models, the data and Nv.
pub fn decision_3c() -> (latentflow_likelihood::ConditionModels, SpikeData, usize) {
    use latentflow_likelihood::{ConditionModels, ParameterSharing, Sharing};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bench/decision_3c.json");
    let text = std::fs::read_to_string(&path).expect("decision data");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let g = &v["grid"];
    let grid = Arc::new(
        Grid::new(
            g["xbegin"].as_f64().expect("xbegin"),
            g["xend"].as_f64().expect("xend"),
            g["ne"].as_u64().expect("ne") as usize,
            g["np"].as_u64().expect("np") as usize,
        )
        .expect("grid"),
    );
    let models = v["models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| {
            Model::new(
                grid.clone(),
                ModelParts {
                    boundary: BoundaryMode::Absorbing,
                    peq: floats(&m["peq"]),
                    p0: Some(floats(&m["p0"])),
                    d: m["d"].as_f64().expect("d"),
                    rates: m["fr"].as_array().expect("fr").iter().map(floats).collect(),
                },
            )
            .expect("model")
        })
        .collect();
    let trials = trials_from(&v);
    let sharing = ParameterSharing {
        force0: Sharing::PerCondition,
        ..ParameterSharing::default()
    };
    (
        ConditionModels::new(models, sharing).expect("condition models"),
        SpikeData::new(5, trials).expect("data"),
        v["nv"].as_u64().expect("nv") as usize,
    )
}

/// The original package's -log L per condition of [`decision_3c`]'s data and models.
pub fn decision_3c_expected() -> Vec<f64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bench/decision_3c.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("decision data"))
            .expect("json");
    v["expected_neg_loglik"]
        .as_array()
        .expect("expected_neg_loglik")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// Trials in the `trials` form (`{isi, neuron}`, neuron -1 for the final interval, optional
/// `condition`).
fn trials_from(v: &serde_json::Value) -> Vec<Trial> {
    v["trials"]
        .as_array()
        .expect("trials")
        .iter()
        .map(|t| {
            let neuron = t["neuron"]
                .as_array()
                .expect("neuron")
                .iter()
                .map(|n| u32::try_from(n.as_i64().expect("id")).ok())
                .collect();
            let trial = Trial::new(floats(&t["isi"]), neuron).expect("trial");
            match t["condition"].as_u64() {
                Some(c) => trial.with_condition(c as u32),
                None => trial,
            }
        })
        .collect()
}

/// A JSON list of numbers.
fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}
