//! Spike data from and to numpy arrays: the array form (absolute spike times with neuron and
//! trial ids, trial start and end times) and the original package's ISI form (per trial the
//! intervals and the neuron ending each, -1 for the trial end).
//!
//! Arrays are read in place (any strides) and copied once into the Rust data set, which stores
//! intervals, not times: no input array is kept or modified.

use latentflow::data::{SpikeData, SpikeTimes, Split, Trial};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{OrRaise, value_error};

/// A validated spike-train data set: trials of inter-event intervals (s) and the neuron that
/// ends each (ids 0..num_neurons), the last interval of a trial running to the trial end.
#[pyclass(name = "SpikeData", module = "latentflow._native", frozen)]
#[derive(Clone)]
pub struct PySpikeData {
    pub(crate) inner: SpikeData,
}

/// One trial in the ISI form: intervals and neuron ids (-1 for the trial end).
type IsiTrial<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<i64>>);

/// Ids as u32, each checked: `name[j]` must lie in 0..=u32::MAX.
fn ids(name: &str, array: &PyReadonlyArray1<i64>) -> PyResult<Vec<u32>> {
    array
        .as_array()
        .iter()
        .enumerate()
        .map(|(j, &v)| {
            u32::try_from(v)
                .map_err(|_| value_error(format!("{name}[{j}] = {v}: ids must be >= 0 and < 2^32")))
        })
        .collect()
}

/// The neuron count: `given`, or the largest id + 1.
fn neuron_count(given: Option<usize>, largest: Option<u32>) -> PyResult<usize> {
    match (given, largest) {
        (Some(n), _) => Ok(n),
        (None, Some(m)) => Ok(m as usize + 1),
        (None, None) => Err(value_error(
            "num_neurons must be given when the data have no spikes",
        )),
    }
}

#[pymethods]
impl PySpikeData {
    /// Data from arrays: spike `j` at `spike_times[j]` (s) in neuron `neuron_ids[j]` during
    /// trial `trial_ids[j]`; trial `k` covers `[trial_start[k], trial_end[k]]`. Within a trial,
    /// spikes must be in time order. `num_neurons` defaults to the largest neuron id + 1.
    #[staticmethod]
    #[pyo3(signature = (spike_times, neuron_ids, trial_ids, trial_start, trial_end, num_neurons=None))]
    fn from_arrays(
        spike_times: PyReadonlyArray1<f64>,
        neuron_ids: PyReadonlyArray1<i64>,
        trial_ids: PyReadonlyArray1<i64>,
        trial_start: PyReadonlyArray1<f64>,
        trial_end: PyReadonlyArray1<f64>,
        num_neurons: Option<usize>,
    ) -> PyResult<Self> {
        let neuron_ids = ids("neuron_ids", &neuron_ids)?;
        let raw = SpikeTimes {
            num_neurons: neuron_count(num_neurons, neuron_ids.iter().copied().max())?,
            spike_times: spike_times.as_array().to_vec(),
            neuron_ids,
            trial_ids: ids("trial_ids", &trial_ids)?,
            trial_start: trial_start.as_array().to_vec(),
            trial_end: trial_end.as_array().to_vec(),
        };
        Ok(PySpikeData {
            inner: SpikeData::from_spike_times(&raw).or_raise()?,
        })
    }

    /// Data in the original package's ISI form: `trials[k] = (intervals, neuron_ids)`, the
    /// intervals (s) between consecutive events of trial k and the neuron whose spike ends each,
    /// -1 (last entry only) for the trial end. `num_neurons` defaults to the largest id + 1.
    #[staticmethod]
    #[pyo3(signature = (trials, num_neurons=None))]
    fn from_isi(
        trials: Vec<(PyReadonlyArray1<f64>, PyReadonlyArray1<i64>)>,
        num_neurons: Option<usize>,
    ) -> PyResult<Self> {
        let mut largest: Option<u32> = None;
        let mut built = Vec::with_capacity(trials.len());
        for (k, (isi, neuron)) in trials.iter().enumerate() {
            let neuron = neuron.as_array();
            let last = neuron.len().saturating_sub(1);
            let ids = neuron
                .iter()
                .enumerate()
                .map(|(i, &v)| match u32::try_from(v) {
                    Ok(id) => {
                        largest = largest.max(Some(id));
                        Ok(Some(id))
                    }
                    Err(_) if v == -1 && i == last => Ok(None),
                    Err(_) => Err(value_error(format!(
                        "trial {k}, event {i}: neuron id {v} (ids are >= 0; -1, the trial end, only last)"
                    ))),
                })
                .collect::<PyResult<Vec<_>>>()?;
            let trial = Trial::new(isi.as_array().to_vec(), ids)
                .map_err(|e| value_error(format!("trial {k}: {e}")))?;
            built.push(trial);
        }
        Ok(PySpikeData {
            inner: SpikeData::new(neuron_count(num_neurons, largest)?, built).or_raise()?,
        })
    }

