//! The bad-input corpus (issue 22): a seeded generator of malformed spike files (`.json`, both
//! forms, and `.npz`) and model files, plus the hand cases the issue lists, each run through the
//! built binary. Every case must end in a clear error (exit code 1, one `error:` line on stderr
//! naming the file or option, no output file and no temporary file left) or, if the mutation
//! happened to leave a valid file, in a complete output; never in a panic (exit 101), an abort
//! (a signal, e.g. a failed allocation) or a hang (killed after `TIME_LIMIT`). The children run
//! under `ulimit -v` so that a runaway allocation aborts quickly instead of swapping. The counts
//! are printed (`cargo test -p latentflow-cli --test corpus -- --nocapture`).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latentflow::ModelFile;
use latentflow::likelihood::{Model, ModelParts};
use latentflow::spectral::{BoundaryMode, Grid};

/// A case taking longer than this is a hang.
const TIME_LIMIT: Duration = Duration::from_secs(20);
/// Address-space limit of every child (KiB): 4 GiB.
const MEMORY_LIMIT_KB: u64 = 4 << 20;
/// Generated cases of each family.
const PER_FAMILY: usize = 45;

/// splitmix64: a small seeded generator, so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// What a case does: files to write into its directory, the arguments (`{dir}` stands for the
/// directory), the name the error must mention, and the outputs that must not exist after a
/// failure.
struct Case {
    name: String,
    files: Vec<(String, Vec<u8>)>,
    args: Vec<String>,
    needle: String,
    outputs: Vec<String>,
}

enum Outcome {
    Clear,
    Accepted,
    Unclear(String),
    Panic(String),
    Abort(String),
    Hang,
}

fn run_case(root: &Path, k: usize, case: &Case) -> Outcome {
    let dir = root.join(format!("case{k:03}"));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in &case.files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let d = dir.to_str().unwrap();
    let args: Vec<String> = case.args.iter().map(|a| a.replace("{dir}", d)).collect();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_LIMIT_KB}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_latentflow"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr on a thread so that a chatty child cannot block on a full pipe.
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        pipe.read_to_string(&mut s).ok();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > TIME_LIMIT {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = reader.join().unwrap();
    let Some(status) = status else {
        return Outcome::Hang;
    };
    let what = || format!("{}: {args:?}\n{stderr}", case.name);
    if let Some(signal) = status.signal() {
        return Outcome::Abort(format!("signal {signal}: {}", what()));
    }
    match status.code() {
        Some(0) => {
            // A mutation that left a valid file: the output must be complete.
            let complete = case.outputs.iter().all(|o| {
                let text = std::fs::read_to_string(dir.join(o)).unwrap_or_default();
                serde_json::from_str::<serde_json::Value>(&text)
                    .is_ok_and(|v| v["neg_loglik"].as_f64().is_some_and(f64::is_finite))
            });
            if complete {
                Outcome::Accepted
            } else {
                Outcome::Unclear(format!("exit 0 without a complete output: {}", what()))
            }
        }
        Some(101) => Outcome::Panic(what()),
        // 1: the command's errors; 2: an option rejected where it is parsed (clap adds its
        // hint line, "For more information, try '--help'.", which is not a second error).
        Some(1 | 2) => {
            let lines: Vec<&str> = stderr
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with("For more information"))
                .collect();
            if lines.len() != 1 || !lines[0].starts_with("error: ") {
                return Outcome::Unclear(format!("not one error line: {}", what()));
            }
            if !lines[0].contains(&case.needle) {
                return Outcome::Unclear(format!("does not name {}: {}", case.needle, what()));
            }
            let inputs: Vec<&str> = case.files.iter().map(|(n, _)| n.as_str()).collect();
            let left: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !inputs.contains(&n.as_str()))
                .filter(|n| {
                    case.outputs.iter().any(|o| o == n) || n.starts_with('.') || n.contains(".tmp")
                })
                .collect();
            if !left.is_empty() {
                return Outcome::Unclear(format!("left {left:?} behind: {}", what()));
            }
            Outcome::Clear
        }
        Some(c) => Outcome::Abort(format!("exit code {c}: {}", what())),
        None => Outcome::Abort(what()),
    }
}

