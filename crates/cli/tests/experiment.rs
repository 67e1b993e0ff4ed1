//! `latentflow experiment` end to end on a scaled-down double well: the files of a run, resume
//! after the process is killed mid-run, and sharding plus `experiment merge`. Resumed and
//! merged runs must give the unsharded run's `summary.json` byte for byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Two samples of about 2,000 spikes on a small grid (16 x 8 nodes, 16 modes), 400
/// iterations per half, an early-stop check every 20 and a checkpoint every 10 iterations:
/// a couple of seconds of CPU per sample, with checkpoints soon after a sample starts.
const SETTINGS: &[&str] = &[
    "double-well",
    "--samples",
    "2",
    "--spikes",
    "2000",
    "--seed",
    "3",
    "--ne",
    "16",
    "--np",
    "8",
    "--nv",
    "16",
    "--iterations",
    "400",
    "--check-every",
    "20",
    "--checkpoint-every",
    "10",
    "--quiet",
];
const SAMPLES: usize = 2;
/// Grid nodes: ne (np - 1) + 1.
const NODES: usize = 16 * 7 + 1;

/// A fresh, empty directory under the system temp dir, unique to this process.
fn fresh(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "latentflow-experiment-test-{}-{name}",
        std::process::id()
    ));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The experiment command with [`SETTINGS`], `extra` and `--out out`.
fn experiment(extra: &[&str], out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latentflow"));
    c.arg("experiment")
        .args(SETTINGS)
        .args(extra)
        .arg("--out")
        .arg(out);
    c
}

/// Runs `cmd` to completion and checks that it succeeded.
fn run_ok(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every file under `dir`: path relative to `dir` (with `/`) -> contents.
type Snapshot = BTreeMap<String, Vec<u8>>;

fn snapshot(dir: &Path) -> Snapshot {
    fn walk(dir: &Path, prefix: &str, out: &mut Snapshot) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &format!("{name}/"), out);
            } else {
                out.insert(name, std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = Snapshot::new();
    walk(dir, "", &mut out);
    out
}

/// The files of one unsharded run, made once for all tests (they run in parallel threads)
/// and kept in memory, so that its directory can go at once.
fn unsharded() -> &'static Snapshot {
    static FILES: OnceLock<Snapshot> = OnceLock::new();
    FILES.get_or_init(|| {
        let d = fresh("unsharded");
        run_ok(&mut experiment(&[], &d));
        let files = snapshot(&d);
        std::fs::remove_dir_all(&d).ok();
        files
    })
}

/// A file of a snapshot.
fn file<'a>(files: &'a Snapshot, name: &str) -> &'a [u8] {
    files
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in the unsharded run"))
}

fn parse(bytes: &[u8], what: &str) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn result_name(k: usize) -> String {
    format!("sample-{k}/result.json")
}

fn result_file(dir: &Path, k: usize) -> PathBuf {
    dir.join(result_name(k))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A sample result without its wall time (the one field that differs between runs).
fn without_timing(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("seconds");
    v
}

/// Asserts `a == b`, naming the keys that differ (the values are too long to print).
fn assert_same(a: &Value, b: &Value, what: &str) {
    if a == b {
        return;
    }
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        panic!("{what} differs");
    };
    let keys: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    panic!("{what} differs in {keys:?}");
}

