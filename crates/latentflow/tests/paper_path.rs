//! The paper's gradient-descent path must not move: the demo's data (the paper's double well,
//! 20,000 spikes, seed 2020), split into halves, fitted on the paper's grid with the paper's
//! absolute learning rate 0.005 for the first 400 iterations, must give exactly the bits
//! recorded in `fixtures/paths/demo_paper_path.json`. Every number of every iteration is
//! compared as its bit pattern; the saved models by a hash of their bits.
//!
//! History of the fixture: written by the code before step control existed (so step control
//! left the paper's path untouched); recorded anew once, when the eigen solver and the
//! likelihood passes came to share one dot product (eight partial sums instead of the solver's
//! four): every recorded log-likelihood then agreed with the previous recording to 2e-12
//! relative and every feature complexity to 4e-11, over all 400 iterations of both halves.
//!
//! To record the fixture anew (only when a change of the numbers is intended and explained):
//! `LATENTFLOW_BLESS=1 cargo test --release -p latentflow --test paper_path`.

use std::path::PathBuf;

use latentflow::data::Split;
use latentflow::optim::{FitConfig, FitPath, LearningRates};
use latentflow::synth::{Amount, SimulationConfig, Simulator, TrialLength};
use latentflow::{GridSpec, Pipeline, PipelineConfig};
use serde_json::{Value, json};

const ITERATIONS: u64 = 400;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/paths/demo_paper_path.json")
}

/// FNV-1a over the bit patterns of `values`.
fn hash(values: impl IntoIterator<Item = f64>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_bits().to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn bits(v: f64) -> String {
    format!("{:016x}", v.to_bits())
}

/// The numbers of one fit path as bit patterns.
fn describe(path: &FitPath) -> Value {
    json!({
        "records": path.records.iter().map(|r| json!([
            r.iteration,
            bits(r.train_neg_loglik),
            r.validation_neg_loglik.map(bits),
            bits(r.feature_complexity),
        ])).collect::<Vec<_>>(),
        "models": path.models.iter().map(|m| json!([
            m.record.iteration,
            hash(m.peq.iter().copied()),
            hash(m.params.force.iter().copied()),
        ])).collect::<Vec<_>>(),
    })
}

#[test]
fn the_demo_path_with_the_paper_rate_is_bit_identical() {
    let data = Simulator::new(SimulationConfig::paper())
        .unwrap()
        .run(Amount::Spikes(20_000), TrialLength::Fixed(10.0), 2020)
        .unwrap()
        .data;
    let grid = GridSpec::PAPER.build().unwrap();
    let initial = latentflow::paper_initial_model(&grid).unwrap();
    let config = PipelineConfig {
        split: Split::Alternating,
        fit: FitConfig {
            iterations: ITERATIONS,
            learning_rates: LearningRates::paper(),
            ..FitConfig::default()
        },
        ..PipelineConfig::default()
    };
    let result = Pipeline::new(&data, &initial, config)
        .unwrap()
        .run([None, None])
        .unwrap();
    let got = json!({
        "data": { "spikes": data.num_spikes(), "trials": data.num_trials() },
        "iterations": ITERATIONS,
        "half1": describe(&result.paths[0]),
        "half2": describe(&result.paths[1]),
    });
    if std::env::var_os("LATENTFLOW_BLESS").is_some() {
        std::fs::create_dir_all(fixture().parent().unwrap()).unwrap();
        std::fs::write(fixture(), serde_json::to_string(&got).unwrap()).unwrap();
        return;
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    assert_eq!(got["data"], want["data"], "the simulated data changed");
    for half in ["half1", "half2"] {
        for part in ["records", "models"] {
            let (g, w) = (&got[half][part], &want[half][part]);
            let (g, w) = (g.as_array().unwrap(), w.as_array().unwrap());
            assert_eq!(g.len(), w.len(), "{half} {part}: count");
            for (a, b) in g.iter().zip(w) {
                assert_eq!(a, b, "{half} {part}: first difference");
            }
        }
    }
}
