//! A recording as a new user has it: 20 neurons of unknown tuning (`fixtures/data/
//! twenty_neurons.npz`, the paper's double well behind them; written by
//! `cargo run --release -p latentflow --example twenty_neurons`). `select` with the tuning
//! fitted and no learning-rate flags must not diverge and must recover the two wells by
//! feature consistency, with the tuning curves drawn.

use std::path::{Path, PathBuf};
use std::process::Command;

use latentflow::select::{find_wells, symmetric_kl};
use latentflow::synth::Potential;
use serde_json::Value;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/data/twenty_neurons.npz")
}

fn fresh(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("latentflow-twenty-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    d
}

/// Runs `select` on the example with `extra` options; returns report.json.
fn select(out: &Path, extra: &[&str]) -> Value {
    let status = Command::new(env!("CARGO_BIN_EXE_latentflow"))
        .args(["select", "--data"])
        .arg(data())
        .arg("--out")
        .arg(out)
        .args(["--rate", "mean", "--fit", "F,Fr,C", "--quiet"])
        .args(extra)
        .status()
        .unwrap();
    assert!(status.success(), "select failed: {status}");
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Checks the report: the selected models of both halves have two wells and lie within
/// symmetrised KL 0.05 of the truth; tuning curves drawn.
fn check(report: &Value, out: &Path) {
    let fc = &report["feature_consistency"];
    for half in ["half1", "half2"] {
        let (x, w, peq) = (
            numbers(&fc[half]["x"]),
            numbers(&fc[half]["w"]),
            numbers(&fc[half]["peq"]),
        );
        let truth = Potential::paper_double_well().peq(&x, &w).unwrap();
        let kl = symmetric_kl(&w, &peq, &truth).unwrap();
        let wells = find_wells(&x, &peq, 0.1).unwrap();
        eprintln!(
            "{half}: M* {}, KL to truth {kl:.4}, wells {wells:?}",
            fc["m_star"]
        );
        assert!(kl < 0.05, "{half}: KL {kl}");
        assert_eq!(wells.len(), 2, "{half}: wells {wells:?}");
    }
    assert!(out.join("potentials.png").exists());
    eprintln!("step control: {}", report["step_control"]);
    eprintln!("orientation: {}", report["orientation"]);
}

/// The command on the paper's grid (256 x 8, 64 modes), as a user runs it: about a
/// minute with the RKC default (it took minutes with gradient descent).
#[test]
fn twenty_neurons_recover_two_wells_without_rate_flags() {
    let out = fresh("paper");
    let report = select(&out, &[]);
    check(&report, &out);
}
