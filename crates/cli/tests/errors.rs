//! Every subcommand that reads a file rejects a malformed one cleanly: non-zero exit, one
//! `error:` line on stderr that names the file, no panic, and no output presented as complete.

use std::path::{Path, PathBuf};
use std::process::Command;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lf-cli-errors-{}-{name}", std::process::id()));
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

/// Malformed files: (name, bytes).
fn bad_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "truncated.json",
            br#"{"format":"latentflow-spikes","version":1,"trials":[{"isi":[0.1,"#.to_vec(),
        ),
        (
            "schema.json",
            br#"{"format":"latentflow-model","version":1}"#.to_vec(),
        ),
        (
            "negative.json",
            br#"{"trials":[{"isi":[-1.0],"neuron":[-1]}]}"#.to_vec(),
        ),
        (
            "garbage.npz",
            b"PK\x03\x04 not really a zip archive".to_vec(),
        ),
    ]
}

fn assert_clean_failure(args: &[&str], file: &Path) {
    let (ok, stderr) = run(args);
    assert!(!ok, "{args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: expected one line, got {stderr}");
    assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(
        lines[0].contains(name.as_ref()),
        "{args:?}: the message does not name {name}: {stderr}"
    );
}

#[test]
fn every_subcommand_rejects_malformed_files() {
    let d = dir("all");
    let good = d.join("good.json");
    std::fs::write(
        &good,
        br#"{"trials":[{"isi":[0.1,0.2,0.05],"neuron":[0,0,-1]}]}"#,
    )
    .unwrap();
    for (name, bytes) in bad_files() {
        let bad = d.join(name);
        std::fs::write(&bad, &bytes).unwrap();
        let (b, g, out) = (bad.to_str().unwrap(), good.to_str().unwrap(), d.join("out"));
        let o = out.to_str().unwrap();
        assert_clean_failure(&["select", "--data", b, "--out", o, "--quiet"], &bad);
        assert!(
            !out.join("report.json").exists(),
            "select left a report after failing"
        );
        assert_clean_failure(&["fit", "--data", b, "--out", o, "--quiet"], &bad);
        assert_clean_failure(
            &[
                "fit",
                "--data",
                g,
                "--validation",
                b,
                "--out",
                o,
                "--quiet",
                "--ne",
                "8",
                "--nv",
                "8",
            ],
            &bad,
        );
        assert_clean_failure(&["loglik", "--model", b, "--data", g], &bad);
        assert_clean_failure(
            &["fit", "--data", g, "--init", b, "--out", o, "--quiet"],
            &bad,
        );
        let result_dir = d.join(format!("exp-{name}"));
        std::fs::create_dir_all(result_dir.join("sample-0")).unwrap();
        let result = result_dir.join("sample-0").join("result.json");
        std::fs::write(&result, &bytes).unwrap();
        assert_clean_failure(
            &["experiment", "merge", result_dir.to_str().unwrap()],
            &result,
        );
    }
    std::fs::remove_dir_all(&d).ok();
}
