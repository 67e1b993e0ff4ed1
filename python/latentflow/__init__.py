"""latentflow: the latent dynamics behind neural spike trains, and the model that deserves
interpretation (Genkin & Engel, Nature Machine Intelligence 2020), with a Rust core.

A population's shared activity follows a one-dimensional latent x(t) moving in a potential
(dx/dt = D F(x) + sqrt(2D) noise, F = (ln peq)'), each neuron firing at a rate f_n(x). ``fit``
follows gradient descent on the exact likelihood; ``select`` fits two halves of the data and
picks the most complex model on which both agree (feature consistency), beside the model that
predicts held-out data best.

    >>> import latentflow as lf
    >>> data = lf.simulate(spikes=2_000, trial_length=10.0, seed=1)
    >>> sel = lf.select(data, grid=lf.Grid(ne=32), nv=16, iterations=300, progress=False)
    >>> sel.m_star >= 0
    True

Arrays are numpy arrays; errors are ``ValueError`` (bad input) or ``OSError`` (files) with a
one-line message; long calls release the GIL, show progress and stop on Ctrl-C.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._native import FitPath, Grid, Model, SpikeData, paper_rates, potential_peq

__all__ = [
    "FitPath",
    "Grid",
    "Model",
    "Selection",
    "SpikeData",
    "fit",
    "from_arrays",
    "from_isi",
    "loglik",
    "paper_rates",
    "potential_peq",
    "recovery",
    "select",
    "simulate",
    "symmetric_kl",
]

__version__ = _native.__version__

Progress = Union[bool, Callable[[list], None]]


def _real_1d(name: str, a: Any) -> np.ndarray:
    """A 1-D float64 view (or copy, for another dtype) of ``a``, or ValueError."""
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def _ids_1d(name: str, a: Any) -> np.ndarray:
    """A 1-D int64 view (or copy) of ``a``, or ValueError."""
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
    if a.dtype == np.uint64 and a.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name}: ids must be < 2^32")
    return a.astype(np.int64, copy=False)


def from_arrays(
    spike_times: Any,
    neuron_ids: Any,
    trial_ids: Any,
    trial_start: Any,
    trial_end: Any,
    num_neurons: Optional[int] = None,
) -> SpikeData:
    """Spike data from arrays: spike ``j`` at ``spike_times[j]`` (s) in neuron
    ``neuron_ids[j]`` during trial ``trial_ids[j]``; trial ``k`` covers
    ``[trial_start[k], trial_end[k]]``. Spikes of a trial must be in time order (trials may
    interleave). ``num_neurons`` defaults to the largest neuron id + 1.

    float64 times and int64 ids are read in place; other real dtypes are converted first.
    """
    return SpikeData.from_arrays(
        _real_1d("spike_times", spike_times),
        _ids_1d("neuron_ids", neuron_ids),
        _ids_1d("trial_ids", trial_ids),
        _real_1d("trial_start", trial_start),
        _real_1d("trial_end", trial_end),
        num_neurons,
    )


def from_isi(trials: Sequence[Tuple[Any, Any]], num_neurons: Optional[int] = None) -> SpikeData:
    """Spike data in the original package's (neuralflow's) form: for each trial a pair
    ``(intervals, neuron_ids)`` — the intervals (s) between consecutive events and the neuron
    whose spike ends each, ``-1`` (last entry) for the trial end. An array of shape
    (trials, 2) of such pairs, as neuralflow stores it, works too."""
    pairs = []
    for k, trial in enumerate(trials):
        if len(trial) != 2:
            raise ValueError(f"trial {k}: expected a pair (intervals, neuron_ids)")
        isi, ids = trial
        pairs.append((_real_1d(f"trial {k} intervals", isi), _ids_1d(f"trial {k} neuron ids", ids)))
    return SpikeData.from_isi(pairs, num_neurons)


def simulate(
    potential: Union[str, Tuple[Any, Any], None] = None,
    *,
    d: float = 10.0,
    rates: Optional[Tuple[Any, Any]] = None,
    boundary: str = "reflecting",
    spikes: Optional[int] = None,
    seconds: Optional[float] = None,
    trials: Optional[int] = None,
    trial_length: float = 10.0,
    seed: int = 0,
    dt: float = 1e-4,
    xbegin: float = -1.0,
    xend: float = 1.0,
) -> SpikeData:
    """Simulates spike trains of the Langevin model (Euler–Maruyama, step ``dt`` s).

    ``potential``: None (the paper's double well), a name ("double_well", "triple_well",
    "four_well", "uniform"), or ``(x, phi)`` arrays tabulating Phi = -ln peq + const.
    ``rates``: None (the paper's neuron, max(100 (x + 1), 1) Hz), or ``(x, rates)`` with
    rates of shape (neurons, len(x)) in Hz. Give one of ``spikes`` (whole trials until this
    many; the default, 20,000), ``seconds`` or ``trials``. Same seed, same data, on any
    machine and thread count.
    """
    if spikes is None and seconds is None and trials is None:
        spikes = 20_000
    if isinstance(potential, tuple):
        potential = (_real_1d("potential x", potential[0]), _real_1d("potential phi", potential[1]))
    if rates is not None:
        x, r = rates
        r = np.asarray(r, dtype=np.float64)
        if r.ndim == 1:
            r = r[None, :]
        rates = (_real_1d("rates x", x), np.ascontiguousarray(r))
    return _native.simulate(
        potential, d, rates, boundary, spikes, seconds, trials, trial_length, seed, dt, xbegin, xend
    )


def loglik(data: SpikeData, model: Model, *, nv: Optional[int] = None, gradients: bool = False, dense: bool = False):
    """-log L of ``data`` under ``model`` with ``nv`` eigenmodes (default 64, all with
    absorbing ends). With ``gradients=True``: ``(neg_loglik, grads)``, ``grads`` a dict of the
    gradients that apply — "F", "F0", "Fr" functional derivatives on the nodes (for
    F -> F + eps dF, d(-log L)/d eps = sum_i w_i grads["F"][i] dF[i]), "D", "C" ordinary ones."""
    return _native.loglik(data, model, nv, gradients, dense)


def _lr(lr: Union[None, float, Mapping[str, float]]):
    if lr is None:
        return None
    if isinstance(lr, (int, float)):
        return [("F", float(lr))]
    return [(str(k), float(v)) for k, v in lr.items()]


class _Bars:
    """tqdm bars fed by the native progress callback ([(iteration, total), ...])."""

    def __init__(self, labels: Sequence[str]):
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.labels = labels
        self.bars: list = []

    def __call__(self, progress: list) -> None:
        if not self.bars:
            self.bars = [
                self._tqdm(total=int(total), desc=label, unit="it", leave=True)
                for label, (_, total) in zip(self.labels, progress)
            ]
        for bar, (it, _) in zip(self.bars, progress):
            bar.update(int(it) - bar.n)

    def close(self, reached: Optional[int] = None) -> None:
        """Closes the bars, first moving them to ``reached`` (the iteration the fits ended at:
        an RKC step's record is its start, so the last report falls short of it)."""
        for bar in self.bars:
            if reached is not None:
                bar.update(int(reached) - bar.n)
            bar.close()


def _progress(progress: Progress, labels: Sequence[str]):
    """The native callback for ``progress``: a tqdm bar per fit (True, when tqdm is
    installed), the user's callable, or nothing."""
    if callable(progress):
        return progress, None
    if progress:
        try:
            bars = _Bars(labels)
        except ImportError:
            return None, None
        return bars, bars
    return None, None


def fit(
    data: SpikeData,
    model: Optional[Model] = None,
    validation: Optional[SpikeData] = None,
    *,
    iterations: int = 2000,
    fit: Sequence[str] = ("F",),
    lr: Union[None, float, Mapping[str, float]] = None,
    absolute_lr: bool = False,
    method: str = "rkc",
    rkc_tolerance: Optional[float] = None,
    nv: Optional[int] = None,
    checkpoint: Optional[str] = None,
    checkpoint_every: int = 500,
    resume: bool = False,
    progress: Progress = True,
) -> FitPath:
    """Fits ``model`` (default: ``Model.default(data)``) to ``data``, validated on
    ``validation``, as ``latentflow fit``: ``iterations`` iterations of the parameters ``fit``
    (of "F", "D", "F0", "Fr", "C"). Learning rates are per 10,000 fitted spikes (``lr``: a
    number for F, or a dict such as ``{"F": 0.005, "D": 0.01}``; ``absolute_lr`` for the
    paper's absolute steps); ``method`` "rkc" (gradient descent's path with far fewer
    evaluations), "gd" or "adam"; ``rkc_tolerance`` sets the RKC method's local error tolerance
    (default 1e-3; smaller follows gradient descent's path more closely, at more evaluations).
    With ``checkpoint`` (a file path) the fit checkpoints every
    ``checkpoint_every`` iterations and ``resume=True`` continues from it. ``progress``: a
    tqdm bar (True), False, or a callable receiving ``[(iteration, total)]``.
    Returns the :class:`FitPath`."""
    fit = list(fit)
    if model is None:
        model = Model.default(data, fit_rates="Fr" in fit)
    callback, bars = _progress(progress, ["fit"])
    reached = None
    try:
        path = _native.fit(
            data,
            model,
            validation,
            int(iterations),
            fit,
            _lr(lr),
            absolute_lr,
            method,
            rkc_tolerance,
            nv,
            None if checkpoint is None else str(checkpoint),
            int(checkpoint_every),
            resume,
            callback,
        )
        reached = int(iterations)
        return path
    finally:
        if bars is not None:
            bars.close(reached)


@dataclass(frozen=True)
class Selection:
    """What :func:`select` found. ``feature_consistency`` (and ``feature_consistency_js``) hold
    ``m_star``, the selected ``iterations`` and ``feature_complexity`` of both halves,
    ``divergence``, ``peq`` (shape (2, nodes); half 2 turned the way its tuning agrees with
    half 1's), the curve (``curve_feature_complexity``, ``curve_divergence``), ``threshold``,
    ``crossed`` and ``warnings``; ``best_generalization`` holds per half the ``iteration``,
    ``validation_neg_loglik``, ``feature_complexity`` and ``peq`` of the model that predicts
    the other half best; ``paths`` the two :class:`FitPath`."""

    feature_consistency: dict
    feature_consistency_js: dict
    best_generalization: list
    paths: tuple
    grid: Grid
    boundary: str
    iterations: int
    stopped_early: bool
    seconds: float
    orientation: str
    resume_notes: list

    @property
    def m_star(self) -> float:
        """M*, the feature complexity selected by feature consistency (symmetrised KL)."""
        return self.feature_consistency["m_star"]

    @property
    def warnings(self) -> list:
        """Warnings of the feature-consistency selection."""
        return list(self.feature_consistency["warnings"])

    def __repr__(self) -> str:
        fc = self.feature_consistency
        bg = self.best_generalization
        return (
            f"Selection(M* = {fc['m_star']:.2f} at iterations {fc['iterations']}, "
            f"best generalisation at iterations ({bg[0]['iteration']}, {bg[1]['iteration']}), "
            f"{self.iterations} iterations per half{' (stopped early)' if self.stopped_early else ''})"
        )


def select(
    data: SpikeData,
    model: Optional[Model] = None,
    *,
    grid: Optional[Grid] = None,
    d: float = 10.0,
    rates: str = "auto",
    boundary: str = "reflecting",
    fit: Sequence[str] = ("F",),
    nv: int = 64,
    iterations: int = 50_000,
    lr: Union[None, float, Mapping[str, float]] = None,
    absolute_lr: bool = False,
    method: str = "rkc",
    rkc_tolerance: Optional[float] = None,
    split: str = "alternating",
    threshold: float = 0.01,
    threshold_js: float = 0.002,
    early_stop: bool = True,
    margin: float = 1.0,
    check_every: int = 500,
    checkpoint_dir: Optional[str] = None,
    checkpoint_every: int = 1000,
    progress: Progress = True,
) -> Selection:
    """The whole pipeline, as ``latentflow select`` with the same defaults (and the same
    numbers, bit for bit): split ``data`` into two halves ("alternating" or "halves"), fit
    both from ``model`` (default: ``Model.default(data, grid, d, rates, boundary)``; those
    four options are used only without a ``model``) each validated on the other, stop once the consistency curve has crossed ``threshold`` by
    ``margin`` feature-complexity units and both validation minima are behind (checked every
    ``check_every`` iterations, the period doubling on long runs; ``early_stop=False`` runs to
    ``iterations``), then select by feature consistency and best generalisation. Fitting and
    step options as in :func:`fit`. With ``checkpoint_dir``, both fits checkpoint there and a
    rerun with the same data and settings continues from them."""
    callback, bars = _progress(progress, ["half 1", "half 2"])
    out = None
    try:
        out = _native.select(
            data,
            model,
            grid,
            d,
            rates,
            boundary,
            list(fit),
            int(nv),
            int(iterations),
            _lr(lr),
            absolute_lr,
            method,
            rkc_tolerance,
            split,
            threshold,
            threshold_js,
            early_stop,
            margin,
            int(check_every),
            None if checkpoint_dir is None else str(checkpoint_dir),
            int(checkpoint_every),
            callback,
        )
    finally:
        if bars is not None:
            bars.close(None if out is None else out["iterations"])
    return Selection(**out)


def symmetric_kl(grid: Grid, p: Any, q: Any) -> float:
    """Symmetrised KL divergence (nats) between two densities on ``grid``'s nodes."""
    return _native.symmetric_kl(grid, _real_1d("p", p), _real_1d("q", q))


def recovery(grid: Grid, peq: Any, truth: Any, true_wells: Optional[int] = None) -> dict:
    """How a selected density compares with the ground truth, by the rule of the paper's
    synthetic experiments: ``kl_to_truth`` (symmetrised KL, nats), ``wells`` (positions of the
    minima of -ln peq) and, given ``true_wells``, ``recovers`` (KL below the bound and the
    right number of wells)."""
    return _native.recovery(grid, _real_1d("peq", peq), _real_1d("truth", truth), true_wells)
