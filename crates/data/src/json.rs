//! The JSON file format (see `docs/formats.md`, "Spike data").

use std::path::Path;

use serde::Deserialize;

use crate::error::DataError;
use crate::files::{read_bytes, write_atomic};
use crate::spike_data::SpikeData;
use crate::spike_times::SpikeTimes;
use crate::trial::{Trial, TrialRepr};

/// Format tag of the trial (interval) form.
pub const JSON_FORMAT: &str = "latentflow-spikes";
/// Format tag of the raw spike-times form (read only).
pub const JSON_SPIKE_TIMES_FORMAT: &str = "latentflow-spike-times";
/// The file-format version this crate reads and writes.
pub const FORMAT_VERSION: u64 = 1;

/// Every key either JSON form may have; other keys are ignored.
#[derive(Deserialize)]
struct Document {
    format: Option<String>,
    version: Option<u64>,
    num_neurons: Option<usize>,
    trials: Option<Vec<TrialRepr>>,
    spike_times: Option<Vec<f64>>,
    neuron_ids: Option<Vec<u32>>,
    trial_ids: Option<Vec<u32>>,
    trial_start: Option<Vec<f64>>,
    trial_end: Option<Vec<f64>>,
    censored: Option<Vec<bool>>,
    condition: Option<Vec<u32>>,
}

/// The neuron count to assume when a file does not give one: the largest id + 1, or 1 when
/// there are no spikes.
pub(crate) fn infer_num_neurons(max_id: Option<u32>) -> usize {
    max_id.map_or(1, |m| m as usize + 1)
}

impl SpikeData {
    /// Reads a JSON spike file.
    ///
    /// Accepted documents (other keys are ignored):
    /// - the trial form `{"format": "latentflow-spikes", "version": 1, "num_neurons": K,
    ///   "trials": [{"isi": [..], "neuron": [.., -1], "censored": false, "condition": 0}, ..]}`,
    ///   where `format`, `version`, `num_neurons` and each `censored` and `condition` are optional — so a document with just
    ///   `trials` (such as the reference fixtures) reads;
    /// - the raw form `{"format": "latentflow-spike-times", "version": 1, "num_neurons": K,
    ///   "spike_times": [..], "neuron_ids": [..], "trial_ids": [..], "trial_start": [..],
    ///   "trial_end": [..], "censored": [..], "condition": [..]}` (see
    ///   [`SpikeData::from_spike_times`]; `format`, `version`, `num_neurons`, `censored` and
    ///   `condition` (one id per trial) optional).
    ///
    /// A missing `num_neurons` is inferred as the largest neuron id + 1 (1 without spikes).
    /// When `format` is given, `version` must be given too; a given `version` must be 1.
    ///
    /// Errors name the file: [`DataError::Malformed`] (not JSON, truncated),
    /// [`DataError::Schema`] (wrong tag or version, missing key, wrong type; with line and
    /// column), [`DataError::Content`] (invalid trials, with trial and event indices).
    pub fn read_json(path: impl AsRef<Path>) -> Result<SpikeData, DataError> {
        let path = path.as_ref();
        parse_json(&read_bytes(path)?, path)
    }

    /// Writes the trial form of the JSON format atomically: a header line, then one trial per
    /// line. Floats are written in shortest round-trip form, so reading gives back equal data.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<(), DataError> {
        let path = path.as_ref();
        let bytes = self.to_json_bytes().map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            error: std::io::Error::other(e),
        })?;
        write_atomic(path, &bytes)
    }

    /// The bytes [`SpikeData::write_json`] writes.
    fn to_json_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = format!(
            "{{\"format\":\"{JSON_FORMAT}\",\"version\":{FORMAT_VERSION},\"num_neurons\":{},\"trials\":[\n",
            self.num_neurons()
        )
        .into_bytes();
        for (k, trial) in self.trials().iter().enumerate() {
            if k > 0 {
                out.extend_from_slice(b",\n");
            }
            serde_json::to_writer(&mut out, trial)?;
        }
        out.extend_from_slice(b"\n]}\n");
        Ok(out)
    }
}

