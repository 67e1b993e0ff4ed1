"""`loglik` from Python agrees with the original package's numbers (fixtures/reference, the
cases the Rust test crates/likelihood/tests/reference.rs checks, with its tolerances)."""

import json

import numpy as np
import pytest

import latentflow as lf


def cases(root):
    return sorted((root / "fixtures" / "reference").glob("*.json"))


def rel_l2(ours, theirs):
    ours, theirs = np.ravel(ours), np.ravel(theirs)
    return np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), 1e-300)


def test_there_are_reference_cases(root):
    assert len(cases(root)) >= 5


@pytest.mark.parametrize("dense", [False, True], ids=["banded", "dense"])
def test_loglik_matches_the_reference_cases(root, dense):
    for path in cases(root):
        case = json.loads(path.read_text())
        g, m = case["grid"], case["model"]
        grid = lf.Grid(g["xbegin"], g["xend"], g["ne"], g["np"])
        np.testing.assert_allclose(grid.x, m["x"], rtol=0, atol=1e-13)
        model = lf.Model(
            grid,
            np.array(m["peq"]),
            m["d"],
            np.array(m["fr"], dtype=np.float64),
            p0=None if m["p0"] is None else np.array(m["p0"]),
            boundary=case["boundary"],
        )
        data = lf.from_isi(
            [(np.array(t["isi"]), np.array(t["neuron"], dtype=np.int64)) for t in case["trials"]],
            num_neurons=model.num_neurons,
        )
        expected = case["expected"]
        nll = lf.loglik(data, model, nv=case["nv"], dense=dense)
        assert abs(nll - expected["neg_loglik"]) < 1e-6 * abs(expected["neg_loglik"]), path.name
        value, grads = lf.loglik(data, model, nv=case["nv"], gradients=True, dense=dense)
        assert abs(value - nll) <= 1e-12 * abs(nll), path.name
        checked = 0
        for name, theirs in expected["grad"].items():
            if theirs is None:
                continue
            assert rel_l2(grads[name], theirs) < 1e-5, f"{path.name}: gradient {name}"
            checked += 1
        assert checked > 0 or all(v is None for v in expected["grad"].values())


def test_model_and_loglik_errors_are_value_errors(root):
    grid = lf.Grid(ne=8, np=6)
    peq = lf.potential_peq("double_well", grid)
    model = lf.Model(grid, peq, 10.0, lf.paper_rates(grid.x)[None, :])
    two = lf.from_arrays([0.1, 0.2], [0, 1], [0, 0], [0.0], [1.0])
    with pytest.raises(ValueError, match="2 neurons.*1"):
        lf.loglik(two, model, nv=8)
    with pytest.raises(ValueError, match="nv 1000"):
        lf.loglik(two, model, nv=1000)
    with pytest.raises(ValueError):
        lf.Model(grid, -peq, 10.0, lf.paper_rates(grid.x)[None, :])
    with pytest.raises(ValueError):
        lf.Model(grid, peq, -1.0, lf.paper_rates(grid.x)[None, :])
    with pytest.raises(ValueError, match="boundary 'sticky'"):
        lf.Model(grid, peq, 1.0, lf.paper_rates(grid.x)[None, :], boundary="sticky")
    with pytest.raises(ValueError, match="grid"):
        lf.Grid(ne=0)
