//! The crate's error type.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong when building, converting, reading or writing spike data.
///
/// Content errors carry the indices needed to find the offending value (trial index within the
/// data set, event index within the trial, spike index within raw spike-time arrays); file
/// errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A trial is invalid. `trial` is its index in the data set when known, `event` the index of
    /// the offending interval within the trial when the problem is about one interval.
    #[error("{}: {problem}", TrialLocation { trial: *trial, event: *event })]
    Trial {
        /// Index of the trial in the data set, if known.
        trial: Option<usize>,
        /// Index of the interval (event) within the trial, if the problem is about one interval.
        event: Option<usize>,
        /// What is wrong.
        problem: TrialProblem,
    },
    /// `num_neurons` is 0.
    #[error("a data set needs at least one neuron (num_neurons = 0)")]
    NoNeurons,
    /// The data set would have no trials.
    #[error("a data set needs at least one trial")]
    NoTrials,
    /// A trial index (in `subset`) is out of range.
    #[error("trial index {index} is out of range (the data set has {num_trials} trials)")]
    TrialIndex {
        /// The requested index.
        index: usize,
        /// Number of trials in the data set.
        num_trials: usize,
    },
    /// Splitting needs at least two trials.
    #[error("splitting into two halves needs at least 2 trials, the data set has {num_trials}")]
    TooFewTrials {
        /// Number of trials in the data set.
        num_trials: usize,
    },
    /// Splitting within conditions needs at least two trials in every condition
    /// `0..num_conditions` (so that both halves have every condition).
    #[error(
        "splitting into two halves needs at least 2 trials in every condition, condition {condition} has {num_trials}"
    )]
    TooFewTrialsInCondition {
        /// The condition id.
        condition: u32,
        /// Its number of trials.
        num_trials: usize,
    },
    /// A condition below the data set's `num_conditions` has no trial.
    #[error(
        "condition {condition} has no trials (the data have condition ids up to {}; ids must be 0..{num_conditions} with every one used)",
        num_conditions - 1
    )]
    EmptyCondition {
        /// The condition id.
        condition: u32,
        /// The data set's number of conditions.
        num_conditions: usize,
    },
    /// Data sets to concatenate disagree on the number of neurons.
    #[error("cannot concatenate data sets with {first} and {other} neurons")]
    NeuronCountMismatch {
        /// Neuron count of the first data set.
        first: usize,
        /// Neuron count of the first data set that differs.
        other: usize,
    },
    /// Raw spike-time arrays are inconsistent.
    #[error("spike times: {0}")]
    SpikeTimes(SpikeTimesProblem),
    /// The file could not be read or written.
    ///
    /// The message includes the operating-system error, so it is not also exposed as the
    /// error's `source()`: a caller printing the chain (`{:#}` of anyhow) would print it twice.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        error: std::io::Error,
    },
    /// The file name has no extension this crate knows.
    #[error("{}: unsupported file extension (expected .json or .npz)", path.display())]
    UnsupportedExtension {
        /// The file.
        path: PathBuf,
    },
    /// The file is not well formed (truncated, not JSON, not a zip archive, bad .npy header).
    #[error("{}: malformed file: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file is well formed but does not follow the schema (format tag, version, missing key
    /// or array, wrong type, dtype or shape).
    #[error("{}: {reason}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file follows the schema but its content is invalid (the message includes the
    /// content error, which is therefore not also the `source()`; see [`DataError::Io`]).
    #[error("{}: {error}", path.display())]
    Content {
        /// The file.
        path: PathBuf,
        /// The content error (with trial / event / spike indices).
        error: Box<DataError>,
    },
    /// An argument of a computation on the data is out of range (the message names it).
    #[error("{0}")]
    InvalidArgument(String),
    /// More neurons than [`crate::MAX_NEURONS`].
    #[error(
        "num_neurons = {num_neurons} is more than the {limit} neurons supported (is a neuron id or count wrong?)"
    )]
    TooManyNeurons {
        /// The neuron count asked for (the declared count, or the largest id + 1).
        num_neurons: usize,
        /// The limit.
        limit: usize,
    },
}

/// What is wrong with a trial.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialProblem {
    /// The trial has no interval.
    Empty,
    /// `isi` and `neuron` have different lengths.
    LengthMismatch {
        /// Length of `isi`.
        isi: usize,
        /// Length of `neuron`.
        neuron: usize,
    },
    /// An interval is NaN, infinite or negative (seconds).
    BadInterval(f64),
    /// An interval other than the last ends without a spike.
    TailNotLast,
    /// A neuron id is not below the data set's number of neurons.
    NeuronOutOfRange {
        /// The id.
        id: u32,
        /// The data set's number of neurons.
        num_neurons: usize,
    },
    /// A neuron id in a file is negative (other than the tail marker -1) or does not fit in `u32`.
    BadNeuronId(i64),
    /// A condition id in a file is negative or does not fit in `u32`.
    BadConditionId(i64),
    /// A condition id is not below [`crate::MAX_CONDITIONS`].
    ConditionOutOfRange(u32),
}