/// Parses a JSON spike document; `path` is used in error messages only.
fn parse_json(bytes: &[u8], path: &Path) -> Result<SpikeData, DataError> {
    let schema = |reason: String| DataError::Schema {
        path: path.to_path_buf(),
        reason,
    };
    let doc: Document = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => schema(format!("not a spike-data document: {e}")),
        serde_json::error::Category::Eof => DataError::Malformed {
            path: path.to_path_buf(),
            reason: format!("truncated JSON: {e}"),
        },
        _ => DataError::Malformed {
            path: path.to_path_buf(),
            reason: format!("invalid JSON: {e}"),
        },
    })?;
    match (&doc.format, doc.version) {
        (_, Some(FORMAT_VERSION)) | (None, None) => {}
        (Some(_), None) => return Err(schema("missing key `version`".into())),
        (_, Some(v)) => {
            return Err(schema(format!(
                "unsupported version {v} (this reader knows version {FORMAT_VERSION})"
            )));
        }
    }
    let raw_form = match doc.format.as_deref() {
        Some(JSON_FORMAT) => false,
        Some(JSON_SPIKE_TIMES_FORMAT) => true,
        Some(other) => {
            return Err(schema(format!(
                "unknown format tag {other:?} (expected {JSON_FORMAT:?} or {JSON_SPIKE_TIMES_FORMAT:?})"
            )));
        }
        None => doc.trials.is_none() && doc.spike_times.is_some(),
    };
    if raw_form {
        raw_from_document(doc, path)
    } else {
        trials_from_document(doc, path)
    }
}

fn trials_from_document(doc: Document, path: &Path) -> Result<SpikeData, DataError> {
    let reprs = doc.trials.ok_or_else(|| DataError::Schema {
        path: path.to_path_buf(),
        reason: "missing key `trials`".into(),
    })?;
    let trials = reprs
        .into_iter()
        .enumerate()
        .map(|(k, r)| Trial::try_from(r).map_err(|e| e.in_trial(k).in_file(path)))
        .collect::<Result<Vec<_>, _>>()?;
    let num_neurons = doc
        .num_neurons
        .unwrap_or_else(|| infer_num_neurons(trials.iter().filter_map(Trial::max_neuron).max()));
    SpikeData::new(num_neurons, trials).map_err(|e| e.in_file(path))
}

