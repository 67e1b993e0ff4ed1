//! The raw form: absolute spike times with neuron and trial ids, and trial start / end times.

use serde::{Deserialize, Serialize};

use crate::error::{DataError, SpikeTimesProblem};
use crate::spike_data::SpikeData;
use crate::trial::Trial;

/// Raw spike data: spike `j` happened at `spike_times[j]` (absolute seconds) in neuron
/// `neuron_ids[j]` during trial `trial_ids[j]`; trial `k` covers
/// `[trial_start[k], trial_end[k]]` (seconds).
///
/// Within a trial, spikes must appear in time order (equal times allowed); spikes of different
/// trials may interleave in the arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeTimes {
    /// Number of neurons K (ids are `0..K`).
    pub num_neurons: usize,
    /// Absolute spike times (s).
    pub spike_times: Vec<f64>,
    /// Neuron id of each spike.
    pub neuron_ids: Vec<u32>,
    /// Trial id of each spike: an index into `trial_start` / `trial_end`.
    pub trial_ids: Vec<u32>,
    /// Start time of each trial (s).
    pub trial_start: Vec<f64>,
    /// End time of each trial (s).
    pub trial_end: Vec<f64>,
}

impl SpikeData {
    /// Builds trials from raw spike times.
    ///
    /// Per trial: intervals from the trial start to each spike in turn, then always a final tail
    /// interval to the trial end (possibly 0 s), so every trial ends with a tail and none is
    /// censored, and all are in condition 0. A trial with no spikes is one tail interval.
    ///
    /// Errors ([`DataError::SpikeTimes`], naming trial and spike indices): arrays of different
    /// lengths, NaN or infinite times, `trial_end < trial_start`, a neuron id `>= num_neurons`,
    /// a trial id `>=` the number of trials, a trial's spikes out of time order, a spike outside
    /// its trial's `[start, end]`; also [`DataError::NoNeurons`] and [`DataError::NoTrials`].
    pub fn from_spike_times(raw: &SpikeTimes) -> Result<SpikeData, DataError> {
        let fail = |p| Err(DataError::SpikeTimes(p));
        let n_spikes = raw.spike_times.len();
        let n_trials = raw.trial_start.len();
        for (array, len, reference, expected) in [
            ("neuron_ids", raw.neuron_ids.len(), "spike_times", n_spikes),
            ("trial_ids", raw.trial_ids.len(), "spike_times", n_spikes),
            ("trial_end", raw.trial_end.len(), "trial_start", n_trials),
        ] {
            if len != expected {
                return fail(SpikeTimesProblem::LengthMismatch {
                    array,
                    len,
                    reference,
                    expected,
                });
            }
        }
        if raw.num_neurons == 0 {
            return Err(DataError::NoNeurons);
        }
        crate::spike_data::check_neuron_count(raw.num_neurons)?;
        if n_trials == 0 {
            return Err(DataError::NoTrials);
        }
        for (trial, (&start, &end)) in raw.trial_start.iter().zip(&raw.trial_end).enumerate() {
            if !(start.is_finite() && end.is_finite()) {
                return fail(SpikeTimesProblem::NonFiniteTrialBound { trial });
            }
            if end < start {
                return fail(SpikeTimesProblem::EndBeforeStart { trial, start, end });
            }
        }

        // Per trial: (isi, neuron) built incrementally, and the time of the last spike.
        let mut isi: Vec<Vec<f64>> = vec![Vec::new(); n_trials];
        let mut neuron: Vec<Vec<Option<u32>>> = vec![Vec::new(); n_trials];
        let mut last = raw.trial_start.clone();
        for spike in 0..n_spikes {
            let (time, id, tid) = (
                raw.spike_times[spike],
                raw.neuron_ids[spike],
                raw.trial_ids[spike],
            );
            if !time.is_finite() {
                return fail(SpikeTimesProblem::NonFiniteSpike { spike });
            }
            if id as usize >= raw.num_neurons {
                return fail(SpikeTimesProblem::NeuronOutOfRange {
                    spike,
                    id,
                    num_neurons: raw.num_neurons,
                });
            }
            let trial = tid as usize;
            if trial >= n_trials {
                return fail(SpikeTimesProblem::TrialIdOutOfRange {
                    spike,
                    id: tid,
                    num_trials: n_trials,
                });
            }
            let (start, end) = (raw.trial_start[trial], raw.trial_end[trial]);
            if time < start || time > end {
                return fail(SpikeTimesProblem::OutsideTrial {
                    trial,
                    spike,
                    time,
                    start,
                    end,
                });
            }
            if time < last[trial] {
                return fail(SpikeTimesProblem::Unsorted {
                    trial,
                    spike,
                    time,
                    previous: last[trial],
                });
            }
            isi[trial].push(time - last[trial]);
            neuron[trial].push(Some(id));
            last[trial] = time;
        }
        let trials = isi
            .into_iter()
            .zip(neuron)
            .enumerate()
            .map(|(k, (mut isi, mut neuron))| {
                isi.push(raw.trial_end[k] - last[k]);
                neuron.push(None);
                Trial::new(isi, neuron).map_err(|e| e.in_trial(k))
            })
            .collect::<Result<Vec<_>, _>>()?;
        SpikeData::new(raw.num_neurons, trials)
    }

