//! `--v1-sign-term SEED` (the paper's code's sign error, docs/method.md §10) reaches the fits
//! of `fit` and `experiment` and changes their paths from the first drawn step on; each sample
//! of an experiment draws its own stream; a fit without F is refused in one line.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lf-cli-v1-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the binary; returns (success, stderr).
fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_latentflow"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The training -log L of every iteration of a saved fit path.
fn losses(path: &Path) -> Vec<f64> {
    read(path)["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["train_neg_loglik"].as_f64().unwrap())
        .collect()
}

/// Six trials of 25 spikes at fixed intervals, each with a silent tail.
fn write_data(path: &Path) {
    let isi: Vec<f64> = (0..25).map(|i| 0.01 + 0.002 * (i % 7) as f64).collect();
    let trial = serde_json::json!({
        "isi": isi.iter().copied().chain([0.05]).collect::<Vec<f64>>(),
        "neuron": std::iter::repeat_n(0, 25).chain([-1]).collect::<Vec<i32>>(),
    });
    let data = serde_json::json!({ "trials": vec![trial; 6] });
    std::fs::write(path, data.to_string()).unwrap();
}

#[test]
fn fit_takes_another_path_with_the_term_and_refuses_it_without_f() {
    let d = dir("fit");
    let data = d.join("data.json");
    write_data(&data);
    let fit = |out: &str, extra: &[&str]| {
        let out = d.join(out);
        let mut args = vec![
            "fit",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--ne",
            "8",
            "--np",
            "6",
            "--nv",
            "16",
            "--iterations",
            "12",
            "--absolute-lr",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let (ok, stderr) = run(&args);
        (ok, stderr, out.join("fit_path.json"))
    };
    let (ok, stderr, exact) = fit("exact", &[]);
    assert!(ok, "{stderr}");
    let (ok, stderr, paper) = fit("paper", &["--v1-sign-term", "3"]);
    assert!(ok, "{stderr}");
    let (a, b) = (losses(&exact), losses(&paper));
    assert_eq!(a[0], b[0], "the first evaluation precedes every step");
    assert!(
        a.iter().zip(&b).any(|(x, y)| x != y),
        "the term left the path unchanged"
    );

    let (ok, stderr, _) = fit("d-only", &["--fit", "D", "--v1-sign-term", "3"]);
    assert!(!ok);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("sign term"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn experiment_samples_draw_their_own_streams_and_take_every_step() {
    let d = dir("experiment");
    let experiment = |out: &str, extra: &[&str]| {
        let out = d.join(out);
        let mut args = vec![
            "experiment",
            "double-well",
            "--samples",
            "2",
            "--spikes",
            "800",
            "--trial-seconds",
            "2",
            "--ne",
            "8",
            "--np",
            "6",
            "--nv",
            "12",
            "--iterations",
            "30",
            "--no-early-stop",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (ok, stderr) = run(&args);
        assert!(ok, "{stderr}");
        out
    };
    let exact = experiment("exact", &[]);
    let paper = experiment("paper", &["--v1-sign-term", "5"]);
    let fit_settings = |dir: &Path, k: usize| {
        read(&dir.join(format!("sample-{k}/result.json")))["settings"]["fit"].clone()
    };
    let exact_fit = fit_settings(&exact, 0);
    assert!(exact_fit.get("v1_sign_term").is_none());
    assert!(!exact_fit["backtracking"].is_null());
    let seeds: Vec<u64> = (0..2)
        .map(|k| {
            let fit = fit_settings(&paper, k);
            assert!(fit["backtracking"].is_null(), "sample {k} rejects steps");
            fit["v1_sign_term"]["seed"].as_u64().unwrap()
        })
        .collect();
    assert_ne!(seeds[0], seeds[1], "the samples share their draws");
    for half in ["half1", "half2"] {
        let file = format!("sample-0/fit_path_{half}.json");
        let (a, b) = (losses(&exact.join(&file)), losses(&paper.join(&file)));
        assert_eq!(a[0], b[0]);
        assert!(a.iter().zip(&b).any(|(x, y)| x != y), "{half} unchanged");
    }
    std::fs::remove_dir_all(&d).ok();
}