fn raw_from_document(doc: Document, path: &Path) -> Result<SpikeData, DataError> {
    let missing = |key: &str| DataError::Schema {
        path: path.to_path_buf(),
        reason: format!("missing key `{key}`"),
    };
    let neuron_ids = doc.neuron_ids.ok_or_else(|| missing("neuron_ids"))?;
    let raw = SpikeTimes {
        num_neurons: doc
            .num_neurons
            .unwrap_or_else(|| infer_num_neurons(neuron_ids.iter().copied().max())),
        spike_times: doc.spike_times.ok_or_else(|| missing("spike_times"))?,
        neuron_ids,
        trial_ids: doc.trial_ids.ok_or_else(|| missing("trial_ids"))?,
        trial_start: doc.trial_start.ok_or_else(|| missing("trial_start"))?,
        trial_end: doc.trial_end.ok_or_else(|| missing("trial_end"))?,
    };
    let schema = |reason| DataError::Schema {
        path: path.to_path_buf(),
        reason,
    };
    let mut data = SpikeData::from_spike_times(&raw).map_err(|e| e.in_file(path))?;
    if let Some(flags) = doc.censored {
        data = data.with_censored_flags(&flags).map_err(schema)?;
    }
    if let Some(ids) = doc.condition {
        data = data.with_condition_ids(&ids).map_err(schema)?;
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{SpikeTimesProblem, TrialProblem};

    fn parse(s: &str) -> Result<SpikeData, DataError> {
        parse_json(s.as_bytes(), Path::new("test.json"))
    }

    fn sample() -> SpikeData {
        SpikeData::new(
            3,
            vec![
                Trial::new(vec![0.1, 0.2, 0.3], vec![Some(0), Some(2), None]).unwrap(),
                Trial::new(vec![0.5], vec![Some(1)])
                    .unwrap()
                    .with_censored(true),
            ],
        )
        .unwrap()
    }

    #[test]
    fn written_bytes_parse_back() {
        let d = sample();
        let bytes = d.to_json_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            text,
            "{\"format\":\"latentflow-spikes\",\"version\":1,\"num_neurons\":3,\"trials\":[\n\
             {\"isi\":[0.1,0.2,0.3],\"neuron\":[0,2,-1],\"censored\":false},\n\
             {\"isi\":[0.5],\"neuron\":[1],\"censored\":true}\n]}\n"
        );
        assert_eq!(parse(&text).unwrap(), d);
    }

    #[test]
    fn bare_trials_infer_num_neurons() {
        let d =
            parse(r#"{"trials":[{"isi":[0.1,0.2],"neuron":[4,-1]}], "other": {"x": 1}}"#).unwrap();
        assert_eq!(d.num_neurons(), 5);
        assert!(!d.trials()[0].censored());
        let d = parse(r#"{"trials":[{"isi":[0.1],"neuron":[-1]}]}"#).unwrap();
        assert_eq!(d.num_neurons(), 1);
    }

    #[test]
    fn explicit_num_neurons_is_checked() {
        let e = parse(r#"{"num_neurons":2,"trials":[{"isi":[1],"neuron":[-1]},{"isi":[0.1,0.2],"neuron":[1,2]}]}"#)
            .unwrap_err();
        assert!(
            matches!(&e, DataError::Content { error, .. } if matches!(**error,
            DataError::Trial { trial: Some(1), event: Some(1), problem: TrialProblem::NeuronOutOfRange { id: 2, num_neurons: 2 } }))
        );
        assert_eq!(
            e.to_string(),
            "test.json: trial 1, event 1: neuron id 2 is not below num_neurons = 2"
        );
        let e = parse(r#"{"num_neurons":0,"trials":[{"isi":[1],"neuron":[-1]}]}"#).unwrap_err();
        assert!(
            matches!(&e, DataError::Content { error, .. } if matches!(**error, DataError::NoNeurons))
        );
    }

    #[test]
    fn invalid_trial_names_trial_and_event() {
        let e = parse(
            r#"{"trials":[{"isi":[1],"neuron":[-1]},{"isi":[0.1,-0.2,0.3],"neuron":[0,0,-1]}]}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("test.json: trial 1, event 1:"),
            "{e}"
        );
        let e = parse(r#"{"trials":[{"isi":[0.1,0.3],"neuron":[-1,-1]}]}"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("test.json: trial 0, event 0: only the last"),
            "{e}"
        );
        let e = parse(r#"{"trials":[]}"#).unwrap_err();
        assert!(
            matches!(&e, DataError::Content { error, .. } if matches!(**error, DataError::NoTrials))
        );
    }

    #[test]
    fn format_and_version_are_checked() {
        let t = r#""trials":[{"isi":[1],"neuron":[-1]}]"#;
        for (doc, needle) in [
            (
                format!(r#"{{"format":"other","version":1,{t}}}"#),
                "unknown format tag \"other\"",
            ),
            (
                format!(r#"{{"format":"latentflow-spikes",{t}}}"#),
                "missing key `version`",
            ),
            (
                format!(r#"{{"format":"latentflow-spikes","version":2,{t}}}"#),
                "unsupported version 2",
            ),
            (
                format!(r#"{{"version":"1",{t}}}"#),
                "invalid type: string \"1\"",
            ),
            (
                r#"{"format":"latentflow-spikes","version":1}"#.to_string(),
                "missing key `trials`",
            ),
            (r#"{"num_neurons":2}"#.to_string(), "missing key `trials`"),
            (r#"[1, 2]"#.to_string(), "invalid type"),
            (
                r#"{"trials":[{"isi":["a"],"neuron":[-1]}]}"#.to_string(),
                "line 1 column",
            ),
            (
                r#"{"trials":[{"isi":[1.0],"neuron":[0.5]}]}"#.to_string(),
                "expected i64",
            ),
        ] {
            let e = parse(&doc).unwrap_err();
            assert!(matches!(e, DataError::Schema { .. }), "{doc}: {e:?}");
            assert!(e.to_string().starts_with("test.json: "), "{e}");
            assert!(e.to_string().contains(needle), "{doc}: {e}");
        }
    }

    #[test]
    fn truncated_and_garbage_are_malformed() {
        let text = String::from_utf8(sample().to_json_bytes().unwrap()).unwrap();
        let trimmed = text.trim_end();
        for cut in 0..trimmed.len() {
            let e = parse(&trimmed[..cut]).unwrap_err();
            assert!(
                matches!(e, DataError::Malformed { .. }),
                "cut at {cut}: {e:?}"
            );
            assert!(
                e.to_string().contains("truncated JSON"),
                "cut at {cut}: {e}"
            );
        }
        let e = parse("{\"trials\": nope}").unwrap_err();
        assert!(matches!(e, DataError::Malformed { .. }) && e.to_string().contains("invalid JSON"));
    }

    #[test]
    fn raw_spike_times_variant() {
        let doc = r#"{"format":"latentflow-spike-times","version":1,
            "spike_times":[0.25,1.5],"neuron_ids":[1,0],"trial_ids":[0,1],
            "trial_start":[0,1],"trial_end":[1,2],"censored":[false,true]}"#;
        let d = parse(doc).unwrap();
        assert_eq!(d.num_neurons(), 2);
        assert_eq!(d.trials()[0].isi(), &[0.25, 0.75]);
        assert_eq!(d.trials()[1].neuron(), &[Some(0), None]);
        assert!(d.trials()[1].censored());
        // Without a format tag, spike_times without trials selects the raw form.
        let bare = r#"{"num_neurons":3,"spike_times":[],"neuron_ids":[],"trial_ids":[],"trial_start":[0],"trial_end":[1]}"#;
        assert_eq!(parse(bare).unwrap().num_neurons(), 3);
        let e =
            parse(r#"{"spike_times":[0.5],"neuron_ids":[0],"trial_ids":[0],"trial_start":[0]}"#)
                .unwrap_err();
        assert!(e.to_string().contains("missing key `trial_end`"), "{e}");
        let e = parse(r#"{"spike_times":[0.5],"neuron_ids":[0],"trial_ids":[0],"trial_start":[0],"trial_end":[0.25]}"#)
            .unwrap_err();
        assert!(
            matches!(&e, DataError::Content { error, .. } if matches!(**error,
            DataError::SpikeTimes(SpikeTimesProblem::OutsideTrial { trial: 0, spike: 0, .. })))
        );
        let e = parse(r#"{"spike_times":[],"neuron_ids":[],"trial_ids":[],"trial_start":[0],"trial_end":[1],"censored":[]}"#)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("censored has 0 entries but there are 1 trials"),
            "{e}"
        );
    }

    #[test]
    fn conditions_in_both_forms() {
        let d = SpikeData::new(
            2,
            vec![
                Trial::new(vec![0.1, 0.2], vec![Some(0), None])
                    .unwrap()
                    .with_condition(1),
                Trial::new(vec![0.5], vec![Some(1)]).unwrap(),
            ],
        )
        .unwrap();
        let text = String::from_utf8(d.to_json_bytes().unwrap()).unwrap();
        assert!(
            text.contains(r#""censored":false,"condition":1}"#),
            "{text}"
        );
        assert_eq!(parse(&text).unwrap(), d);
        let raw = r#"{"spike_times":[0.25,1.5],"neuron_ids":[1,0],"trial_ids":[0,1],
            "trial_start":[0,1],"trial_end":[1,2],"condition":[2,0]}"#;
        let r = parse(raw).unwrap();
        assert_eq!(r.num_conditions(), 3);
        assert_eq!(r.trials()[0].condition(), 2);
        for (doc, needle) in [
            (
                r#"{"trials":[{"isi":[1],"neuron":[-1],"condition":-2}]}"#,
                "test.json: trial 0: condition id -2 is invalid",
            ),
            (
                r#"{"trials":[{"isi":[1],"neuron":[-1],"condition":1000}]}"#,
                "test.json: trial 0: condition id 1000 is not below the 1000 conditions supported",
            ),
            (
                r#"{"spike_times":[],"neuron_ids":[],"trial_ids":[],"trial_start":[0],"trial_end":[1],"condition":[0,1]}"#,
                "condition has 2 entries but there are 1 trials",
            ),
            (
                r#"{"spike_times":[],"neuron_ids":[],"trial_ids":[],"trial_start":[0],"trial_end":[1],"condition":[5000]}"#,
                "trial 0: condition id 5000 is not below",
            ),
            (
                r#"{"spike_times":[],"neuron_ids":[],"trial_ids":[],"trial_start":[0],"trial_end":[1],"condition":[-1]}"#,
                "invalid value: integer `-1`",
            ),
        ] {
            let e = parse(doc).unwrap_err().to_string();
            assert!(e.contains(needle), "{doc}: {e}");
        }
    }

    #[test]
    fn neuron_counts_above_the_limit_are_refused_before_use() {
        // A huge id with the count inferred, and a huge declared count, in both JSON forms.
        for doc in [
            r#"{"trials":[{"isi":[0.1,0.2],"neuron":[4294967295,-1]}]}"#,
            r#"{"num_neurons":100000000,"trials":[{"isi":[0.1],"neuron":[-1]}]}"#,
            r#"{"spike_times":[0.5],"neuron_ids":[4294967295],"trial_ids":[0],"trial_start":[0],"trial_end":[1]}"#,
            r#"{"num_neurons":100000000,"spike_times":[],"neuron_ids":[],"trial_ids":[],"trial_start":[0],"trial_end":[1]}"#,
        ] {
            let e = parse(doc).unwrap_err();
            assert!(
                matches!(&e, DataError::Content { error, .. }
                    if matches!(**error, DataError::TooManyNeurons { limit: crate::MAX_NEURONS, .. })),
                "{doc}: {e:?}"
            );
            let text = e.to_string();
            assert!(text.starts_with("test.json: num_neurons = "), "{text}");
            assert_eq!(text.matches("test.json").count(), 1, "{text}");
        }
    }
}
