//! One trial: inter-event intervals and the neuron that ends each one.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{DataError, TrialProblem};

/// One trial: intervals `isi[i]` (seconds, finite, >= 0) and `neuron[i]`, the id of the neuron
/// whose spike ends interval `i`.
///
/// Only the last entry of `neuron` may be `None`: the silent tail from the last spike to the
/// trial end (written `-1` in files). `censored` marks a trial that the recording cut off
/// (meaningful only with absorbing boundaries; default `false`). `condition` is the task
/// condition the trial was recorded in (default 0; ids `0..`[`MAX_CONDITIONS`](crate::MAX_CONDITIONS)).
///
/// Neuron ids are checked against a neuron count only when the trial enters a
/// [`SpikeData`](crate::SpikeData).
///
/// Serde form (the `trials` entries of the JSON format):
/// `{"isi": [..], "neuron": [.., -1], "censored": false, "condition": 2}`; deserialising
/// validates like [`Trial::new`] and accepts `null` as well as `-1` for the tail, `censored`
/// and `condition` optional. `condition` is written only when it is not 0, so single-condition
/// files are unchanged.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "TrialRepr")]
pub struct Trial {
    isi: Vec<f64>,
    neuron: Vec<Option<u32>>,
    censored: bool,
    condition: u32,
}

impl Trial {
    /// A validated, uncensored trial.
    ///
    /// Errors ([`DataError::Trial`], with the event index where it applies): empty trial,
    /// `isi` and `neuron` of different lengths, an interval that is NaN, infinite or negative,
    /// a `None` neuron before the last interval.
    pub fn new(isi: Vec<f64>, neuron: Vec<Option<u32>>) -> Result<Trial, DataError> {
        let fail = |event, problem| DataError::Trial {
            trial: None,
            event,
            problem,
        };
        if isi.len() != neuron.len() {
            return Err(fail(
                None,
                TrialProblem::LengthMismatch {
                    isi: isi.len(),
                    neuron: neuron.len(),
                },
            ));
        }
        if isi.is_empty() {
            return Err(fail(None, TrialProblem::Empty));
        }
        if let Some(i) = isi.iter().position(|&d| !(d.is_finite() && d >= 0.0)) {
            return Err(fail(Some(i), TrialProblem::BadInterval(isi[i])));
        }
        if let Some(i) = neuron[..neuron.len() - 1].iter().position(Option::is_none) {
            return Err(fail(Some(i), TrialProblem::TailNotLast));
        }
        Ok(Trial {
            isi,
            neuron,
            censored: false,
            condition: 0,
        })
    }

    /// The same trial with the censored flag set to `censored`.
    pub fn with_censored(mut self, censored: bool) -> Trial {
        self.censored = censored;
        self
    }

    /// The same trial in task condition `condition`. The id is checked against
    /// [`MAX_CONDITIONS`](crate::MAX_CONDITIONS) when the trial enters a
    /// [`SpikeData`](crate::SpikeData).
    pub fn with_condition(mut self, condition: u32) -> Trial {
        self.condition = condition;
        self
    }

    /// The task condition of the trial (0 unless set).
    pub fn condition(&self) -> u32 {
        self.condition
    }

    /// Inter-event intervals (seconds).
    pub fn isi(&self) -> &[f64] {
        &self.isi
    }

    /// Neuron id of the spike ending each interval; `None` (last entry only) for the tail.
    pub fn neuron(&self) -> &[Option<u32>] {
        &self.neuron
    }

    /// Whether the recording cut the trial off (absorbing boundaries only).
    pub fn censored(&self) -> bool {
        self.censored
    }

    /// Trial length in seconds: the sum of the intervals.
    pub fn duration(&self) -> f64 {
        self.isi.iter().sum()
    }

    /// Number of spikes (intervals that end in a spike).
    pub fn num_spikes(&self) -> usize {
        self.neuron.iter().filter(|n| n.is_some()).count()
    }

    /// Whether the last interval ends in a spike (no silent tail).
    pub fn ends_with_spike(&self) -> bool {
        self.neuron.last().is_some_and(Option::is_some)
    }

    /// The largest neuron id in the trial, if it has spikes.
    pub(crate) fn max_neuron(&self) -> Option<u32> {
        self.neuron.iter().flatten().copied().max()
    }
}

/// The file form of a trial: neuron ids as signed integers with -1 (or null) for the tail.
#[derive(Deserialize)]
pub(crate) struct TrialRepr {
    isi: Vec<f64>,
    neuron: Vec<Option<i64>>,
    #[serde(default)]
    censored: bool,
    #[serde(default)]
    condition: i64,
}

impl TryFrom<TrialRepr> for Trial {
    type Error = DataError;

