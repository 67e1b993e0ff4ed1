//! `latentflow decode` end to end: on simulated data with a model from `select`, it writes the
//! JSON, .npz and figures `docs/formats.md` lists, with one entry per trial asked for; bad
//! inputs (malformed files, a trial that does not exist, latent paths for another data set)
//! fail with one error line that names the culprit.

mod common;

use common::{one_error_line, run};

use std::path::PathBuf;

#[test]
fn decode_writes_its_files_and_rejects_bad_inputs() {
    let d = std::env::temp_dir().join(format!("lf-cli-decode-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    let p = |name: &str| -> String { d.join(name).to_str().unwrap().to_string() };
    let (ok, _, err) = run(&[
        "simulate",
        "--seconds",
        "6",
        "--trial-length",
        "2",
        "--seed",
        "5",
        "--out",
        &p("sim.json"),
        "--latent",
        &p("latent.json"),
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&[
        "select",
        "--data",
        &p("sim.json"),
        "--out",
        &p("sel"),
        "--iterations",
        "20",
        "--ne",
        "8",
        "--nv",
        "16",
        "--quiet",
    ]);
    assert!(ok, "{err}");
    let model = p("sel/model_best_generalization_half1.json");
    let (ok, stdout, err) = run(&[
        "decode",
        "--model",
        &model,
        "--data",
        &p("sim.json"),
        "--latent",
        &p("latent.json"),
        "--out",
        &p("dec"),
        "--trials",
        "2,0",
        "--nv",
        "16",
    ]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("decoded 2 trials") && stdout.contains("coverage"),
        "{stdout}"
    );
    for f in [
        "decode.json",
        "decode.npz",
        "decode.png",
        "decode.svg",
        "psth.png",
        "psth.svg",
    ] {
        assert!(PathBuf::from(p("dec")).join(f).exists(), "{f} missing");
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("dec/decode.json")).unwrap()).unwrap();
    let trials = doc["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2);
    assert_eq!(trials[0]["trial"], 2);
    let times = trials[0]["times"].as_array().unwrap();
    assert_eq!(times.len(), 201, "a 0.01 s grid over a 2 s trial");
    let viterbi = trials[0]["viterbi"]["x"].as_array().unwrap().len();
    assert!(viterbi > 2);
    let coverage = trials[0]["accuracy"]["coverage"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&coverage));

    let (ok, _, err) = run(&[
        "decode",
        "--model",
        &model,
        "--data",
        &p("sim.json"),
        "--out",
        &p("dec3"),
        "--trials",
        "7",
    ]);
    assert!(!ok);
    one_error_line(&err, "trial 7 does not exist");
    std::fs::write(p("bad.json"), b"{\"trials\": [").unwrap();
    let (ok, _, err) = run(&[
        "decode",
        "--model",
        &model,
        "--data",
        &p("bad.json"),
        "--out",
        &p("dec4"),
    ]);
    assert!(!ok);
    one_error_line(&err, "bad.json");
    std::fs::write(
        p("short.json"),
        br#"{"trials": [{"t": [0, 1], "x": [0, 0]}]}"#,
    )
    .unwrap();
    let (ok, _, err) = run(&[
        "decode",
        "--model",
        &model,
        "--data",
        &p("sim.json"),
        "--latent",
        &p("short.json"),
        "--out",
        &p("dec5"),
    ]);
    assert!(!ok);
    one_error_line(&err, "short.json");
    std::fs::remove_dir_all(&d).ok();
}
