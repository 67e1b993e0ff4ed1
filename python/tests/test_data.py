"""Spike data from arrays and from the original package's ISI form; bad arrays."""

import numpy as np
import pytest

import latentflow as lf


def recording(seed=3):
    """A small two-neuron recording in array form: sorted times per trial, interleaved trials."""
    rng = np.random.default_rng(seed)
    starts = np.array([0.0, 2.5, 7.0])
    ends = np.array([2.0, 6.0, 7.5])
    times, neurons, trials = [], [], []
    for k, (s, e) in enumerate(zip(starts, ends)):
        t = np.sort(rng.uniform(s, e, size=rng.integers(5, 15)))
        times.append(t)
        neurons.append(rng.integers(0, 2, size=t.size))
        trials.append(np.full(t.size, k))
    return np.concatenate(times), np.concatenate(neurons), np.concatenate(trials), starts, ends


def as_isi(times, neurons, trials, starts, ends):
    """The same recording in neuralflow's ISI form (intervals, ids with -1 for the end)."""
    out = []
    for k, (s, e) in enumerate(zip(starts, ends)):
        t = times[trials == k]
        isi = np.diff(np.concatenate([[s], t, [e]]))
        ids = np.concatenate([neurons[trials == k], [-1]])
        out.append((isi, ids))
    return out


def test_isi_form_and_array_form_give_identical_data():
    times, neurons, trials, starts, ends = recording()
    from_arrays = lf.from_arrays(times, neurons, trials, starts, ends)
    from_isi = lf.from_isi(as_isi(times, neurons, trials, starts, ends))
    assert from_arrays == from_isi
    assert from_arrays.fingerprint == from_isi.fingerprint
    assert (from_arrays.num_neurons, from_arrays.num_trials, from_arrays.num_spikes) == (2, 3, times.size)
    # neuralflow stores the trials as an object array of shape (trials, 2).
    stored = np.empty((3, 2), dtype=object)
    for k, (isi, ids) in enumerate(as_isi(times, neurons, trials, starts, ends)):
        stored[k, 0], stored[k, 1] = isi, ids
    assert lf.from_isi(stored) == from_arrays
    # Trials interleaved in the arrays (round robin, each trial's spikes still in order) and
    # other integer dtypes give the same data.
    rank = np.concatenate([np.arange((trials == k).sum()) for k in range(3)])
    order = np.lexsort((trials, rank))
    mixed = lf.from_arrays(
        times[order], neurons[order].astype(np.int32), trials[order].astype(np.uint16), starts, ends
    )
    assert not np.array_equal(order, np.arange(times.size))
    assert mixed == from_arrays


def test_isi_round_trip_is_exact():
    data = lf.simulate(spikes=3000, trial_length=2.0, seed=5)
    assert lf.from_isi(data.to_isi(), num_neurons=data.num_neurons) == data
    a = data.to_arrays()
    again = lf.from_arrays(a["spike_times"], a["neuron_ids"], a["trial_ids"], a["trial_start"], a["trial_end"])
    assert (again.num_spikes, again.num_trials) == (data.num_spikes, data.num_trials)
    assert abs(again.total_time - data.total_time) < 1e-9


def test_files_round_trip(tmp_path):
    data = lf.simulate(spikes=500, trial_length=1.0, seed=2)
    data.write(tmp_path / "d.json")
    assert lf.SpikeData.read(tmp_path / "d.json") == data
    # .npz holds absolute spike times: intervals come back to within rounding.
    data.write(tmp_path / "d.npz")
    back = lf.SpikeData.read(tmp_path / "d.npz")
    for (a, ia), (b, ib) in zip(back.to_isi(), data.to_isi()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(ia, ib)
    with pytest.raises(OSError, match="missing.json"):
        lf.SpikeData.read(tmp_path / "missing.json")


BAD = [
    ("wrong dtype", dict(spike_times=np.array(["a"])), "spike_times must hold real numbers"),
    ("float ids", dict(neuron_ids=np.array([0.0, 1.0])), "neuron_ids must hold integers"),
    ("complex", dict(spike_times=np.array([0.1j, 0.2j])), "spike_times must hold real numbers"),
    ("2-D", dict(trial_ids=np.zeros((2, 1), dtype=int)), "trial_ids must be 1-D"),
    ("unsorted", dict(spike_times=np.array([0.5, 0.2])), "sorted by time within a trial"),
    ("NaN", dict(spike_times=np.array([0.1, np.nan])), "not finite"),
    ("lengths", dict(neuron_ids=np.array([0])), "neuron_ids has 1 entries but spike_times has 2"),
    ("negative id", dict(neuron_ids=np.array([0, -1])), r"neuron_ids\[1\] = -1"),
    ("outside", dict(spike_times=np.array([0.5, 3.0])), "outside"),
    ("trial id", dict(trial_ids=np.array([0, 4])), "trial"),
    ("end before start", dict(trial_end=np.array([-1.0])), "trial"),
]


@pytest.mark.parametrize("case,change,message", BAD, ids=[b[0] for b in BAD])
def test_bad_arrays_raise_value_error(case, change, message):
    args = dict(
        spike_times=np.array([0.1, 0.2]),
        neuron_ids=np.array([0, 1]),
        trial_ids=np.array([0, 0]),
        trial_start=np.array([0.0]),
        trial_end=np.array([1.0]),
    )
    args.update(change)
    with pytest.raises(ValueError, match=message) as info:
        lf.from_arrays(**args)
    assert "\n" not in str(info.value)


def test_bad_isi_raises_value_error():
    with pytest.raises(ValueError, match="trial 1, event 0: neuron id -1"):
        lf.from_isi([(np.array([0.1, 0.2]), np.array([0, -1])), (np.array([0.1, 0.2]), np.array([-1, 0]))])
    with pytest.raises(ValueError, match="trial 0"):
        lf.from_isi([(np.array([0.1, -0.2]), np.array([0, -1]))])
    with pytest.raises(ValueError, match="trial 0"):
        lf.from_isi([(np.array([0.1]), np.array([0, -1]))])
    with pytest.raises(ValueError, match="pair"):
        lf.from_isi([(np.array([0.1]),)])