    /// The raw form, with the trials laid end to end from time 0: trial `k` starts where trial
    /// `k - 1` ends, and each spike time is the running sum of the intervals. A trial that ends
    /// with a spike ends at that spike. Censored flags and condition ids are not part of this
    /// form.
    ///
    /// [`SpikeData::from_spike_times`] inverts this for data whose trials all end with a tail
    /// and are uncensored in condition 0, up to the rounding of the running sums: exactly when
    /// those sums are exact in f64 (e.g. times on a 2^-k s grid), otherwise each interval comes
    /// back within about one ulp of the absolute time it ends at.
    pub fn to_spike_times(&self) -> SpikeTimes {
        let n = self.num_spikes();
        let mut out = SpikeTimes {
            num_neurons: self.num_neurons(),
            spike_times: Vec::with_capacity(n),
            neuron_ids: Vec::with_capacity(n),
            trial_ids: Vec::with_capacity(n),
            trial_start: Vec::with_capacity(self.num_trials()),
            trial_end: Vec::with_capacity(self.num_trials()),
        };
        let mut t = 0.0;
        for (k, trial) in self.trials().iter().enumerate() {
            // A Vec<Trial> cannot hold 2^32 trials on any real machine (> 200 GB).
            let k = k as u32;
            out.trial_start.push(t);
            for (&dt, &id) in trial.isi().iter().zip(trial.neuron()) {
                t += dt;
                if let Some(id) = id {
                    out.spike_times.push(t);
                    out.neuron_ids.push(id);
                    out.trial_ids.push(k);
                }
            }
            out.trial_end.push(t);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> SpikeTimes {
        SpikeTimes {
            num_neurons: 2,
            spike_times: vec![10.5, 1.25, 10.5, 11.0, 1.5],
            neuron_ids: vec![0, 1, 1, 0, 0],
            trial_ids: vec![1, 0, 1, 1, 0],
            trial_start: vec![1.0, 10.0, 20.0],
            trial_end: vec![2.0, 11.0, 20.0],
        }
    }

    fn problem(r: SpikeTimes) -> SpikeTimesProblem {
        match SpikeData::from_spike_times(&r) {
            Err(DataError::SpikeTimes(p)) => p,
            other => panic!("expected a spike-times error, got {other:?}"),
        }
    }

    #[test]
    fn builds_trials_with_tails() {
        let d = SpikeData::from_spike_times(&raw()).unwrap();
        assert_eq!(d.num_neurons(), 2);
        let t = d.trials();
        assert_eq!(t[0].isi(), &[0.25, 0.25, 0.5]);
        assert_eq!(t[0].neuron(), &[Some(1), Some(0), None]);
        // Equal times give a 0 interval; a spike at the trial end gives a 0 tail.
        assert_eq!(t[1].isi(), &[0.5, 0.0, 0.5, 0.0]);
        assert_eq!(t[1].neuron(), &[Some(0), Some(1), Some(0), None]);
        // No spikes, zero length: one 0 s tail.
        assert_eq!(t[2].isi(), &[0.0]);
        assert_eq!(t[2].neuron(), &[None]);
    }

    #[test]
    fn to_spike_times_lays_trials_end_to_end() {
        let d = SpikeData::from_spike_times(&raw()).unwrap();
        let r = d.to_spike_times();
        assert_eq!(r.trial_start, vec![0.0, 1.0, 2.0]);
        assert_eq!(r.trial_end, vec![1.0, 2.0, 2.0]);
        assert_eq!(r.spike_times, vec![0.25, 0.5, 1.5, 1.5, 2.0]);
        assert_eq!(r.neuron_ids, vec![1, 0, 0, 1, 0]);
        assert_eq!(r.trial_ids, vec![0, 0, 1, 1, 1]);
        assert_eq!(SpikeData::from_spike_times(&r).unwrap(), d);
    }

    #[test]
    fn rejects_length_mismatches() {
        let mut r = raw();
        r.neuron_ids.pop();
        assert!(matches!(
            problem(r),
            SpikeTimesProblem::LengthMismatch {
                array: "neuron_ids",
                len: 4,
                expected: 5,
                ..
            }
        ));
        let mut r = raw();
        r.trial_ids.push(0);
        assert!(matches!(
            problem(r),
            SpikeTimesProblem::LengthMismatch {
                array: "trial_ids",
                len: 6,
                ..
            }
        ));
        let mut r = raw();
        r.trial_end.pop();
        assert!(matches!(
            problem(r),
            SpikeTimesProblem::LengthMismatch {
                array: "trial_end",
                len: 2,
                expected: 3,
                ..
            }
        ));
    }

    #[test]
    fn rejects_no_neurons_and_no_trials() {
        let mut r = raw();
        r.num_neurons = 0;
        assert!(matches!(
            SpikeData::from_spike_times(&r),
            Err(DataError::NoNeurons)
        ));
        let r = SpikeTimes {
            num_neurons: 1,
            spike_times: vec![],
            neuron_ids: vec![],
            trial_ids: vec![],
            trial_start: vec![],
            trial_end: vec![],
        };
        assert!(matches!(
            SpikeData::from_spike_times(&r),
            Err(DataError::NoTrials)
        ));
    }

    #[test]
    fn rejects_bad_trial_bounds() {
        let mut r = raw();
        r.trial_end[1] = f64::NAN;
        assert_eq!(
            problem(r),
            SpikeTimesProblem::NonFiniteTrialBound { trial: 1 }
        );
        let mut r = raw();
        r.trial_start[2] = f64::NEG_INFINITY;
        assert_eq!(
            problem(r),
            SpikeTimesProblem::NonFiniteTrialBound { trial: 2 }
        );
        let mut r = raw();
        r.trial_end[2] = 19.0;
        assert_eq!(
            problem(r),
            SpikeTimesProblem::EndBeforeStart {
                trial: 2,
                start: 20.0,
                end: 19.0
            }
        );
    }

    #[test]
    fn rejects_bad_spikes() {
        let mut r = raw();
        r.spike_times[3] = f64::NAN;
        assert_eq!(problem(r), SpikeTimesProblem::NonFiniteSpike { spike: 3 });
        let mut r = raw();
        r.neuron_ids[2] = 2;
        assert_eq!(
            problem(r),
            SpikeTimesProblem::NeuronOutOfRange {
                spike: 2,
                id: 2,
                num_neurons: 2
            }
        );
        let mut r = raw();
        r.trial_ids[4] = 3;
        assert_eq!(
            problem(r),
            SpikeTimesProblem::TrialIdOutOfRange {
                spike: 4,
                id: 3,
                num_trials: 3
            }
        );
    }

    #[test]
    fn rejects_unsorted_and_outside() {
        let mut r = raw();
        r.spike_times[3] = 10.25;
        let p = problem(r);
        assert_eq!(
            p,
            SpikeTimesProblem::Unsorted {
                trial: 1,
                spike: 3,
                time: 10.25,
                previous: 10.5
            }
        );
        assert!(p.to_string().starts_with("trial 1, spike 3:"), "{p}");
        let mut r = raw();
        r.spike_times[1] = 0.5;
        assert_eq!(
            problem(r),
            SpikeTimesProblem::OutsideTrial {
                trial: 0,
                spike: 1,
                time: 0.5,
                start: 1.0,
                end: 2.0
            }
        );
        let mut r = raw();
        r.spike_times[4] = 2.5;
        assert!(matches!(
            problem(r),
            SpikeTimesProblem::OutsideTrial {
                trial: 0,
                spike: 4,
                ..
            }
        ));
    }

    #[test]
    fn overflowing_interval_is_a_trial_error() {
        let r = SpikeTimes {
            num_neurons: 1,
            spike_times: vec![f64::MAX],
            neuron_ids: vec![0],
            trial_ids: vec![0],
            trial_start: vec![-f64::MAX],
            trial_end: vec![f64::MAX],
        };
        assert!(matches!(
            SpikeData::from_spike_times(&r),
            Err(DataError::Trial {
                trial: Some(0),
                event: Some(0),
                ..
            })
        ));
    }
}