/// Asserts that the JSON file `a` has the contents `b`, byte for byte.
fn assert_same_bytes(a: &Path, b: &[u8], what: &str) {
    let a_bytes = std::fs::read(a).unwrap_or_else(|e| panic!("{}: {e}", a.display()));
    if a_bytes != b {
        assert_same(&parse(&a_bytes, what), &parse(b, what), what);
        panic!("{what}: same values, different bytes");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn writes_sample_results_summary_and_figures() {
    let files = unsharded();
    let summary = parse(file(files, "summary.json"), "summary.json");
    assert_eq!(summary["format"], "latentflow-experiment-summary");
    assert_eq!(summary["version"], 1);
    assert_eq!(summary["experiment"], "double-well");
    assert_eq!(summary["samples"], SAMPLES);
    let per_sample = summary["per_sample"].as_array().unwrap();
    assert_eq!(per_sample.len(), SAMPLES);
    let text = String::from_utf8(file(files, "summary.json").to_vec()).unwrap();
    assert!(!text.contains("seconds"), "timings in summary.json: {text}");
    assert!(!text.contains("checkpoint_dir"), "a path in summary.json");
    let true_wells = summary["true_wells"].as_array().unwrap().len();
    assert_eq!(true_wells, 2, "the double well has two wells");
    let recovery_kl = summary["recovery_kl"].as_f64().unwrap();

    let mut seeds = Vec::new();
    for k in 0..SAMPLES {
        let r = parse(file(files, &result_name(k)), &result_name(k));
        assert_eq!(r["format"], "latentflow-experiment-sample");
        assert_eq!(r["version"], 1);
        assert_eq!(r["experiment"], "double-well");
        assert_eq!(r["sample"], k);
        let iterations = r["iterations"].as_u64().unwrap();
        let early = r["stopped_early"].as_bool().unwrap();
        assert!(
            iterations == 400 || (early && iterations < 400),
            "{iterations} iterations, stopped early: {early}"
        );
        assert!(r["seconds"].as_f64().unwrap() > 0.0);
        let spikes = r["spikes"].as_u64().unwrap();
        assert!((2000..3000).contains(&spikes), "{spikes} spikes");
        seeds.push(r["seed"].as_u64().unwrap());
        let checkpoints = format!("sample-{k}/checkpoints/");
        assert!(
            !files.keys().any(|f| f.starts_with(&checkpoints)),
            "checkpoints left behind by a finished sample"
        );
        parse(
            file(files, &format!("sample-{k}/report.json")),
            "report.json",
        );

        let s = &per_sample[k];
        assert_eq!(s["sample"], k);
        assert_eq!(s["seed"], r["seed"]);
        assert_eq!(s["spikes"], r["spikes"]);
        for method in ["feature_consistency", "best_generalization"] {
            let m = &r[method];
            let (x, w) = (floats(&m["x"]), floats(&m["w"]));
            assert_eq!(x.len(), NODES);
            assert_eq!(w.len(), NODES);
            for key in ["peq", "peq_half2"] {
                let peq = floats(&m[key]);
                assert_eq!(peq.len(), NODES, "{method}.{key}");
                assert!(peq.iter().all(|&p| p > 0.0), "{method}.{key}");
                let mass: f64 = w.iter().zip(&peq).map(|(w, p)| w * p).sum();
                assert!((mass - 1.0).abs() < 1e-6, "{method}.{key}: mass {mass}");
            }
            let kl = floats(&m["kl_to_truth"]);
            assert_eq!(kl.len(), 2);
            assert!(kl.iter().all(|&d| d.is_finite() && d >= 0.0), "{kl:?}");
            let wells = m["wells"][0].as_array().unwrap().len();
            assert_eq!(
                m["recovered"].as_bool().unwrap(),
                kl[0] < recovery_kl && wells == true_wells,
                "{method}: `recovered` does not follow its rule"
            );
            assert_eq!(m["curve"].as_array().unwrap().len(), 2);
            assert_eq!(
                m["curve"][0].as_array().unwrap().len(),
                m["curve"][1].as_array().unwrap().len()
            );
            // The summary repeats the half-1 numbers.
            assert_eq!(s[method]["kl_to_truth"], m["kl_to_truth"]);
            assert_eq!(s[method]["recovered"], m["recovered"]);
            assert_eq!(summary[method]["kl_to_truth"][k], m["kl_to_truth"][0]);
            assert_eq!(summary[method]["wells"][k], wells);
        }
    }
    assert_ne!(seeds[0], seeds[1], "the samples share a seed");
    for method in ["feature_consistency", "best_generalization"] {
        let n = summary[method]["recovered"].as_u64().unwrap()
            + summary[method]["failed"].as_u64().unwrap();
        assert_eq!(n, SAMPLES as u64, "{method}");
    }
    for name in ["summary_potentials", "summary_curves"] {
        let png = file(files, &format!("{name}.png"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}.png");
        let svg = String::from_utf8_lossy(file(files, &format!("{name}.svg")));
        assert!(svg.contains("<svg"), "{name}.svg");
    }
}

#[test]
fn resumes_after_a_kill_with_identical_results() {
    let dir = fresh("resumed");
    // One thread: the samples run one after the other, so when the first result.json appears
    // the second sample has only just started and is killed mid-fit. (The rerun below uses
    // every thread, as does the reference: the results must not depend on that either.)
    let mut child = experiment(&[], &dir)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let finished = |d: &Path| -> Vec<usize> {
        (0..SAMPLES)
            .filter(|&k| result_file(d, k).exists())
            .collect()
    };
    // Both fits of an unfinished sample have written a checkpoint. Reliable to observe: a
    // sample deletes its checkpoints only after writing its result.json.
    let checkpointed = |d: &Path| -> Vec<usize> {
        (0..SAMPLES)
            .filter(|&k| {
                let c = d.join(format!("sample-{k}/checkpoints"));
                !result_file(d, k).exists()
                    && c.join("half-1.ckpt").exists()
                    && c.join("half-2.ckpt").exists()
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the run ended ({status}) before it could be killed with one sample finished \
                 and one checkpointed: make the samples longer (--iterations) in SETTINGS"
            );
        }
        assert!(Instant::now() < deadline, "no progress within 300 s");
        if !finished(&dir).is_empty() && !checkpointed(&dir).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = finished(&dir);
    let partial = checkpointed(&dir);
    assert_eq!(
        done.len(),
        1,
        "killed too late: samples {done:?} had finished; make the samples longer"
    );
    assert_eq!(partial.len(), 1, "{partial:?}");
    assert!(!dir.join("summary.json").exists());
    let k = partial[0];
    // The rerun skips the finished sample: its result.json stays as it is.
    let before = std::fs::read(result_file(&dir, done[0])).unwrap();

    // The rerun reads the checkpoints: in a copy of the directory where the checkpoint and
    // its fallback (the previous one) are corrupt it fails and names the file (it would
    // succeed if it refitted from scratch).
    let corrupt = fresh("resumed-corrupt");
    copy_dir(&dir, &corrupt);
    let ckpt = corrupt.join(format!("sample-{k}/checkpoints/half-1.ckpt"));
    std::fs::write(&ckpt, b"not a checkpoint").unwrap();
    std::fs::write(ckpt.with_extension("ckpt.prev"), b"not a checkpoint").unwrap();
    let o = experiment(&[], &corrupt).output().unwrap();
    assert!(!o.status.success(), "a corrupt checkpoint was not read");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("half-1.ckpt"), "{stderr}");
    std::fs::remove_dir_all(&corrupt).ok();

    // The same command completes the run: identical results and summary.
    run_ok(&mut experiment(&[], &dir));
    let reference = unsharded();
    assert_eq!(std::fs::read(result_file(&dir, done[0])).unwrap(), before);
    for j in 0..SAMPLES {
        assert_same(
            &without_timing(read_json(&result_file(&dir, j))),
            &without_timing(parse(file(reference, &result_name(j)), "result.json")),
            &format!("sample {j} of the resumed run (vs the uninterrupted run)"),
        );
        assert!(!dir.join(format!("sample-{j}/checkpoints")).exists());
    }
    assert_same_bytes(
        &dir.join("summary.json"),
        file(reference, "summary.json"),
        "summary.json of the resumed run (vs the uninterrupted run)",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn merged_shards_equal_the_unsharded_run() {
    let shards = [fresh("shard-1"), fresh("shard-2")];
    let merged = fresh("merged");
    for (i, d) in shards.iter().enumerate() {
        run_ok(&mut experiment(&["--shard", &format!("{}/2", i + 1)], d));
        // Shard i has exactly the samples k with k mod 2 = i, and no summary.
        for k in 0..SAMPLES {
            assert_eq!(
                result_file(d, k).exists(),
                k % 2 == i,
                "shard {i}, sample {k}"
            );
        }
        assert!(!d.join("summary.json").exists());
    }
    let o = Command::new(env!("CARGO_BIN_EXE_latentflow"))
        .args(["experiment", "merge"])
        .args(&shards)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference = unsharded();
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(line.contains("2 samples"), "{line}");
    assert_same_bytes(
        &merged.join("summary.json"),
        file(reference, "summary.json"),
        "summary.json of the merged shards (vs the unsharded run)",
    );
    for name in ["summary_potentials", "summary_curves"] {
        for ext in ["png", "svg"] {
            assert!(
                merged.join(format!("{name}.{ext}")).exists(),
                "{name}.{ext}"
            );
        }
    }
    for d in shards.iter().chain([&merged]) {
        std::fs::remove_dir_all(d).ok();
    }
}

/// `experiment compare`: a run against itself agrees everywhere with divergence 0; the same
/// experiment with the RKC path method gives one row per sample with finite divergences and
/// counted evaluations; runs of different data are refused.
#[test]
fn compare_reports_two_runs_sample_by_sample() {
    let gd = fresh("compare-gd");
    for (name, bytes) in unsharded() {
        let path = gd.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let rkc = fresh("compare-rkc");
    run_ok(&mut experiment(&["--method", "rkc"], &rkc));
    let compare = |a: &Path, b: &Path, json: Option<&Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_latentflow"));
        c.args(["experiment", "compare"]).arg(a).arg(b);
        if let Some(j) = json {
            c.arg("--json").arg(j);
        }
        c.output().unwrap()
    };
    let same = compare(&gd, &gd, None);
    assert!(same.status.success());
    let text = String::from_utf8_lossy(&same.stdout);
    assert!(
        text.contains("in 2 of 2 samples; best generalisation (KL <= 0.01) in 2 of 2"),
        "{text}"
    );
    assert!(text.contains("0.0e0 / 0.0e0"), "{text}");
    let json = rkc.join("compare.json");
    let o = compare(&gd, &rkc, Some(&json));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = read_json(&json);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), SAMPLES);
    for r in rows {
        for k in floats(&r["fc_kl"]).into_iter().chain(floats(&r["bg_kl"])) {
            assert!(k.is_finite() && k >= 0.0, "{r}");
        }
        let evals = floats(&r["evaluations"]);
        assert!(evals.iter().all(|&e| e > 0.0), "{r}");
    }
    // Another seed is other data.
    let other = fresh("compare-other");
    let settings: Vec<&str> = SETTINGS
        .iter()
        .map(|&a| if a == "3" { "4" } else { a })
        .collect();
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_latentflow"))
            .arg("experiment")
            .args(&settings)
            .arg("--out")
            .arg(&other),
    );
    let o = compare(&gd, &other, None);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("different data"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for d in [gd, rkc, other] {
        std::fs::remove_dir_all(d).ok();
    }
}

/// `experiment reselect`: at the run's own threshold it repeats the run's results exactly; at a
/// lower one M* does not grow; a higher one is refused when a sample stopped early.
#[test]
fn reselect_repeats_the_run_at_its_threshold() {
    let run = fresh("reselect-run");
    for (name, bytes) in unsharded() {
        let path = run.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let reselect = |threshold: &str, out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_latentflow"))
            .args(["experiment", "reselect"])
            .arg(&run)
            .args(["--threshold", threshold, "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    let same = fresh("reselect-same");
    let o = reselect("0.01", &same);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for k in 0..SAMPLES {
        let original = parse(file(unsharded(), &result_name(k)), "original");
        assert_eq!(read_json(&result_file(&same, k)), original, "sample {k}");
    }
    let lower = fresh("reselect-lower");
    let o = reselect("0.002", &lower);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for k in 0..SAMPLES {
        let (a, b) = (
            read_json(&result_file(&same, k)),
            read_json(&result_file(&lower, k)),
        );
        let m = |v: &Value| {
            v["feature_consistency"]["feature_complexity"]
                .as_f64()
                .unwrap()
        };
        assert!(m(&b) <= m(&a), "sample {k}: {} > {}", m(&b), m(&a));
        assert_eq!(b["settings"]["consistency_kl"]["threshold"], 0.002);
        assert_eq!(a["best_generalization"], b["best_generalization"]);
    }
    assert!(lower.join("summary.json").exists());
    let stopped = (0..SAMPLES)
        .any(|k| parse(file(unsharded(), &result_name(k)), "original")["stopped_early"] == true);
    let higher = fresh("reselect-higher");
    let o = reselect("0.05", &higher);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.success(), !stopped, "{err}");
    if stopped {
        assert!(
            err.contains("stopped early") && err.lines().count() == 1,
            "{err}"
        );
    }
    for d in [run, same, lower, higher] {
        std::fs::remove_dir_all(d).ok();
    }
}
