//! A validated data set: trials of K neurons.

use serde::{Deserialize, Serialize};

use crate::error::{DataError, TrialProblem};
use crate::trial::Trial;

/// A validated data set: at least one trial, `num_neurons >= 1`, every neuron id below
/// `num_neurons`, every condition id below [`MAX_CONDITIONS`].
///
/// Conditions: each trial has a task condition id ([`Trial::condition`], 0 by default); the
/// data set has `num_conditions` = the largest id + 1. A condition below that with no trial is
/// allowed here (a subset may lack one) and refused where per-condition work needs its trials
/// ([`SpikeData::split`], fits over conditions).
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeData {
    num_neurons: usize,
    trials: Vec<Trial>,
}

/// How [`SpikeData::split`] divides the trials into two halves, within each condition (with
/// one condition: over all trials). Serde names: `"alternating"`, `"halves"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// A condition's 1st, 3rd, 5th, ... trials to the first half, its 2nd, 4th, ... to the
    /// second (the default; with one condition: even trial indices / odd ones).
    #[default]
    Alternating,
    /// The first `ceil(n_c / 2)` of a condition's `n_c` trials to the first half, the rest to
    /// the second.
    Halves,
}

/// The most neurons a data set may have: 10,000. Every neuron costs the likelihood one
/// nv x nv spike operator (32 KB at nv = 64) and the model one firing-rate vector per grid
/// node, so the count is checked before anything is sized by it: a neuron id of 4294967295
/// in a file, or a `num_neurons` of 1e8, is a mistake, not a recording.
pub const MAX_NEURONS: usize = 10_000;

/// The most task conditions a data set may have: 1,000 (condition ids `0..1000`). A fit over
/// conditions holds one model per condition, so a condition id of 4294967295 in a file is
/// refused before anything is sized by it.
pub const MAX_CONDITIONS: usize = 1_000;

/// [`DataError::TooManyNeurons`] if `num_neurons` is above [`MAX_NEURONS`].
pub(crate) fn check_neuron_count(num_neurons: usize) -> Result<(), DataError> {
    if num_neurons > MAX_NEURONS {
        return Err(DataError::TooManyNeurons {
            num_neurons,
            limit: MAX_NEURONS,
        });
    }
    Ok(())
}

impl SpikeData {
    /// A validated data set.
    ///
    /// Errors: [`DataError::NoNeurons`], [`DataError::TooManyNeurons`] (more than
    /// [`MAX_NEURONS`]), [`DataError::NoTrials`], and [`DataError::Trial`] with the trial and
    /// event index of the first neuron id `>= num_neurons`, or the trial index of the first
    /// condition id `>=` [`MAX_CONDITIONS`].
    pub fn new(num_neurons: usize, trials: Vec<Trial>) -> Result<SpikeData, DataError> {
        if num_neurons == 0 {
            return Err(DataError::NoNeurons);
        }
        check_neuron_count(num_neurons)?;
        if trials.is_empty() {
            return Err(DataError::NoTrials);
        }
        for (t, trial) in trials.iter().enumerate() {
            let bad =
                trial.neuron().iter().enumerate().find_map(|(e, n)| {
                    n.filter(|&id| id as usize >= num_neurons).map(|id| (e, id))
                });
            if let Some((event, id)) = bad {
                return Err(DataError::Trial {
                    trial: Some(t),
                    event: Some(event),
                    problem: TrialProblem::NeuronOutOfRange { id, num_neurons },
                });
            }
            if trial.condition() as usize >= MAX_CONDITIONS {
                return Err(DataError::Trial {
                    trial: Some(t),
                    event: None,
                    problem: TrialProblem::ConditionOutOfRange(trial.condition()),
                });
            }
        }
        Ok(SpikeData {
            num_neurons,
            trials,
        })
    }

    /// The trials.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// The trials, by value.
    pub fn into_trials(self) -> Vec<Trial> {
        self.trials
    }