// ---------------------------------------------------------------------------------------------
// Good inputs.

fn small_model(neurons: usize, ne: usize, boundary: BoundaryMode) -> Model {
    let grid = Arc::new(Grid::new(-1.0, 1.0, ne, 4).unwrap());
    let n = grid.n();
    Model::new(
        grid,
        ModelParts {
            boundary,
            peq: vec![0.5; n],
            p0: None,
            d: 1.0,
            rates: (0..neurons)
                .map(|k| vec![5.0 + 5.0 * k as f64; n])
                .collect(),
        },
    )
    .unwrap()
}

/// The JSON text of a model file.
fn model_text(model: &Model) -> String {
    serde_json::to_string(&ModelFile::from_model(model)).unwrap()
}

const TRIALS_JSON: &str = r#"{"format":"latentflow-spikes","version":1,"num_neurons":2,"trials":[{"isi":[0.1,0.2,0.05],"neuron":[0,1,-1]},{"isi":[0.3,0.1,0.25],"neuron":[1,0,-1],"censored":false}]}"#;
const RAW_JSON: &str = r#"{"format":"latentflow-spike-times","version":1,"num_neurons":2,"spike_times":[0.1,0.3,1.2,1.4],"neuron_ids":[0,1,1,0],"trial_ids":[0,0,1,1],"trial_start":[0.0,1.0],"trial_end":[0.5,1.6]}"#;
/// One neuron, four trials (enough for `select` to split).
const TWO_NEURON_JSON: &str = r#"{"num_neurons":2,"trials":[{"isi":[0.1,0.2,0.05],"neuron":[0,1,-1]},{"isi":[0.3,0.1],"neuron":[1,-1]}]}"#;
const ONE_NEURON_JSON: &str = r#"{"trials":[{"isi":[0.1,0.2,0.05],"neuron":[0,0,-1]},{"isi":[0.3,0.1],"neuron":[0,-1]},{"isi":[0.2,0.2],"neuron":[0,-1]},{"isi":[0.05,0.4],"neuron":[0,-1]}]}"#;

// ---------------------------------------------------------------------------------------------
// .npz building: numpy's layout, stored (uncompressed) zip members, so that every byte of an
// array is a mutation target.

fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f8(v: &[f64]) -> Vec<u8> {
    npy(
        "<f8",
        &format!("({},)", v.len()),
        &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
    )
}