    fn try_from(repr: TrialRepr) -> Result<Trial, DataError> {
        let last = repr.neuron.len().saturating_sub(1);
        let neuron = repr
            .neuron
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                match id {
                    None | Some(-1) if i == last => Ok(None),
                    None | Some(-1) => Err(TrialProblem::TailNotLast),
                    Some(id) => u32::try_from(id)
                        .map(Some)
                        .map_err(|_| TrialProblem::BadNeuronId(id)),
                }
                .map_err(|problem| DataError::Trial {
                    trial: None,
                    event: Some(i),
                    problem,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let condition = u32::try_from(repr.condition).map_err(|_| DataError::Trial {
            trial: None,
            event: None,
            problem: TrialProblem::BadConditionId(repr.condition),
        })?;
        Ok(Trial::new(repr.isi, neuron)?
            .with_censored(repr.censored)
            .with_condition(condition))
    }
}

impl Serialize for Trial {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let neuron: Vec<i64> = self
            .neuron
            .iter()
            .map(|n| n.map_or(-1, i64::from))
            .collect();
        let with_condition = self.condition != 0;
        let mut s = serializer.serialize_struct("Trial", 3 + usize::from(with_condition))?;
        s.serialize_field("isi", &self.isi)?;
        s.serialize_field("neuron", &neuron)?;
        s.serialize_field("censored", &self.censored)?;
        if with_condition {
            s.serialize_field("condition", &self.condition)?;
        }
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(r: Result<Trial, DataError>) -> (Option<usize>, TrialProblem) {
        match r {
            Err(DataError::Trial { event, problem, .. }) => (event, problem),
            other => panic!("expected a trial error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_tail_and_spike_endings() {
        let t = Trial::new(vec![0.5, 0.0, 0.25], vec![Some(1), Some(0), None]).unwrap();
        assert_eq!(t.duration(), 0.75);
        assert_eq!(t.num_spikes(), 2);
        assert!(!t.ends_with_spike());
        assert!(!t.censored());
        assert_eq!(t.max_neuron(), Some(1));
        let t = Trial::new(vec![0.5], vec![Some(3)])
            .unwrap()
            .with_censored(true);
        assert!(t.ends_with_spike());
        assert!(t.censored());
        assert_eq!(t.num_spikes(), 1);
        let t = Trial::new(vec![2.0], vec![None]).unwrap();
        assert_eq!((t.num_spikes(), t.max_neuron()), (0, None));
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(
            problem(Trial::new(vec![], vec![])),
            (None, TrialProblem::Empty)
        );
    }

    #[test]
    fn rejects_length_mismatch() {
        assert_eq!(
            problem(Trial::new(vec![0.1, 0.2], vec![Some(0)])),
            (None, TrialProblem::LengthMismatch { isi: 2, neuron: 1 })
        );
    }

    #[test]
    fn rejects_bad_intervals_with_event_index() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1e-12] {
            let (event, p) = problem(Trial::new(
                vec![0.1, 0.2, bad],
                vec![Some(0), Some(0), None],
            ));
            assert_eq!(event, Some(2));
            assert!(matches!(p, TrialProblem::BadInterval(v) if v.to_bits() == bad.to_bits()));
        }
    }

    #[test]
    fn rejects_tail_before_last() {
        assert_eq!(
            problem(Trial::new(vec![0.1, 0.2, 0.3], vec![Some(0), None, None])),
            (Some(1), TrialProblem::TailNotLast)
        );
    }

    #[test]
    fn error_message_names_event() {
        let e = Trial::new(vec![0.1, -0.2], vec![Some(0), None]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("event 1") && msg.contains("-0.2"), "{msg}");
        assert_eq!(e.in_trial(4).to_string(), format!("trial 4, {}", &msg[6..]));
    }

    #[test]
    fn serde_form_uses_minus_one_for_the_tail() {
        let t = Trial::new(vec![0.5, 0.25], vec![Some(2), None]).unwrap();
        let s = serde_json::to_string(&t).unwrap();
        assert_eq!(s, r#"{"isi":[0.5,0.25],"neuron":[2,-1],"censored":false}"#);
        let back: Trial = serde_json::from_str(&s).unwrap();
        assert_eq!(back, t);
        let null_tail: Trial =
            serde_json::from_str(r#"{"isi":[0.5,0.25],"neuron":[2,null],"censored":true}"#)
                .unwrap();
        assert_eq!(null_tail, t.clone().with_censored(true));
        let c = t.clone().with_condition(3);
        assert_eq!((t.condition(), c.condition()), (0, 3));
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(
            s,
            r#"{"isi":[0.5,0.25],"neuron":[2,-1],"censored":false,"condition":3}"#
        );
        assert_eq!(serde_json::from_str::<Trial>(&s).unwrap(), c);
    }

    #[test]
    fn serde_validates() {
        for (doc, needle) in [
            (r#"{"isi":[0.5,0.25],"neuron":[-1,-1]}"#, "event 0"),
            (r#"{"isi":[0.5,0.25],"neuron":[-2,-1]}"#, "neuron id -2"),
            (
                r#"{"isi":[0.5,0.25],"neuron":[4294967296,-1]}"#,
                "4294967296",
            ),
            (r#"{"isi":[-0.5,0.25],"neuron":[0,-1]}"#, "-0.5"),
            (r#"{"isi":[],"neuron":[]}"#, "at least one interval"),
            (r#"{"isi":[0.5],"neuron":[0,-1]}"#, "isi has 1 entries"),
            (r#"{"neuron":[0]}"#, "missing field `isi`"),
            (
                r#"{"isi":[0.5],"neuron":[0],"condition":-1}"#,
                "condition id -1 is invalid",
            ),
            (
                r#"{"isi":[0.5],"neuron":[0],"condition":4294967296}"#,
                "condition id 4294967296",
            ),
            (
                r#"{"isi":[0.5],"neuron":[0],"condition":0.5}"#,
                "expected i64",
            ),
        ] {
            let e = serde_json::from_str::<Trial>(doc).unwrap_err().to_string();
            assert!(e.contains(needle), "{doc}: {e}");
        }
    }
}
