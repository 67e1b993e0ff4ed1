"""NWB: a small file written with pynwb reads back as the recording it holds."""

from datetime import datetime, timezone

import numpy as np
import pytest

import latentflow as lf
from latentflow.io import read_nwb, trials_from_times

pynwb = pytest.importorskip("pynwb")


def write_nwb(path, units, trials):
    nwb = pynwb.NWBFile(
        session_description="latentflow test",
        identifier="latentflow-test",
        session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    for spikes in units:
        nwb.add_unit(spike_times=spikes)
    for start, stop in trials:
        nwb.add_trial(start_time=start, stop_time=stop)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def test_read_nwb_gives_the_recording(tmp_path):
    units = [np.array([0.1, 0.5, 1.2, 2.6, 3.1]), np.array([0.3, 0.4, 2.2, 2.9, 9.0])]
    trials = [(0.0, 1.0), (2.0, 3.0)]
    path = tmp_path / "session.nwb"
    write_nwb(path, units, trials)
    data = read_nwb(path)
    # Spikes inside the trials, per trial in time order; 1.2 s and 9.0 s fall outside.
    expected = lf.from_arrays(
        [0.1, 0.3, 0.4, 0.5, 2.2, 2.6, 2.9],
        [0, 1, 1, 0, 1, 0, 1],
        [0, 0, 0, 0, 1, 1, 1],
        [0.0, 2.0],
        [1.0, 3.0],
    )
    assert data == expected
    assert data == trials_from_times(units, [0.0, 2.0], [1.0, 3.0])
    only_second = read_nwb(path, units=[1], trials=[1])
    assert (only_second.num_neurons, only_second.num_trials, only_second.num_spikes) == (1, 1, 2)
    with pytest.raises(ValueError, match="unit row 5"):
        read_nwb(path, units=[5])


def test_read_nwb_without_trials_is_a_clear_error(tmp_path):
    path = tmp_path / "no_trials.nwb"
    write_nwb(path, [np.array([0.1, 0.2])], [])
    with pytest.raises(ValueError, match="no trials table"):
        read_nwb(path)