    /// Reads a `.json` or `.npz` data file (the formats of docs/formats.md).
    #[staticmethod]
    fn read(path: std::path::PathBuf) -> PyResult<Self> {
        Ok(PySpikeData {
            inner: SpikeData::read(&path).or_raise()?,
        })
    }

    /// Writes the data to a `.json` or `.npz` file (atomically).
    fn write(&self, path: std::path::PathBuf) -> PyResult<()> {
        self.inner.write(&path).or_raise()
    }

    /// The array form: a dict of `spike_times`, `neuron_ids`, `trial_ids`, `trial_start`,
    /// `trial_end` (numpy arrays; trials start at 0 s and follow each other) and `num_neurons`.
    fn to_arrays<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let raw = self.inner.to_spike_times();
        let int = |v: Vec<u32>| v.into_iter().map(i64::from).collect::<Vec<_>>();
        let out = PyDict::new(py);
        out.set_item("spike_times", PyArray1::from_vec(py, raw.spike_times))?;
        out.set_item("neuron_ids", PyArray1::from_vec(py, int(raw.neuron_ids)))?;
        out.set_item("trial_ids", PyArray1::from_vec(py, int(raw.trial_ids)))?;
        out.set_item("trial_start", PyArray1::from_vec(py, raw.trial_start))?;
        out.set_item("trial_end", PyArray1::from_vec(py, raw.trial_end))?;
        out.set_item("num_neurons", raw.num_neurons)?;
        Ok(out)
    }

    /// The ISI form: a list of `(intervals, neuron_ids)` per trial, -1 marking the trial end.
    fn to_isi<'py>(&self, py: Python<'py>) -> Vec<IsiTrial<'py>> {
        self.inner
            .trials()
            .iter()
            .map(|t| {
                let ids: Vec<i64> = t.neuron().iter().map(|n| n.map_or(-1, i64::from)).collect();
                (
                    PyArray1::from_slice(py, t.isi()),
                    PyArray1::from_vec(py, ids),
                )
            })
            .collect()
    }

    /// The two halves: `"alternating"` (even trials, odd trials) or `"halves"` (first half of
    /// the trials, the rest).
    #[pyo3(signature = (how="alternating"))]
    fn split(&self, how: &str) -> PyResult<(Self, Self)> {
        let how = match how {
            "alternating" => Split::Alternating,
            "halves" => Split::Halves,
            other => {
                return Err(value_error(format!(
                    "split '{other}': use 'alternating' or 'halves'"
                )));
            }
        };
        let (a, b) = self.inner.split(how).or_raise()?;
        Ok((PySpikeData { inner: a }, PySpikeData { inner: b }))
    }

    /// The trials with these indices, in this order.
    fn subset(&self, indices: Vec<usize>) -> PyResult<Self> {
        Ok(PySpikeData {
            inner: self.inner.subset(&indices).or_raise()?,
        })
    }

    /// Number of neurons.
    #[getter]
    fn num_neurons(&self) -> usize {
        self.inner.num_neurons()
    }

    /// Number of trials.
    #[getter]
    fn num_trials(&self) -> usize {
        self.inner.num_trials()
    }

    /// Number of spikes.
    #[getter]
    fn num_spikes(&self) -> usize {
        self.inner.num_spikes()
    }

    /// Summed duration of the trials (s).
    #[getter]
    fn total_time(&self) -> f64 {
        self.inner.total_time()
    }

    /// A CRC-32 of the neuron count and every trial: equal data, equal fingerprints.
    #[getter]
    fn fingerprint(&self) -> u32 {
        self.inner.fingerprint()
    }

    fn __len__(&self) -> usize {
        self.inner.num_trials()
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!(
            "SpikeData({} neurons, {} trials, {} spikes, {:.1} s)",
            self.inner.num_neurons(),
            self.inner.num_trials(),
            self.inner.num_spikes(),
            self.inner.total_time()
        )
    }
}
