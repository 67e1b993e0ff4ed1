"""Fits from Python: results, progress, Ctrl-C, errors, checkpoints."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import latentflow as lf


@pytest.fixture(scope="module")
def small():
    data = lf.simulate(spikes=4000, trial_length=5.0, seed=7)
    train, validation = data.split()
    grid = lf.Grid(ne=32)
    return train, validation, grid, lf.Model.paper(grid)


def test_fit_returns_the_path(small):
    train, validation, grid, model = small
    path = lf.fit(train, model, validation, iterations=300, nv=16, method="gd", progress=False)
    assert len(path) == 300
    assert np.array_equal(path.iterations, np.arange(300))
    assert path.train_neg_loglik[-1] < path.train_neg_loglik[0]
    assert np.all(np.isfinite(path.validation_neg_loglik))
    assert path.peq.shape == (len(path.model_iterations), grid.n)
    np.testing.assert_allclose(path.peq @ grid.w, 1.0, rtol=1e-9)
    last = path.model(-1)
    assert np.array_equal(last.peq, path.peq[-1])
    # Without validation data the validation curve is NaN; the same seed-free fit is repeatable.
    again = lf.fit(train, model, iterations=300, nv=16, method="gd", progress=False)
    assert np.all(np.isnan(again.validation_neg_loglik))
    assert np.array_equal(again.train_neg_loglik, path.train_neg_loglik)


def test_a_tighter_rkc_tolerance_takes_more_evaluations(small):
    train, validation, grid, model = small
    evaluations = [
        lf.fit(
            train, model, validation, iterations=2000, nv=16, rkc_tolerance=tol, progress=False
        ).evaluations[-1]
        for tol in (1e-2, 1e-5)
    ]
    assert evaluations[0] < evaluations[1] < 2000, evaluations


def test_progress_reaches_the_end_and_a_raising_callback_stops_the_fit(small):
    train, _, _, model = small
    seen = []
    lf.fit(train, model, iterations=200, nv=16, progress=seen.append)
    assert seen and seen[-1][0][1] == 200 and seen[-1][0][0] >= 150

    def fail(_):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        lf.fit(train, model, iterations=100_000, nv=16, progress=fail)


def test_ctrl_c_interrupts_a_long_fit_and_keeps_the_checkpoint(small, tmp_path):
    train, _, _, model = small
    # A shell's background job starts with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: install it, as an interactive session has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    checkpoint = tmp_path / "fit.ckpt"
    started = time.monotonic()

    def guard(_):  # should Ctrl-C not stop it, fail instead of running for hours
        if time.monotonic() - started > 60:
            raise TimeoutError("Ctrl-C did not stop the fit within 60 s")

    with pytest.raises(KeyboardInterrupt):
        lf.fit(train, model, iterations=10_000_000, nv=16, method="gd", checkpoint=checkpoint, progress=guard)
    timer.join()
    signal.signal(signal.SIGINT, previous)
    assert checkpoint.exists()
    # A rerun with resume=True starts from the checkpoint, not from iteration 0.
    first = []

    def stop_after_first_report(progress):
        first.append(progress[0][0])
        raise RuntimeError("seen")

    with pytest.raises(RuntimeError, match="seen"):
        lf.fit(train, model, iterations=10_000_000, nv=16, method="gd", checkpoint=checkpoint,
               resume=True, progress=stop_after_first_report)
    assert first[0] > 0


def test_options_are_checked(small):
    train, validation, grid, model = small
    for kwargs, message in [
        (dict(method="newton"), "method 'newton'"),
        (dict(fit=["G"]), "unknown parameter 'G'"),
        (dict(lr={"F": -1.0}), "rate"),
        (dict(lr={"X": 1.0}), "unknown parameter 'X'"),
        (dict(iterations=0), "iterations"),
        (dict(nv=0), "nv 0"),
        (dict(resume=True), "resume needs a checkpoint"),
        (dict(rkc_tolerance=2.0), "rkc_tolerance: .*tolerance 2 must lie in"),
        (dict(method="gd", rkc_tolerance=1e-3), "only with method 'rkc'"),
    ]:
        with pytest.raises(ValueError, match=message):
            lf.fit(train, model, **kwargs, progress=False)
    with pytest.raises(ValueError, match="threshold"):
        lf.select(train, grid=grid, nv=16, threshold=0.0, progress=False)
    with pytest.raises(ValueError, match="split 'thirds'"):
        lf.select(train, grid=grid, nv=16, split="thirds", progress=False)
    with pytest.raises(ValueError, match="exactly one of"):
        lf.simulate(spikes=10, seconds=1.0)
    with pytest.raises(ValueError, match="potential 'five_well'"):
        lf.simulate("five_well")


def test_simulate_is_seeded_and_takes_tabulated_truths():
    a = lf.simulate("triple_well", spikes=2000, trial_length=2.0, seed=11)
    assert a == lf.simulate("triple_well", spikes=2000, trial_length=2.0, seed=11)
    assert a != lf.simulate("triple_well", spikes=2000, trial_length=2.0, seed=12)
    x = np.linspace(-1, 1, 101)
    two = np.vstack([50 * (1 + x), 50 * (1 - x)]) + 1.0
    b = lf.simulate((x, 4 * x**2), rates=(x, two), trials=3, trial_length=1.0, seed=1)
    assert (b.num_neurons, b.num_trials) == (2, 3)


def test_recovery_judges_a_density_against_the_truth():
    grid = lf.Grid(ne=64)
    truth = lf.potential_peq("double_well", grid)
    r = lf.recovery(grid, truth, truth, true_wells=2)
    assert r["kl_to_truth"] == 0.0 and r["recovers"] and len(r["wells"]) == 2
    flat = lf.potential_peq("uniform", grid)
    assert not lf.recovery(grid, flat, truth, true_wells=2)["recovers"]
    assert lf.symmetric_kl(grid, flat, truth) > 0.1


def test_progress_true_draws_tqdm_bars(small, capsys):
    pytest.importorskip("tqdm")
    train, _, grid, model = small
    lf.select(train, model, nv=16, iterations=200, early_stop=False)
    err = capsys.readouterr().err
    assert "half 1" in err and "half 2" in err and "200/200" in err