fn i8s(v: &[i64]) -> Vec<u8> {
    npy(
        "<i8",
        &format!("({},)", v.len()),
        &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
    )
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive of stored members.
fn zip(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in members {
        let offset = out.len() as u32;
        let (crc, size) = (crc32(data), data.len() as u32);
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&0u16.to_le_bytes()); // stored
            v.extend_from_slice(&0u32.to_le_bytes()); // time, date
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        common(&mut central);
        central.extend_from_slice(&[0; 8]); // comment length, disk, internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// The members of a good 2-neuron `.npz`.
fn npz_members() -> Vec<(String, Vec<u8>)> {
    vec![
        ("spike_times.npy".into(), f8(&[0.1, 0.3, 1.2, 1.4])),
        ("neuron_ids.npy".into(), i8s(&[0, 1, 1, 0])),
        ("trial_ids.npy".into(), i8s(&[0, 0, 1, 1])),
        ("trial_start.npy".into(), f8(&[0.0, 1.0])),
        ("trial_end.npy".into(), f8(&[0.5, 1.6])),
        (
            "num_neurons.npy".into(),
            npy("<i8", "()", &2i64.to_le_bytes()),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// Byte-level damage: truncate, flip bits, delete or insert bytes.
fn damage(rng: &mut Rng, bytes: &[u8]) -> (String, Vec<u8>) {
    let mut b = bytes.to_vec();
    match rng.below(4) {
        0 => {
            let at = rng.below(b.len());
            b.truncate(at);
            (format!("truncated at {at}"), b)
        }
        1 => {
            let flips = 1 + rng.below(4);
            for _ in 0..flips {
                let at = rng.below(b.len());
                b[at] ^= 1 << rng.below(8);
            }
            (format!("{flips} flipped bits"), b)
        }
        2 => {
            let at = rng.below(b.len());
            b.remove(at);
            (format!("byte {at} deleted"), b)
        }
        _ => {
            let at = rng.below(b.len());
            let junk = *rng.pick(&[b"\"".as_slice(), b"}", b"[", b",", b"\x00", b"\xff", b"-"]);
            b.splice(at..at, junk.iter().copied());
            (format!("junk inserted at {at}"), b)
        }
    }
}

const BAD_VALUES: &[&str] = &[
    "NaN",
    "-1",
    "-0.5",
    "1e308",
    "1e400",
    "-0.0",
    "0",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "100000000",
    "1000000000",
    "2.5",
    "\"3\"",
    "null",
    "true",
    "[]",
    "{}",
    "[1,2]",
    "-1e308",
];

/// Replaces the `n`-th number in a JSON text with a bad value.
fn replace_number(rng: &mut Rng, text: &str) -> (String, Vec<u8>) {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'-' || c.is_ascii_digit() {
            let start = i;
            i += 1;
            while i < bytes.len()
                && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
            {
                i += 1;
            }
            // Not inside a key or string: the previous non-space byte is one of : , [
            let prev = text[..start].trim_end().bytes().last();
            if matches!(prev, Some(b':' | b',' | b'[')) {
                spans.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    let (s, e) = spans[rng.below(spans.len())];
    let v = *rng.pick(BAD_VALUES);
    (
        format!("{} -> {v}", &text[s..e]),
        format!("{}{v}{}", &text[..s], &text[e..]).into_bytes(),
    )
}

/// Key-level damage: a key renamed, or a whole array swapped for a bad one.
fn replace_key(rng: &mut Rng, text: &str, keys: &[&str]) -> (String, Vec<u8>) {
    let key = *rng.pick(keys);
    let quoted = format!("\"{key}\":");
    let Some(at) = text.find(&quoted) else {
        return (format!("{key} kept"), text.as_bytes().to_vec());
    };
    if rng.below(2) == 0 {
        let t = text.replacen(&quoted, &format!("\"{key}_x\":"), 1);
        return (format!("key {key} renamed"), t.into_bytes());
    }
    // The value after the key, up to the matching close (arrays) or the next , or }.
    let start = at + quoted.len();
    let b = text.as_bytes();
    let mut depth = 0i32;
    let mut end = start;
    while end < b.len() {
        match b[end] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' if depth == 0 => break,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    end += 1;
                    break;
                }
            }
            b',' if depth == 0 => break,
            _ => {}
        }
        end += 1;
    }
    let v = *rng.pick(&[
        "[]",
        "[NaN]",
        "[-1,-2]",
        "[1e308,1e308,1e308]",
        "\"text\"",
        "null",
        "[[0.1]]",
        "[0.3,0.2,0.1,0.0]",
        "[4294967295,4294967295]",
        "{}",
        "1000000000",
        "100000",
    ]);
    (
        format!("{key} = {v}"),
        format!("{}{v}{}", &text[..start], &text[end..]).into_bytes(),
    )
}

fn json_mutation(rng: &mut Rng, text: &str, keys: &[&str]) -> (String, Vec<u8>) {
    match rng.below(3) {
        0 => damage(rng, text.as_bytes()),
        1 => replace_number(rng, text),
        _ => replace_key(rng, text, keys),
    }
}

fn npz_mutation(rng: &mut Rng) -> (String, Vec<u8>) {
    let mut members = npz_members();
    let k = rng.below(members.len());
    let name = members[k].0.clone();
    let what = match rng.below(9) {
        0 => {
            members.remove(k);
            format!("{name} missing")
        }
        1 => {
            let descr = *rng.pick(&["<U3", "|b1", ">f8", "<c16", "|O", "<f2", "<i1"]);
            let data = members[k].1[64..].to_vec();
            members[k].1 = npy(descr, "(4,)", &data);
            format!("{name} dtype {descr}")
        }
        2 => {
            let shape = *rng.pick(&[
                "(1000000000000,)",
                "(2, 2)",
                "()",
                "(0,)",
                "(18446744073709551615,)",
                "(-1,)",
                "(4,",
            ]);
            let descr = if name.contains("ids") || name.contains("neurons") {
                "<i8"
            } else {
                "<f8"
            };
            let data = members[k].1[64..].to_vec();
            members[k].1 = npy(descr, shape, &data);
            format!("{name} shape {shape}")
        }
        3 => {
            let len = members[k].1.len();
            let at = rng.below(len);
            members[k].1.truncate(at);
            format!("{name} truncated at {at}")
        }
        4 => {
            let v = *rng.pick(&[f64::NAN, -1.0, f64::INFINITY, 1e300, -0.0]);
            let descr_f = !(name.contains("ids") || name.contains("neurons"));
            let body = &mut members[k].1;
            let i = 64 + 8 * rng.below((body.len() - 64) / 8);
            if descr_f {
                body[i..i + 8].copy_from_slice(&v.to_le_bytes());
            } else {
                let iv = *rng.pick(&[-1i64, 4294967295, 1 << 40, 100_000_000, i64::MIN]);
                body[i..i + 8].copy_from_slice(&iv.to_le_bytes());
            }
            format!("{name} value at byte {i}")
        }
        5 => {
            // Spikes out of time order, or a trial that ends before it starts.
            members[0].1 = f8(&[0.3, 0.1, 1.2, 1.4]);
            members[4].1 = f8(&[0.5, *rng.pick(&[0.2, 1.6, -5.0])]);
            "unsorted times / bad trial end".to_string()
        }
        6 => {
            members[k].1 = i8s(&[0, 1, 2]);
            format!("{name} of the wrong length")
        }
        7 => {
            let n = *rng.pick(&[0i64, -1, 100_000_000, 4294967296, 1 << 40]);
            members[5].1 = npy("<i8", "()", &n.to_le_bytes());
            format!("num_neurons {n}")
        }
        _ => {
            let bytes = zip(&members);
            return damage(rng, &bytes);
        }
    };
    (what, zip(&members))
}

// ---------------------------------------------------------------------------------------------
// The corpus.

fn loglik(model: &str, data: &str) -> Vec<String> {
    [
        "loglik",
        "--model",
        &format!("{{dir}}/{model}"),
        "--data",
        &format!("{{dir}}/{data}"),
        "--out",
        "{dir}/ll.json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn generated(rng: &mut Rng) -> Vec<Case> {
    let model2 = model_text(&small_model(2, 4, BoundaryMode::Reflecting));
    let mut cases = Vec::new();
    let spike_keys = [
        "num_neurons",
        "trials",
        "isi",
        "neuron",
        "format",
        "version",
        "censored",
    ];
    let raw_keys = [
        "num_neurons",
        "spike_times",
        "neuron_ids",
        "trial_ids",
        "trial_start",
        "trial_end",
        "format",
    ];
    let model_keys = [
        "ne", "np", "xbegin", "xend", "peq", "d", "rates", "boundary", "p0", "format", "version",
    ];
    for i in 0..PER_FAMILY {
        let (base, keys, label) = if i % 2 == 0 {
            (TRIALS_JSON, &spike_keys[..], "trials")
        } else {
            (RAW_JSON, &raw_keys[..], "raw")
        };
        let (what, bytes) = json_mutation(rng, base, keys);
        cases.push(Case {
            name: format!("spikes {label} json: {what}"),
            files: vec![
                ("model.json".into(), model2.clone().into_bytes()),
                ("bad.json".into(), bytes),
            ],
            args: loglik("model.json", "bad.json"),
            needle: "bad.json".into(),
            outputs: strings(&["ll.json"]),
        });
    }
    for _ in 0..PER_FAMILY {
        let (what, bytes) = npz_mutation(rng);
        cases.push(Case {
            name: format!("spikes npz: {what}"),
            files: vec![
                ("model.json".into(), model2.clone().into_bytes()),
                ("bad.npz".into(), bytes),
            ],
            args: loglik("model.json", "bad.npz"),
            needle: "bad.npz".into(),
            outputs: strings(&["ll.json"]),
        });
    }
    for _ in 0..PER_FAMILY {
        let (what, bytes) = json_mutation(rng, &model2, &model_keys);
        cases.push(Case {
            name: format!("model: {what}"),
            files: vec![
                ("bad_model.json".into(), bytes),
                ("data.json".into(), TRIALS_JSON.into()),
            ],
            args: loglik("bad_model.json", "data.json"),
            needle: "bad_model.json".into(),
            outputs: strings(&["ll.json"]),
        });
    }
    cases
}

/// The cases issue 22 lists, by hand.
fn hand_cases() -> Vec<Case> {
    let one = ("one.json".to_string(), ONE_NEURON_JSON.as_bytes().to_vec());
    let model2 = model_text(&small_model(2, 4, BoundaryMode::Reflecting));
    // `fit` on the spike file `data` (in the case's directory) for one iteration.
    let fit_on = |data: &str, extra: &[&str]| {
        let mut a = strings(&["fit", "--data", &format!("{{dir}}/{data}"), "--out"]);
        a.extend(strings(&["{dir}/fit", "--iterations", "1", "--quiet"]));
        a.extend(strings(extra));
        a
    };
    let fit = |extra: &[&str]| fit_on("one.json", extra);
    let tiny_mean = ["--rate", "mean", "--ne", "4", "--np", "4", "--nv", "2"];
    let fit_outputs = strings(&["fit"]);
    // A model file on one element: valid JSON, rejected by the reflecting-boundary check.
    let mut ne1 = serde_json::to_value(ModelFile::from_model(&small_model(
        1,
        4,
        BoundaryMode::Absorbing,
    )))
    .unwrap();
    ne1["grid"]["ne"] = 1.into();
    ne1["boundary"] = "reflecting".into();
    let n1 = 4;
    ne1["peq"] = serde_json::json!(vec![0.5; n1]);
    ne1["rates"] = serde_json::json!([vec![5.0; n1]]);
    let ne1 = serde_json::to_vec(&ne1).unwrap();
    let mut huge_ne = serde_json::to_value(ModelFile::from_model(&small_model(
        2,
        4,
        BoundaryMode::Reflecting,
    )))
    .unwrap();
    huge_ne["grid"]["ne"] = 1_000_000_000u64.into();
    let mut huge_np = serde_json::to_value(ModelFile::from_model(&small_model(
        2,
        4,
        BoundaryMode::Reflecting,
    )))
    .unwrap();
    huge_np["grid"]["np"] = 100_000u64.into();
    huge_np["grid"]["ne"] = 1.into();
    let three = model_text(&small_model(3, 4, BoundaryMode::Reflecting));
    let censored =
        r#"{"num_neurons":2,"trials":[{"isi":[0.1,0.2],"neuron":[0,-1],"censored":true}]}"#;
    let big_id = r#"{"trials":[{"isi":[0.1,0.2,0.3],"neuron":[0,4294967295,-1]},{"isi":[0.1],"neuron":[-1]}]}"#;
    let many = r#"{"num_neurons":100000000,"trials":[{"isi":[0.1,0.2],"neuron":[0,-1]},{"isi":[0.1],"neuron":[-1]}]}"#;
    let file = |name: &str, bytes: &[u8]| (name.to_string(), bytes.to_vec());
    vec![
        Case {
            name: "fit --ne 1 (reflecting)".into(),
            files: vec![one.clone()],
            args: fit(&["--ne", "1", "--np", "4", "--nv", "2"]),
            needle: "ne = 1".into(),
            outputs: fit_outputs.clone(),
        },
        Case {
            name: "select --ne 1 (reflecting)".into(),
            files: vec![one.clone()],
            args: strings(&[
                "select",
                "--data",
                "{dir}/one.json",
                "--out",
                "{dir}/sel",
                "--iterations",
                "1",
                "--quiet",
                "--ne",
                "1",
                "--np",
                "4",
                "--nv",
                "2",
            ]),
            needle: "ne = 1".into(),
            outputs: strings(&["sel"]),
        },
        Case {
            name: "fit --init with a one-element reflecting model".into(),
            files: vec![one.clone(), file("ne1.json", &ne1)],
            args: fit(&["--init", "{dir}/ne1.json"]),
            needle: "ne1.json".into(),
            outputs: fit_outputs.clone(),
        },
        Case {
            name: "loglik of a one-element reflecting model".into(),
            files: vec![one.clone(), file("ne1.json", &ne1)],
            args: loglik("ne1.json", "one.json"),
            needle: "ne1.json".into(),
            outputs: strings(&["ll.json"]),
        },
        Case {
            name: "fit --ne 100000000".into(),
            files: vec![one.clone()],
            args: fit(&["--ne", "100000000", "--np", "4", "--nv", "2"]),
            needle: "100000000".into(),
            outputs: fit_outputs.clone(),
        },
        Case {
            name: "fit --np 100000".into(),
            files: vec![one.clone()],
            args: fit(&["--ne", "2", "--np", "100000", "--nv", "2"]),
            needle: "np = 100000".into(),
            outputs: fit_outputs.clone(),
        },
        Case {
            name: "neuron id 4294967295 with --rate mean".into(),
            files: vec![file("big_id.json", big_id.as_bytes())],
            args: fit_on("big_id.json", &tiny_mean),
            needle: "big_id.json".into(),
            outputs: fit_outputs.clone(),
        },
        Case {
            name: "num_neurons 1e8".into(),
            files: vec![file("many.json", many.as_bytes())],
            args: fit_on("many.json", &tiny_mean),
            needle: "many.json".into(),
            outputs: fit_outputs.clone(),
        },
        Case {
            name: "model file with ne = 1e9".into(),
            files: vec![
                one.clone(),
                file("huge_ne.json", &serde_json::to_vec(&huge_ne).unwrap()),
            ],
            args: loglik("huge_ne.json", "one.json"),
            needle: "huge_ne.json".into(),
            outputs: strings(&["ll.json"]),
        },
        Case {
            name: "model file with np = 100000".into(),
            files: vec![
                one.clone(),
                file("huge_np.json", &serde_json::to_vec(&huge_np).unwrap()),
            ],
            args: loglik("huge_np.json", "one.json"),
            needle: "huge_np.json".into(),
            outputs: strings(&["ll.json"]),
        },
        Case {
            name: "3-neuron model on 1-neuron data".into(),
            files: vec![one.clone(), file("three.json", three.as_bytes())],
            args: loglik("three.json", "one.json"),
            needle: "three.json".into(),
            outputs: strings(&["ll.json"]),
        },
        Case {
            name: "censored trial on a reflecting model".into(),
            files: vec![
                file("model.json", model2.as_bytes()),
                file("cens.json", censored.as_bytes()),
            ],
            args: loglik("model.json", "cens.json"),
            needle: "cens.json".into(),
            outputs: strings(&["ll.json"]),
        },
        Case {
            name: "fit --validation with another neuron count".into(),
            files: vec![one.clone(), file("two.json", TWO_NEURON_JSON.as_bytes())],
            args: fit(&[
                "--validation",
                "{dir}/two.json",
                "--ne",
                "4",
                "--np",
                "4",
                "--nv",
                "2",
            ]),
            needle: "two.json".into(),
            outputs: fit_outputs.clone(),
        },
        Case {
            name: "fit --nv above the grid's modes".into(),
            files: vec![one.clone()],
            args: fit(&["--ne", "4", "--np", "4", "--nv", "1000"]),
            needle: "--nv 1000".into(),
            outputs: fit_outputs.clone(),
        },
        Case {
            name: "fit --ne 2 --np 1000".into(),
            files: vec![one.clone()],
            args: fit(&["--ne", "2", "--np", "1000", "--nv", "2"]),
            needle: "np = 1000".into(),
            outputs: fit_outputs.clone(),
        },
        Case {
            name: "experiment --samples 0".into(),
            files: vec![],
            args: strings(&[
                "experiment",
                "double-well",
                "--samples",
                "0",
                "--out",
                "{dir}/e",
            ]),
            needle: "--samples".into(),
            outputs: strings(&["e"]),
        },
    ]
    .into_iter()
    .chain(option_cases(&one))
    .chain([Case {
        name: "loglik --out into a missing directory".into(),
        files: vec![
            file("model.json", model2.as_bytes()),
            file("data.json", TRIALS_JSON.as_bytes()),
        ],
        args: strings(&[
            "loglik",
            "--model",
            "{dir}/model.json",
            "--data",
            "{dir}/data.json",
            "--out",
            "{dir}/missing/ll.json",
        ]),
        needle: "ll.json".into(),
        outputs: strings(&["missing"]),
    }])
    .collect()
}

/// Options out of range, each rejected where it is parsed, naming the option: (command,
/// option, value) on a valid one-neuron file.
fn option_cases(one: &(String, Vec<u8>)) -> Vec<Case> {
    let bad = [
        ("fit", "--lr", "-0.005"),
        ("fit", "--lr", "0"),
        ("fit", "--lr", "NaN"),
        ("fit", "--lr", "inf"),
        ("fit", "--lr", "Fr=-1"),
        ("select", "--lr", "-1"),
        ("select", "--margin", "-1"),
        ("select", "--threshold", "0"),
        ("select", "--threshold-js", "0"),
        ("select", "--check-every", "0"),
        ("fit", "--checkpoint-every", "0"),
        ("fit", "--iterations", "0"),
        ("select", "--iterations", "0"),
    ];
    bad.iter()
        .map(|&(command, option, value)| Case {
            name: format!("{command} {option} {value}"),
            files: vec![one.clone()],
            args: strings(&[
                command,
                "--data",
                "{dir}/one.json",
                "--out",
                "{dir}/o",
                "--quiet",
                option,
                value,
            ]),
            needle: option.into(),
            outputs: strings(&["o"]),
        })
        .collect()
}

#[test]
fn the_bad_input_corpus_ends_in_clear_errors() {
    let root = std::env::temp_dir().join(format!("lf-corpus-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    let mut rng = Rng(0x1a7e_f10e_2020);
    let mut cases = hand_cases();
    let hand = cases.len();
    cases.extend(generated(&mut rng));
    let start = Instant::now();
    let outcomes: Vec<Outcome> = cases
        .iter()
        .enumerate()
        .map(|(k, c)| run_case(&root, k, c))
        .collect();
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let clear = count(|o| matches!(o, Outcome::Clear));
    let accepted = count(|o| matches!(o, Outcome::Accepted));
    let unclear = count(|o| matches!(o, Outcome::Unclear(_)));
    let panics = count(|o| matches!(o, Outcome::Panic(_)));
    let aborts = count(|o| matches!(o, Outcome::Abort(_)));
    let hangs = count(|o| matches!(o, Outcome::Hang));
    println!(
        "bad-input corpus: {} cases ({hand} by hand, {} generated) in {:.1} s: {clear} clear errors, \
         {accepted} accepted as valid, {unclear} unclear, {panics} panics, {aborts} aborts, {hangs} hangs",
        cases.len(),
        cases.len() - hand,
        start.elapsed().as_secs_f64()
    );
    let mut failures = Vec::new();
    for (k, (case, outcome)) in cases.iter().zip(&outcomes).enumerate() {
        match outcome {
            Outcome::Clear | Outcome::Accepted => {}
            Outcome::Hang => failures.push(format!("case {k} ({}): hang", case.name)),
            Outcome::Unclear(s) => failures.push(format!("case {k}: unclear: {s}")),
            Outcome::Panic(s) => failures.push(format!("case {k}: panic: {s}")),
            Outcome::Abort(s) => failures.push(format!("case {k}: abort: {s}")),
        }
        // The hand cases are all errors.
        if k < hand && matches!(outcome, Outcome::Accepted) {
            failures.push(format!("case {k} ({}): accepted", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() - hand >= 100);
    assert!(clear >= 100, "only {clear} clear errors");
    std::fs::remove_dir_all(&root).ok();
}
