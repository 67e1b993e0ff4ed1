//! Loading the reference cases of `fixtures/` (format in `fixtures/README.md`), shared by the
//! tests that compare with the original package.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{Model, ModelParts};
use latentflow_spectral::{BoundaryMode, Grid};
use serde_json::Value;

/// The `*.json` files of `fixtures/<dir>`, or of `$LATENTFLOW_REFERENCE_DIR` if set and `dir`
/// is `reference`.
pub fn case_files(dir: &str) -> Vec<PathBuf> {
    let dir = std::env::var_os("LATENTFLOW_REFERENCE_DIR")
        .filter(|_| dir == "reference")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../fixtures")
                .join(dir)
        });
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no reference cases in {}", dir.display());
    files
}

pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// The case's grid (`grid`: xbegin, xend, ne, np).
pub fn grid_of(v: &Value) -> Arc<Grid> {
    let g = &v["grid"];
    Arc::new(
        Grid::new(
            g["xbegin"].as_f64().unwrap(),
            g["xend"].as_f64().unwrap(),
            g["ne"].as_u64().unwrap() as usize,
            g["np"].as_u64().unwrap() as usize,
        )
        .unwrap(),
    )
}

/// The case's boundary mode.
pub fn boundary_of(v: &Value) -> BoundaryMode {
    match v["boundary"].as_str().unwrap() {
        "reflecting" => BoundaryMode::Reflecting,
        "absorbing" => BoundaryMode::Absorbing,
        other => panic!("unknown boundary {other}"),
    }
}

/// The case's trials (`{isi, neuron}` with -1 for the final interval, and `condition` if
/// present).
pub fn trials_of(v: &Value) -> Vec<Trial> {
    v["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let neuron = t["neuron"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| u32::try_from(n.as_i64().unwrap()).ok())
                .collect();
            let trial = Trial::new(floats(&t["isi"]), neuron).unwrap();
            match t["condition"].as_u64() {
                Some(c) => trial.with_condition(c as u32),
                None => trial,
            }
        })
        .collect()
}

pub struct Case {
    pub name: String,
    pub grid: Arc<Grid>,
    pub model: Model,
    pub nv: usize,
    pub data: SpikeData,
    pub expected: Value,
    /// The whole case.
    pub json: Value,
}

pub fn load(path: &Path) -> Case {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let grid = grid_of(&v);
    let m = &v["model"];
    for (name, ours) in [("x", grid.x()), ("w", grid.w())] {
        let theirs = floats(&m[name]);
        let err = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            err < 1e-13,
            "{}: grid {name} differs by {err}",
            path.display()
        );
    }
    let boundary = boundary_of(&v);
    let rates: Vec<Vec<f64>> = m["fr"].as_array().unwrap().iter().map(floats).collect();
    let model = Model::new(
        grid.clone(),
        ModelParts {
            boundary,
            peq: floats(&m["peq"]),
            p0: (!m["p0"].is_null()).then(|| floats(&m["p0"])),
            d: m["d"].as_f64().unwrap(),
            rates,
        },
    )
    .unwrap();
    let trials = trials_of(&v);
    let data = SpikeData::new(model.num_neurons(), trials).unwrap();
    Case {
        name: v["name"].as_str().unwrap_or("?").to_string(),
        grid,
        model,
        nv: v["nv"].as_u64().unwrap() as usize,
        data,
        expected: v["expected"].clone(),
        json: v.clone(),
    }
}