impl fmt::Display for TrialProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrialProblem::Empty => write!(f, "a trial needs at least one interval"),
            TrialProblem::LengthMismatch { isi, neuron } => write!(
                f,
                "isi has {isi} entries but neuron has {neuron} (one neuron entry per interval)"
            ),
            TrialProblem::BadInterval(v) => {
                write!(
                    f,
                    "interval {v} s is invalid (intervals are finite and >= 0)"
                )
            }
            TrialProblem::TailNotLast => write!(
                f,
                "only the last interval may end without a spike (neuron None / -1)"
            ),
            TrialProblem::NeuronOutOfRange { id, num_neurons } => {
                write!(f, "neuron id {id} is not below num_neurons = {num_neurons}")
            }
            TrialProblem::BadNeuronId(id) => write!(
                f,
                "neuron id {id} is invalid (ids are 0..2^32-1; -1 marks the final tail interval)"
            ),
            TrialProblem::BadConditionId(id) => write!(
                f,
                "condition id {id} is invalid (condition ids are whole numbers >= 0)"
            ),
            TrialProblem::ConditionOutOfRange(id) => write!(
                f,
                "condition id {id} is not below the {} conditions supported",
                crate::MAX_CONDITIONS
            ),
        }
    }
}

/// What is wrong with raw spike-time arrays. `spike` indices refer to positions in the
/// `spike_times` / `neuron_ids` / `trial_ids` arrays, `trial` indices to `trial_start` /
/// `trial_end`.
#[derive(Debug, Clone, PartialEq)]
pub enum SpikeTimesProblem {
    /// Two arrays that must have equal lengths do not.
    LengthMismatch {
        /// The array with the wrong length.
        array: &'static str,
        /// Its length.
        len: usize,
        /// The array it must match.
        reference: &'static str,
        /// That array's length.
        expected: usize,
    },
    /// A trial start or end is NaN or infinite.
    NonFiniteTrialBound {
        /// Trial index.
        trial: usize,
    },
    /// A trial ends before it starts.
    EndBeforeStart {
        /// Trial index.
        trial: usize,
        /// Start time (s).
        start: f64,
        /// End time (s).
        end: f64,
    },
    /// A spike time is NaN or infinite.
    NonFiniteSpike {
        /// Spike index.
        spike: usize,
    },
    /// A spike's neuron id is not below `num_neurons`.
    NeuronOutOfRange {
        /// Spike index.
        spike: usize,
        /// The id.
        id: u32,
        /// The number of neurons.
        num_neurons: usize,
    },
    /// A spike's trial id does not index `trial_start` / `trial_end`.
    TrialIdOutOfRange {
        /// Spike index.
        spike: usize,
        /// The id.
        id: u32,
        /// The number of trials.
        num_trials: usize,
    },
    /// A spike comes before the previous spike of the same trial.
    Unsorted {
        /// Trial index.
        trial: usize,
        /// Spike index.
        spike: usize,
        /// Its time (s).
        time: f64,
        /// The previous spike time of the trial (s).
        previous: f64,
    },
    /// A spike lies outside its trial's [start, end].
    OutsideTrial {
        /// Trial index.
        trial: usize,
        /// Spike index.
        spike: usize,
        /// Its time (s).
        time: f64,
        /// Trial start (s).
        start: f64,
        /// Trial end (s).
        end: f64,
    },
}

impl fmt::Display for SpikeTimesProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpikeTimesProblem::LengthMismatch {
                array,
                len,
                reference,
                expected,
            } => write!(
                f,
                "{array} has {len} entries but {reference} has {expected}"
            ),
            SpikeTimesProblem::NonFiniteTrialBound { trial } => {
                write!(f, "trial {trial}: start or end is not finite")
            }
            SpikeTimesProblem::EndBeforeStart { trial, start, end } => {
                write!(f, "trial {trial}: end {end} s is before start {start} s")
            }
            SpikeTimesProblem::NonFiniteSpike { spike } => {
                write!(f, "spike {spike}: time is not finite")
            }
            SpikeTimesProblem::NeuronOutOfRange {
                spike,
                id,
                num_neurons,
            } => write!(
                f,
                "spike {spike}: neuron id {id} is not below num_neurons = {num_neurons}"
            ),
            SpikeTimesProblem::TrialIdOutOfRange {
                spike,
                id,
                num_trials,
            } => write!(
                f,
                "spike {spike}: trial id {id} is out of range ({num_trials} trials)"
            ),
            SpikeTimesProblem::Unsorted {
                trial,
                spike,
                time,
                previous,
            } => write!(
                f,
                "trial {trial}, spike {spike}: time {time} s is before the previous spike of the \
                 trial at {previous} s (spikes must be sorted by time within a trial)"
            ),
            SpikeTimesProblem::OutsideTrial {
                trial,
                spike,
                time,
                start,
                end,
            } => write!(
                f,
                "trial {trial}, spike {spike}: time {time} s is outside the trial [{start}, {end}] s"
            ),
        }
    }
}

/// Formats the location part of a trial error.
struct TrialLocation {
    trial: Option<usize>,
    event: Option<usize>,
}

impl fmt::Display for TrialLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.trial, self.event) {
            (Some(t), Some(e)) => write!(f, "trial {t}, event {e}"),
            (Some(t), None) => write!(f, "trial {t}"),
            (None, Some(e)) => write!(f, "trial event {e}"),
            (None, None) => write!(f, "trial"),
        }
    }
}

impl DataError {
    /// Sets the trial index of a [`DataError::Trial`] error (other errors are returned as is).
    pub(crate) fn in_trial(self, index: usize) -> DataError {
        match self {
            DataError::Trial { event, problem, .. } => DataError::Trial {
                trial: Some(index),
                event,
                problem,
            },
            other => other,
        }
    }

    /// Wraps a content error with the file it came from.
    pub(crate) fn in_file(self, path: &std::path::Path) -> DataError {
        DataError::Content {
            path: path.to_path_buf(),
            error: Box::new(self),
        }
    }
}
