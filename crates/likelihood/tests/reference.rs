//! Agreement with the original package's numbers (`fixtures/reference/*.json`, format in
//! `fixtures/README.md`). Set `LATENTFLOW_REFERENCE_DIR` to check every `*.json` in
//! another directory instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use latentflow_data::{SpikeData, Trial};
use latentflow_likelihood::{GradRequest, Likelihood, Model, ModelParts};
use latentflow_spectral::{BandedSolver, BoundaryMode, DenseSolver, EigenSolver, Grid};
use serde_json::Value;

fn case_files() -> Vec<PathBuf> {
    let dir = std::env::var_os("LATENTFLOW_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no reference cases in {}", dir.display());
    files
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

struct Case {
    name: String,
    grid: Arc<Grid>,
    model: Model,
    nv: usize,
    data: SpikeData,
    expected: Value,
}

fn load(path: &Path) -> Case {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let g = &v["grid"];
    let grid = Arc::new(
        Grid::new(
            g["xbegin"].as_f64().unwrap(),
            g["xend"].as_f64().unwrap(),
            g["ne"].as_u64().unwrap() as usize,
            g["np"].as_u64().unwrap() as usize,
        )
        .unwrap(),
    );
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
    let boundary = match v["boundary"].as_str().unwrap() {
        "reflecting" => BoundaryMode::Reflecting,
        "absorbing" => BoundaryMode::Absorbing,
        other => panic!("unknown boundary {other}"),
    };
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
    let trials = v["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let isi = floats(&t["isi"]);
            let neuron = t["neuron"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| u32::try_from(n.as_i64().unwrap()).ok())
                .collect();
            Trial::new(isi, neuron).unwrap()
        })
        .collect();
    let data = SpikeData::new(model.num_neurons(), trials).unwrap();
    Case {
        name: v["name"].as_str().unwrap_or("?").to_string(),
        grid,
        model,
        nv: v["nv"].as_u64().unwrap() as usize,
        data,
        expected: v["expected"].clone(),
    }
}

fn rel_l2(ours: &[f64], theirs: &[f64]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    let num: f64 = ours.iter().zip(theirs).map(|(a, b)| (a - b).powi(2)).sum();
    let den: f64 = theirs.iter().map(|b| b * b).sum();
    (num / den).sqrt()
}

fn rel_max(ours: &[f64], theirs: &[f64]) -> f64 {
    let scale = theirs.iter().map(|b| b.abs()).fold(0.0, f64::max);
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / scale
}

fn check_case(case: &Case, solver: &dyn EigenSolver) {
    let name = format!("{} ({solver:?})", case.name);
    let lik = Likelihood::new(&case.model, case.nv, solver).unwrap();

    let ev = floats(&case.expected["eigenvalues"]);
    let lambda = &lik.modes().lambda;
    for (k, (a, b)) in lambda.iter().zip(&ev).enumerate() {
        if b.abs() < 1e-6 {
            assert!(a.abs() < 1e-8, "{name}: lambda_{k} = {a}, expected ~0");
        } else {
            assert!(
                ((a - b) / b).abs() < 1e-9,
                "{name}: lambda_{k} = {a}, expected {b}"
            );
        }
    }

    let expected_nll = case.expected["neg_loglik"].as_f64().unwrap();
    let nll_only = lik.neg_loglik(&case.data).unwrap();
    assert!(
        ((nll_only - expected_nll) / expected_nll).abs() < 1e-6,
        "{name}: -log L = {nll_only}, expected {expected_nll}"
    );

    let grad = &case.expected["grad"];
    let request = GradRequest {
        force: !grad["F"].is_null(),
        d: !grad["D"].is_null(),
        force0: !grad["F0"].is_null(),
        fr: !grad["Fr"].is_null(),
        c: !grad["C"].is_null(),
    };
    let (nll, got) = lik.neg_loglik_and_grad(&case.data, request).unwrap();
    assert!(
        ((nll - nll_only) / nll_only).abs() < 1e-12,
        "{name}: forward-only and gradient paths disagree: {nll_only} vs {nll}"
    );
    let mut report = vec![format!(
        "{name}: -log L rel err {:.2e}",
        ((nll - expected_nll) / expected_nll).abs()
    )];
    let mut check = |label: &str, ours: &[f64], theirs: &[f64]| {
        let (l2, mx) = (rel_l2(ours, theirs), rel_max(ours, theirs));
        report.push(format!("{label}: rel L2 {l2:.2e}, rel max {mx:.2e}"));
        assert!(l2 < 1e-5, "{name}: grad {label} relative L2 error {l2:.3e}");
    };
    if request.force {
        check("F", got.force.as_ref().unwrap(), &floats(&grad["F"]));
    }
    if request.force0 {
        check("F0", got.force0.as_ref().unwrap(), &floats(&grad["F0"]));
    }
    if request.d {
        check("D", &[got.d.unwrap()], &[grad["D"].as_f64().unwrap()]);
    }
    if request.fr {
        for (n, theirs) in grad["Fr"].as_array().unwrap().iter().enumerate() {
            check(
                &format!("Fr[{n}]"),
                &got.fr.as_ref().unwrap()[n],
                &floats(theirs),
            );
        }
    }
    if request.c {
        check("C", got.c.as_ref().unwrap(), &floats(&grad["C"]));
    }
    println!("{}", report.join("; "));
    let _ = &case.grid;
}

#[test]
fn every_reference_case_matches_with_the_banded_solver() {
    for path in case_files() {
        check_case(&load(&path), &BandedSolver::default());
    }
}

#[test]
fn every_reference_case_matches_with_the_dense_solver() {
    for path in case_files() {
        check_case(&load(&path), &DenseSolver);
    }
}
