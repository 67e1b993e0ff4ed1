//! Several task conditions end to end: `simulate --p0-wells` writes decision trials, `select`
//! and `fit` with `--fit F,F0 --per-condition F0` fit a shared potential and a p0 per
//! condition and write one model file per condition and the p0 figure; misuse fails with one
//! error line.

mod common;

use common::{one_error_line, run};

#[test]
fn select_and_fit_several_conditions() {
    let d = std::env::temp_dir().join(format!("lf-cli-conditions-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    let p = |name: &str| -> String { d.join(name).to_str().unwrap().to_string() };
    let (ok, _, err) = run(&[
        "simulate",
        "--boundary",
        "absorbing",
        "--p0-wells",
        "-0.5,0,0.5",
        "--p0-width",
        "0.1",
        "--spikes",
        "1500",
        "--d",
        "2",
        "--seed",
        "3",
        "--out",
        &p("data.json"),
    ]);
    assert!(ok, "{err}");
    let grid = [
        "--ne",
        "16",
        "--np",
        "6",
        "--nv",
        "20",
        "--boundary",
        "absorbing",
    ];
    let fitted = ["--fit", "F,F0", "--per-condition", "F0"];
    let data = p("data.json");
    let mut args = vec!["select", "--data", &data];
    let sel = p("sel");
    args.extend(["--out", &sel, "--iterations", "300", "--quiet"]);
    args.extend(grid);
    args.extend(fitted);
    let (ok, _, err) = run(&args);
    assert!(ok, "{err}");
    let report_of = |out: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join(out).join("report.json")).unwrap()).unwrap()
    };
    let report = report_of("sel");
    let p0 = &report["initial_densities"]["feature_consistency"]["half1"];
    assert_eq!(p0.as_array().unwrap().len(), 3, "one p0 per condition");
    assert!(d.join("sel/initial_densities.png").exists());
    for c in 0..3 {
        for h in 1..=2 {
            let f = d.join(format!(
                "sel/model_feature_consistency_half{h}_condition{c}.json"
            ));
            assert!(f.exists(), "{}", f.display());
        }
    }
    // The per-condition models share the potential and differ in p0.
    let model = |c: usize| -> serde_json::Value {
        let f = d.join(format!(
            "sel/model_best_generalization_half1_condition{c}.json"
        ));
        serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap()
    };
    assert_eq!(model(0)["peq"], model(2)["peq"]);
    assert_ne!(model(0)["p0"], model(2)["p0"]);

    // A potential per condition too: each condition's potential gets its own panel.
    let sel_f = p("sel-f");
    let mut args = vec!["select", "--data", &data, "--out", &sel_f];
    args.extend(["--iterations", "100", "--quiet", "--fit", "F,F0"]);
    args.extend(["--per-condition", "F,F0"]);
    args.extend(grid);
    let (ok, _, err) = run(&args);
    assert!(ok, "{err}");
    let report = report_of("sel-f");
    let peqs = &report["condition_potentials"]["best_generalization"]["half1"];
    assert_eq!(peqs.as_array().unwrap().len(), 3);
    assert_ne!(peqs[0], peqs[2]);
    assert!(d.join("sel-f/condition_potentials.png").exists());
    assert!(report.get("condition_potentials").is_some());
    // Shared potential: no such figure.
    assert!(!d.join("sel/condition_potentials.png").exists());

    // Decoding one condition's trials with that condition's model.
    let model2 = p("sel/model_feature_consistency_half1_condition2.json");
    let dec = p("dec");
    let decode = |condition: &str| {
        run(&[
            "decode",
            "--model",
            &model2,
            "--data",
            &data,
            "--out",
            &dec,
            "--condition",
            condition,
            "--no-viterbi",
        ])
    };
    let (ok, _, err) = decode("2");
    assert!(ok, "{err}");
    let decoded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("dec/decode.json")).unwrap()).unwrap();
    let trials = decoded["trials"].as_array().unwrap();
    let in_data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&data).unwrap()).unwrap();
    let of_condition_2 = in_data["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["condition"] == 2)
        .count();
    assert_eq!(trials.len(), of_condition_2);
    let (ok, _, err) = decode("7");
    assert!(!ok);
    one_error_line(&err, "--condition 7");

    let fit_out = p("fit");
    let mut args = vec!["fit", "--data", &data];
    args.extend(["--out", &fit_out, "--iterations", "50", "--quiet"]);
    args.extend(grid);
    args.extend(fitted);
    let (ok, _, err) = run(&args);
    assert!(ok, "{err}");
    assert!(d.join("fit/final_model_condition2.json").exists());

    // One condition: --per-condition has nothing to keep apart.
    let (ok, _, err) = run(&[
        "simulate",
        "--boundary",
        "absorbing",
        "--spikes",
        "500",
        "--out",
        &p("one.json"),
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&[
        "select",
        "--data",
        &p("one.json"),
        "--out",
        &p("x"),
        "--per-condition",
        "F0",
    ]);
    assert!(!ok);
    one_error_line(&err, "--per-condition");
    // Fitting F0 from an equilibrium --init model.
    let init = d.join("sel/model_feature_consistency_half1_condition0.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&init).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("p0");
    std::fs::write(d.join("eq.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let (ok, _, err) = run(&[
        "select",
        "--data",
        &p("data.json"),
        "--out",
        &p("y"),
        "--init",
        &p("eq.json"),
        "--fit",
        "F,F0",
    ]);
    assert!(!ok);
    one_error_line(&err, "has no p0");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn the_decision_experiment_writes_its_result() {
    let d = std::env::temp_dir().join(format!("lf-cli-decision-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    let out = d.join("dec");
    let out = out.to_str().unwrap();
    let small = [
        "--trials",
        "20",
        "--ne",
        "16",
        "--np",
        "6",
        "--nv",
        "20",
        "--iterations",
        "200",
        "--quiet",
    ];
    let mut args = vec!["experiment", "decision", "--out", out];
    args.extend(small);
    let (ok, stdout, err) = run(&args);
    assert!(ok, "{err}");
    assert!(stdout.contains("60 trials"), "{stdout}");
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("dec/result.json")).unwrap()).unwrap();
    for method in ["feature_consistency", "best_generalization"] {
        for half in ["half1", "half2"] {
            let r = &result[method][half];
            assert!(r["peq_kl_to_truth"].as_f64().unwrap() >= 0.0);
            assert_eq!(r["conditions"].as_array().unwrap().len(), 3);
        }
    }
    assert!(d.join("dec/initial_densities.svg").exists());
    assert!(d.join("dec/data.json").exists());
    let mut args = vec!["experiment", "decision", "--out", out, "--max-seconds", "0"];
    args.extend(small);
    let (ok, _, err) = run(&args);
    assert!(!ok);
    one_error_line(&err, "--max-seconds");
    std::fs::remove_dir_all(&d).ok();
}
