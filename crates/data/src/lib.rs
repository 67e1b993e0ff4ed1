//! Spike-train data for latentflow: trials of inter-event intervals, validation, conversion
//! from and to raw spike times, and JSON / `.npz` files.
//!
//! # Conventions
//!
//! - A [`Trial`] is a sequence of intervals `isi[i]` in seconds (finite, `>= 0`), each ended by a
//!   spike of neuron `neuron[i]`; only the last interval may end at the trial end instead
//!   (`None`, written `-1` in files): the silent tail, which is data too. A trial may be flagged
//!   `censored` (cut off by the recording; meaningful only with absorbing boundaries) and
//!   carries a task condition id ([`Trial::with_condition`], 0 by default).
//! - [`SpikeData::num_conditions`] is the largest condition id + 1; [`SpikeData::split`] splits
//!   within each condition, [`SpikeData::by_condition`] gives each condition's trials.
//! - A [`SpikeData`] holds at least one trial of `num_neurons >= 1` neurons, ids `0..num_neurons`.
//! - [`SpikeTimes`] is the raw equivalent: absolute spike times with neuron and trial ids, and
//!   each trial's start and end; [`SpikeData::from_spike_times`] / [`SpikeData::to_spike_times`]
//!   convert.
//! - Files: [`SpikeData::read`] / [`SpikeData::write`] choose JSON or `.npz` by extension; the
//!   schemas are in `docs/formats.md` ("Spike data"). Writes are atomic (temporary file in the
//!   same directory, then rename).
//!
//! Every failure is a [`DataError`] naming what is wrong: the trial, event or spike index for
//! content, and the file for I/O, malformed files and schema violations.
//!
//! # Example
//!
//! ```
//! use latentflow_data::{SpikeData, SpikeTimes, Split, Trial};
//!
//! # fn main() -> Result<(), latentflow_data::DataError> {
//! // Two neurons; trial 0 has spikes at 0.1 s (neuron 0) and 0.3 s (neuron 1), then a silent
//! // tail to its end at 0.5 s. Trial 1 ends with a spike (no tail).
//! let trials = vec![
//!     Trial::new(vec![0.1, 0.2, 0.2], vec![Some(0), Some(1), None])?,
//!     Trial::new(vec![0.25], vec![Some(1)])?,
//! ];
//! let data = SpikeData::new(2, trials)?;
//! assert_eq!((data.num_trials(), data.num_spikes()), (2, 3));
//! assert!((data.total_time() - 0.75).abs() < 1e-12);
//!
//! // Invalid input is an error that says where.
//! let err = SpikeData::new(1, data.trials().to_vec()).unwrap_err();
//! assert_eq!(err.to_string(), "trial 0, event 1: neuron id 1 is not below num_neurons = 1");
//!
//! // Halves for cross-validation: even trials / odd trials.
//! let (first, second) = data.split(Split::Alternating)?;
//! assert_eq!((first.num_trials(), second.num_trials()), (1, 1));
//!
//! // Task conditions: halves are split within each condition.
//! let tagged: Vec<Trial> = (0..4u32)
//!     .map(|i| Trial::new(vec![0.5], vec![None]).map(|t| t.with_condition(i / 2)))
//!     .collect::<Result<_, _>>()?;
//! let tagged = SpikeData::new(1, tagged)?;
//! assert_eq!(tagged.num_conditions(), 2);
//! let (first, _) = tagged.split(Split::Alternating)?;
//! assert_eq!(first.by_condition()?.len(), 2);
//!
//! // From raw spike times: intervals from each trial start, plus a tail to the trial end.
//! let raw = SpikeTimes {
//!     num_neurons: 2,
//!     spike_times: vec![10.25, 10.5],
//!     neuron_ids: vec![1, 0],
//!     trial_ids: vec![0, 0],
//!     trial_start: vec![10.0],
//!     trial_end: vec![11.0],
//! };
//! let from_raw = SpikeData::from_spike_times(&raw)?;
//! assert_eq!(from_raw.trials()[0].isi(), &[0.25, 0.25, 0.5]);
//! assert_eq!(from_raw.trials()[0].neuron(), &[Some(1), Some(0), None]);
//!
//! // Files: JSON keeps the data exactly.
//! let path = std::env::temp_dir().join(format!("latentflow-doc-{}.json", std::process::id()));
//! data.write(&path)?;
//! assert_eq!(SpikeData::read(&path)?, data);
//! # std::fs::remove_file(&path).ok();
//! # Ok(())
//! # }
//! ```

mod error;
mod files;
mod json;
mod npz;
mod psth;
mod spike_data;
mod spike_times;
mod trial;

pub use error::{DataError, SpikeTimesProblem, TrialProblem};
pub use files::{write_atomic, write_atomic_with};
pub use json::{FORMAT_VERSION, JSON_FORMAT, JSON_SPIKE_TIMES_FORMAT};
pub use npz::{NpzArray, NpzValues, write_npz_arrays};
pub use psth::{MAX_PSTH_WINDOWS, Psth};
pub use spike_data::{MAX_CONDITIONS, MAX_NEURONS, SpikeData, Split};
pub use spike_times::SpikeTimes;
pub use trial::Trial;
