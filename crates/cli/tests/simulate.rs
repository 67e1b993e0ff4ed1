//! `latentflow simulate` end to end: runs the built binary, reads the files back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use latentflow::data::SpikeData;

/// A fresh, empty directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "latentflow-simulate-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn simulate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latentflow"))
        .arg("simulate")
        .args(args)
        .output()
        .unwrap()
}

/// Simulates about `spikes` spikes into `out` with `seed` (2-s trials) and checks success.
fn simulate_ok(out: &Path, spikes: u64, seed: u64) -> String {
    let o = simulate(&[
        "--spikes",
        &spikes.to_string(),
        "--trial-length",
        "2",
        "--seed",
        &seed.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    stdout
}

#[test]
fn writes_json_and_npz_reproducibly() {
    let dir = temp_dir("ok");
    for ext in ["json", "npz"] {
        let a = dir.join(format!("a.{ext}"));
        let b = dir.join(format!("b.{ext}"));
        let c = dir.join(format!("c.{ext}"));
        let line = simulate_ok(&a, 2000, 7);
        assert!(
            line.contains("spikes") && line.contains(a.to_str().unwrap()),
            "{line}"
        );
        let data = SpikeData::read(&a).unwrap();
        // Whole trials until 2000 spikes: at most one 2-s trial more, i.e. at most
        // 2 s x 200 Hz (the top rate) plus a generous Poisson margin.
        let n = data.num_spikes();
        assert!((2000..=2600).contains(&n), "{n} spikes");
        assert_eq!(data.num_neurons(), 1);
        assert!(
            data.trials()
                .iter()
                .all(|t| (t.duration() - 2.0).abs() < 1e-9)
        );
        // Same seed, same bytes; another seed, other data.
        simulate_ok(&b, 2000, 7);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        simulate_ok(&c, 2000, 8);
        assert_ne!(SpikeData::read(&c).unwrap(), data);
    }
    // The two formats hold the same data: .npz stores spike times from 0 s (the original's
    // layout), so its intervals agree with the JSON ones to round-off of the times.
    let (j, n) = (
        SpikeData::read(dir.join("a.json")).unwrap(),
        SpikeData::read(dir.join("a.npz")).unwrap(),
    );
    assert_eq!(j.num_trials(), n.num_trials());
    for (tj, tn) in j.trials().iter().zip(n.trials()) {
        assert_eq!(tj.neuron(), tn.neuron());
        let close = tj
            .isi()
            .iter()
            .zip(tn.isi())
            .all(|(p, q)| (p - q).abs() < 1e-12);
        assert!(close && tj.isi().len() == tn.isi().len());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn seconds_potentials_and_latent_path() {
    let dir = temp_dir("latent");
    let out = dir.join("x.json");
    let latent = dir.join("path.json");
    let o = simulate(&[
        "--potential",
        "triple-well",
        "--seconds",
        "5",
        "--trial-length",
        "2",
        "--boundary",
        "absorbing",
        "--out",
        out.to_str().unwrap(),
        "--latent",
        latent.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let data = SpikeData::read(&out).unwrap();
    assert!((data.total_time() - 5.0).abs() < 1e-9);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&latent).unwrap()).unwrap();
    let trials = doc["trials"].as_array().unwrap();
    assert_eq!(trials.len(), data.num_trials());
    for (p, t) in trials.iter().zip(data.trials()) {
        let times = p["t"].as_array().unwrap();
        let end = times.last().unwrap().as_f64().unwrap();
        assert!((end - t.duration()).abs() < 1e-9);
        assert!(
            p["x"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x.as_f64().unwrap().abs() <= 1.0)
        );
    }
    for potential in ["double-well", "four-well", "uniform", "cos2"] {
        let o = simulate(&[
            "--potential",
            potential,
            "--seconds",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "{potential}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_arguments_fail_with_one_line() {
    let dir = temp_dir("bad");
    let json = dir.join("x.json");
    let json = json.to_str().unwrap();
    let txt = dir.join("x.txt");
    let cases: [(&[&str], &str); 6] = [
        (&["--d", "-1", "--out", json], "D must be"),
        (&["--out", txt.to_str().unwrap()], ".json or .npz"),
        (&["--trial-length", "0", "--out", json], "trial length"),
        (&["--seconds", "-3", "--out", json], "seconds"),
        (&["--dt", "0.1", "--out", json], "dt"),
        (&["--spikes", "0", "--out", json], "at least 1 spike"),
    ];
    for (args, needle) in cases {
        let o = simulate(args);
        let stderr = String::from_utf8(o.stderr).unwrap();
        assert!(!o.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
    }
    assert!(!txt.exists() && !Path::new(json).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn decision_trials_in_conditions() {
    let dir = temp_dir("conditions");
    let out = dir.join("dec.npz");
    let o = simulate(&[
        "--boundary",
        "absorbing",
        "--d",
        "1",
        "--potential",
        "uniform",
        "--p0-wells",
        "-0.3,0,0.3",
        "--seconds",
        "10",
        "--trial-length",
        "5",
        "--seed",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("in 3 conditions"));
    let data = latentflow::data::SpikeData::read(&out).unwrap();
    assert_eq!(data.num_conditions(), 3);
    let per: Vec<f64> = data
        .by_condition()
        .unwrap()
        .iter()
        .map(|d| d.total_time())
        .collect();
    assert!(
        per.iter().all(|t| (t - 10.0).abs() < 1e-9),
        "seconds per condition: {per:?}"
    );
    for bad in [["--p0-wells", "1.2"], ["--p0-width", "0.1"]] {
        let o = simulate(&[bad[0], bad[1], "--out", out.to_str().unwrap()]);
        assert!(!o.status.success());
    }
    std::fs::remove_dir_all(&dir).ok();
}
