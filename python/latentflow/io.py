"""Reading recordings into :class:`latentflow.SpikeData`: NWB files (with ``pynwb``, the
``nwb`` extra) and, for the other forms recordings come in, the array and ISI constructors
of the package (``latentflow.from_arrays``, ``latentflow.from_isi``)."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from . import SpikeData, from_arrays

__all__ = ["read_nwb", "trials_from_times"]


def trials_from_times(
    unit_spike_times: Sequence[Any],
    trial_start: Any,
    trial_end: Any,
) -> SpikeData:
    """Spike data from one array of absolute spike times (s) per unit and the trials' start
    and end times (s), the trials not overlapping: each spike inside a trial ``[start, end]``
    is kept, the others are dropped. Unit ``n`` of the list becomes neuron ``n``."""
    start = np.asarray(trial_start, dtype=np.float64)
    end = np.asarray(trial_end, dtype=np.float64)
    if start.ndim != 1 or start.shape != end.shape:
        raise ValueError(
            f"trial_start and trial_end must be 1-D of one length, got shapes {start.shape} and {end.shape}"
        )
    if start.size == 0:
        raise ValueError("the recording has no trials")
    times, neurons, trials = [], [], []
    order = np.argsort(start, kind="stable")
    for n, spikes in enumerate(unit_spike_times):
        s = np.asarray(spikes, dtype=np.float64)
        if s.ndim != 1:
            raise ValueError(f"unit {n}: spike times must be 1-D, got shape {s.shape}")
        if np.isnan(s).any():
            raise ValueError(f"unit {n}: spike times contain NaN")
        # The last trial (by start) starting at or before each spike; kept if it has not ended.
        k = np.searchsorted(start[order], s, side="right") - 1
        inside = k >= 0
        trial = order[np.clip(k, 0, None)]
        inside &= s <= end[trial]
        times.append(s[inside])
        neurons.append(np.full(int(inside.sum()), n, dtype=np.int64))
        trials.append(trial[inside].astype(np.int64))
    times = np.concatenate(times) if times else np.zeros(0)
    neurons = np.concatenate(neurons) if neurons else np.zeros(0, dtype=np.int64)
    trials = np.concatenate(trials) if trials else np.zeros(0, dtype=np.int64)
    # Time order within each trial (ties keep unit order).
    sort = np.lexsort((neurons, times, trials))
    return from_arrays(
        times[sort], neurons[sort], trials[sort], start, end, num_neurons=len(unit_spike_times)
    )


def read_nwb(
    path: str,
    units: Optional[Sequence[int]] = None,
    trials: Optional[Any] = None,
) -> SpikeData:
    """Spike data from an NWB file: the spike times of the Units table and the start and stop
    times of the trials table (``pynwb`` needed: ``pip install latentflow-spikes[nwb]``).

    ``units``: row indices of the Units table to use (default: all), in the order they become
    neurons 0, 1, ...; ``trials``: row indices or a boolean mask of the trials table (default:
    all). Spikes outside the chosen trials are dropped."""
    try:
        from pynwb import NWBHDF5IO
    except ImportError as e:  # pragma: no cover - the extra is installed in CI
        raise ImportError("read_nwb needs pynwb: pip install latentflow-spikes[nwb]") from e
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        if nwb.units is None or len(nwb.units) == 0:
            raise ValueError(f"{path}: the file has no Units table (no sorted spikes)")
        if nwb.trials is None or len(nwb.trials) == 0:
            raise ValueError(f"{path}: the file has no trials table")
        rows = range(len(nwb.units)) if units is None else list(units)
        for r in rows:
            if not 0 <= r < len(nwb.units):
                raise ValueError(f"{path}: unit row {r} is out of range (the Units table has {len(nwb.units)} rows)")
        spike_times = [np.asarray(nwb.units["spike_times"][r], dtype=np.float64) for r in rows]
        start = np.asarray(nwb.trials["start_time"][:], dtype=np.float64)
        stop = np.asarray(nwb.trials["stop_time"][:], dtype=np.float64)
    if trials is not None:
        pick = np.asarray(trials)
        try:
            start, stop = start[pick], stop[pick]
        except IndexError as e:
            raise ValueError(f"{path}: trials: {e}") from e
    try:
        return trials_from_times(spike_times, start, stop)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e