    /// Number of neurons K (ids are `0..K`).
    pub fn num_neurons(&self) -> usize {
        self.num_neurons
    }

    /// Number of trials.
    pub fn num_trials(&self) -> usize {
        self.trials.len()
    }

    /// Number of task conditions: the largest condition id + 1 (1 when every trial has
    /// condition 0).
    pub fn num_conditions(&self) -> usize {
        self.trials
            .iter()
            .map(|t| t.condition() as usize + 1)
            .max()
            .unwrap_or(1)
    }

    /// The trial indices of each condition `0..num_conditions`, in trial order (a condition
    /// without trials has an empty list).
    pub fn condition_indices(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.num_conditions()];
        for (i, t) in self.trials.iter().enumerate() {
            out[t.condition() as usize].push(i);
        }
        out
    }

    /// The data of each condition `0..num_conditions`, in trial order, each with this data
    /// set's neuron count (the trials keep their condition ids). Errors
    /// ([`DataError::EmptyCondition`]) when a condition below `num_conditions` has no trial.
    pub fn by_condition(&self) -> Result<Vec<SpikeData>, DataError> {
        self.condition_indices()
            .iter()
            .enumerate()
            .map(|(c, indices)| {
                if indices.is_empty() {
                    return Err(DataError::EmptyCondition {
                        condition: c as u32,
                        num_conditions: self.num_conditions(),
                    });
                }
                self.subset(indices)
            })
            .collect()
    }

    /// Total number of spikes over all trials.
    pub fn num_spikes(&self) -> usize {
        self.trials.iter().map(Trial::num_spikes).sum()
    }

    /// A CRC-32 of the neuron count and every trial (censoring, intervals' bits, neuron ids,
    /// and condition ids when there is more than one condition, so single-condition data keep
    /// the fingerprint they had before conditions existed): equal data give equal fingerprints
    /// on every machine; a changed spike, trial, condition or count changes it (up to the
    /// 1-in-2^32 chance of a collision). Checkpoints record it.
    pub fn fingerprint(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        h.update(&(self.num_neurons as u64).to_le_bytes());
        h.update(&(self.trials.len() as u64).to_le_bytes());
        let conditions = self.num_conditions() > 1;
        for t in &self.trials {
            if conditions {
                h.update(&t.condition().to_le_bytes());
            }
            h.update(&[u8::from(t.censored())]);
            h.update(&(t.isi().len() as u64).to_le_bytes());
            for (dt, n) in t.isi().iter().zip(t.neuron()) {
                h.update(&dt.to_bits().to_le_bytes());
                h.update(&n.map_or(u32::MAX, |n| n).to_le_bytes());
            }
        }
        h.finalize()
    }

    /// Total recorded time over all trials (seconds).
    pub fn total_time(&self) -> f64 {
        self.trials.iter().map(Trial::duration).sum()
    }

    /// The trials at `trial_indices`, in that order (repeats allowed), with the same neuron
    /// count. Errors on an out-of-range index or an empty selection.
    pub fn subset(&self, trial_indices: &[usize]) -> Result<SpikeData, DataError> {
        let trials = trial_indices
            .iter()
            .map(|&index| {
                self.trials
                    .get(index)
                    .cloned()
                    .ok_or(DataError::TrialIndex {
                        index,
                        num_trials: self.trials.len(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        SpikeData::new(self.num_neurons, trials)
    }

    /// Splits the trials into two non-empty halves within each condition (see [`Split`]),
    /// both with this data set's neuron count and every condition; each half keeps the trial
    /// order. Errors with fewer than 2 trials, or ([`DataError::TooFewTrialsInCondition`])
    /// when a condition below `num_conditions` has fewer than 2 trials.
    pub fn split(&self, how: Split) -> Result<(SpikeData, SpikeData), DataError> {
        let n = self.trials.len();
        if n < 2 {
            return Err(DataError::TooFewTrials { num_trials: n });
        }
        let mut first_half = vec![false; n];
        for (c, indices) in self.condition_indices().iter().enumerate() {
            let n_c = indices.len();
            if n_c < 2 {
                return Err(DataError::TooFewTrialsInCondition {
                    condition: c as u32,
                    num_trials: n_c,
                });
            }
            for (k, &i) in indices.iter().enumerate() {
                first_half[i] = match how {
                    Split::Alternating => k % 2 == 0,
                    Split::Halves => k < n_c.div_ceil(2),
                };
            }
        }
        let (first, second): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| first_half[i]);
        Ok((self.subset(&first)?, self.subset(&second)?))
    }

    /// The trials of all `parts` in order. Errors if `parts` is empty or the parts have
    /// different neuron counts.
    pub fn concat(parts: &[SpikeData]) -> Result<SpikeData, DataError> {
        let first = parts.first().ok_or(DataError::NoTrials)?;
        if let Some(other) = parts.iter().find(|p| p.num_neurons != first.num_neurons) {
            return Err(DataError::NeuronCountMismatch {
                first: first.num_neurons,
                other: other.num_neurons,
            });
        }
        let trials = parts
            .iter()
            .flat_map(|p| p.trials.iter().cloned())
            .collect();
        SpikeData::new(first.num_neurons, trials)
    }

    /// The data with every trial's censored flag replaced by `flags[i]`. Errors if the lengths
    /// differ.
    pub(crate) fn with_censored_flags(self, flags: &[bool]) -> Result<SpikeData, String> {
        if flags.len() != self.trials.len() {
            return Err(format!(
                "censored has {} entries but there are {} trials",
                flags.len(),
                self.trials.len()
            ));
        }
        let trials = self
            .trials
            .into_iter()
            .zip(flags)
            .map(|(t, &c)| t.with_censored(c))
            .collect();
        Ok(SpikeData { trials, ..self })
    }

    /// The data with trial i's condition id replaced by `ids[i]`. Errors if the lengths differ
    /// or an id is not below [`MAX_CONDITIONS`].
    pub(crate) fn with_condition_ids(self, ids: &[u32]) -> Result<SpikeData, String> {
        if ids.len() != self.trials.len() {
            return Err(format!(
                "condition has {} entries but there are {} trials",
                ids.len(),
                self.trials.len()
            ));
        }
        if let Some((t, id)) = ids
            .iter()
            .enumerate()
            .find(|&(_, &id)| id as usize >= MAX_CONDITIONS)
        {
            return Err(format!(
                "trial {t}: {}",
                TrialProblem::ConditionOutOfRange(*id)
            ));
        }
        let trials = self
            .trials
            .into_iter()
            .zip(ids)
            .map(|(t, &c)| t.with_condition(c))
            .collect();
        Ok(SpikeData { trials, ..self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(n: u32) -> Trial {
        Trial::new(vec![0.25, 0.5], vec![Some(n), None]).unwrap()
    }

    fn data(n: usize) -> SpikeData {
        SpikeData::new(n.max(1), (0..n as u32).map(trial).collect()).unwrap()
    }

    #[test]
    fn fingerprint_tells_data_apart() {
        let d = data(3);
        assert_eq!(d.fingerprint(), data(3).fingerprint());
        let others = [
            data(2),
            SpikeData::new(4, d.trials().to_vec()).unwrap(),
            d.subset(&[0, 2, 1]).unwrap(),
            SpikeData::new(
                3,
                vec![
                    trial(0),
                    trial(1),
                    Trial::new(vec![0.25, 0.5], vec![Some(1), None]).unwrap(),
                ],
            )
            .unwrap(),
            SpikeData::new(
                3,
                vec![
                    trial(0),
                    trial(1),
                    Trial::new(vec![0.25, 0.5000001], vec![Some(2), None]).unwrap(),
                ],
            )
            .unwrap(),
            SpikeData::new(3, vec![trial(0), trial(1), trial(2).with_censored(true)]).unwrap(),
        ];
        for (k, o) in others.iter().enumerate() {
            assert_ne!(o.fingerprint(), d.fingerprint(), "variant {k}");
        }
    }

    #[test]
    fn rejects_zero_neurons_and_no_trials() {
        assert!(matches!(
            SpikeData::new(0, vec![trial(0)]),
            Err(DataError::NoNeurons)
        ));
        assert!(matches!(
            SpikeData::new(2, vec![]),
            Err(DataError::NoTrials)
        ));
    }

    #[test]
    fn rejects_neuron_out_of_range_with_indices() {
        let t2 = Trial::new(vec![0.1, 0.1, 0.1], vec![Some(0), Some(2), Some(1)]).unwrap();
        let e = SpikeData::new(2, vec![trial(1), t2]).unwrap_err();
        assert!(matches!(
            e,
            DataError::Trial {
                trial: Some(1),
                event: Some(1),
                problem: TrialProblem::NeuronOutOfRange {
                    id: 2,
                    num_neurons: 2
                }
            }
        ));
        assert_eq!(
            e.to_string(),
            "trial 1, event 1: neuron id 2 is not below num_neurons = 2"
        );
    }

    #[test]
    fn counts_and_time() {
        let d = data(3);
        assert_eq!((d.num_neurons(), d.num_trials(), d.num_spikes()), (3, 3, 3));
        assert_eq!(d.total_time(), 2.25);
    }

    #[test]
    fn split_alternating_and_halves() {
        let d = data(5);
        let ids = |d: &SpikeData| -> Vec<u32> {
            d.trials().iter().map(|t| t.neuron()[0].unwrap()).collect()
        };
        let (a, b) = d.split(Split::Alternating).unwrap();
        assert_eq!((ids(&a), ids(&b)), (vec![0, 2, 4], vec![1, 3]));
        let (a, b) = d.split(Split::Halves).unwrap();
        assert_eq!((ids(&a), ids(&b)), (vec![0, 1, 2], vec![3, 4]));
        assert_eq!(a.num_neurons(), 5);
        assert_eq!(b.num_neurons(), 5);
        assert!(matches!(
            data(1).split(Split::Halves),
            Err(DataError::TooFewTrials { num_trials: 1 })
        ));
    }

    /// Trials with neuron id = trial index and the given conditions.
    fn with_conditions(conditions: &[u32]) -> SpikeData {
        let trials = conditions
            .iter()
            .enumerate()
            .map(|(i, &c)| trial(i as u32).with_condition(c))
            .collect();
        SpikeData::new(conditions.len(), trials).unwrap()
    }

    fn ids(d: &SpikeData) -> Vec<u32> {
        d.trials().iter().map(|t| t.neuron()[0].unwrap()).collect()
    }

    #[test]
    fn split_within_conditions() {
        let d = with_conditions(&[0, 1, 1, 0, 2, 1, 0, 2, 0]);
        assert_eq!(d.num_conditions(), 3);
        let (a, b) = d.split(Split::Alternating).unwrap();
        // condition 0: trials 0 3 6 8; 1: 1 2 5; 2: 4 7.
        assert_eq!((ids(&a), ids(&b)), (vec![0, 1, 4, 5, 6], vec![2, 3, 7, 8]));
        let (a, b) = d.split(Split::Halves).unwrap();
        assert_eq!((ids(&a), ids(&b)), (vec![0, 1, 2, 3, 4], vec![5, 6, 7, 8]));
        for half in [&a, &b] {
            assert_eq!(half.num_conditions(), 3);
            assert!(half.by_condition().is_ok());
        }
        // Every trial lands in exactly one half, with its condition.
        let mut all = [ids(&a), ids(&b)].concat();
        all.sort();
        assert_eq!(all, (0..9).collect::<Vec<_>>());
        for t in a.trials().iter().chain(b.trials()) {
            let i = t.neuron()[0].unwrap() as usize;
            assert_eq!(t.condition(), d.trials()[i].condition());
        }
        // A condition with one trial would leave a half without it.
        let e = with_conditions(&[0, 1, 0, 2, 2])
            .split(Split::Alternating)
            .unwrap_err();
        assert!(matches!(
            e,
            DataError::TooFewTrialsInCondition {
                condition: 1,
                num_trials: 1
            }
        ));
        assert_eq!(
            e.to_string(),
            "splitting into two halves needs at least 2 trials in every condition, condition 1 has 1"
        );
        let e = with_conditions(&[0, 2, 0, 2])
            .split(Split::Halves)
            .unwrap_err();
        assert!(matches!(
            e,
            DataError::TooFewTrialsInCondition {
                condition: 1,
                num_trials: 0
            }
        ));
    }

    #[test]
    fn by_condition_and_limits() {
        let d = with_conditions(&[1, 0, 1]);
        let parts = d.by_condition().unwrap();
        assert_eq!(
            parts.iter().map(ids).collect::<Vec<_>>(),
            vec![vec![1], vec![0, 2]]
        );
        assert!(parts.iter().all(|p| p.num_neurons() == 3));
        assert_eq!(d.condition_indices(), vec![vec![1], vec![0, 2]]);
        let e = with_conditions(&[2, 0]).by_condition().unwrap_err();
        assert_eq!(
            e.to_string(),
            "condition 1 has no trials (the data have condition ids up to 2; ids must be 0..3 with every one used)"
        );
        assert_eq!(data(3).num_conditions(), 1);
        let e =
            SpikeData::new(1, vec![trial(0).with_condition(MAX_CONDITIONS as u32)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "trial 0: condition id 1000 is not below the 1000 conditions supported"
        );
    }

    #[test]
    fn fingerprint_with_conditions() {
        // All condition 0: the fingerprint is the one the formula gave before conditions existed
        // (computed independently with zlib.crc32 over the same bytes).
        let d = data(3);
        assert_eq!(d.fingerprint(), 0xc86b_c651);
        let c = with_conditions(&[0, 1, 0]);
        let c2 = with_conditions(&[0, 0, 1]);
        let plain = with_conditions(&[0, 0, 0]);
        assert_ne!(c.fingerprint(), plain.fingerprint());
        assert_ne!(c.fingerprint(), c2.fingerprint());
        assert_eq!(c.fingerprint(), with_conditions(&[0, 1, 0]).fingerprint());
    }

    #[test]
    fn split_serde_names() {
        assert_eq!(
            serde_json::to_string(&[Split::Alternating, Split::Halves]).unwrap(),
            r#"["alternating","halves"]"#
        );
        assert_eq!(
            serde_json::from_str::<Split>(r#""halves""#).unwrap(),
            Split::Halves
        );
    }

    #[test]
    fn subset_errors() {
        let d = data(3);
        assert!(matches!(
            d.subset(&[0, 3]),
            Err(DataError::TrialIndex {
                index: 3,
                num_trials: 3
            })
        ));
        assert!(matches!(d.subset(&[]), Err(DataError::NoTrials)));
        assert_eq!(d.subset(&[2, 2]).unwrap().trials()[1], d.trials()[2]);
    }

    #[test]
    fn concat_checks_neuron_counts() {
        let d = data(3);
        let (a, b) = d.split(Split::Halves).unwrap();
        assert_eq!(SpikeData::concat(&[a, b]).unwrap(), d);
        assert!(matches!(
            SpikeData::concat(&[data(2), data(3)]),
            Err(DataError::NeuronCountMismatch { first: 2, other: 3 })
        ));
        assert!(matches!(SpikeData::concat(&[]), Err(DataError::NoTrials)));
    }

    #[test]
    fn censored_flags() {
        let d = data(2).with_censored_flags(&[true, false]).unwrap();
        assert!(d.trials()[0].censored() && !d.trials()[1].censored());
        assert!(data(2).with_censored_flags(&[true]).is_err());
    }
}
