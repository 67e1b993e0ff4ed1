"""`select` from Python gives the command-line tool's numbers bit for bit: on the demo's data
(the paper's double well, 20,000 spikes in 10 s trials, seed 2020), with the same options on
a coarser grid (64 elements, 32 modes) so that CI stays quick."""

import json
import subprocess

import numpy as np
import pytest

import latentflow as lf

OPTIONS = dict(ne=64, nv=32, iterations=1500)


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory, cli):
    """The demo's data, simulated by Python and by the command-line tool (which must agree)."""
    data = lf.simulate(spikes=20_000, trial_length=10.0, seed=2020)
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run(
        [str(cli), "simulate", "--spikes", "20000", "--trial-length", "10", "--seed", "2020",
         "--out", str(folder / "cli.json")],
        check=True, capture_output=True,
    )
    assert lf.SpikeData.read(folder / "cli.json") == data
    path = folder / "data.json"
    data.write(path)
    return data, path


def test_select_matches_the_cli_bit_for_bit(demo_data, cli, tmp_path):
    data, path = demo_data
    out = tmp_path / "cli"
    subprocess.run(
        [str(cli), "select", "--data", str(path), "--out", str(out), "--quiet",
         "--ne", str(OPTIONS["ne"]), "--nv", str(OPTIONS["nv"]),
         "--iterations", str(OPTIONS["iterations"])],
        check=True, capture_output=True,
    )
    report = json.loads((out / "report.json").read_text())
    sel = lf.select(
        data, grid=lf.Grid(ne=OPTIONS["ne"]), nv=OPTIONS["nv"],
        iterations=OPTIONS["iterations"], progress=False,
    )
    assert sel.iterations == report["iterations"]
    assert sel.stopped_early == report["stopped_early"]
    for key in ["feature_consistency", "feature_consistency_js"]:
        ours, theirs = getattr(sel, key), report[key]
        assert ours["m_star"] == theirs["m_star"]
        assert ours["iterations"] == (theirs["selected"]["iteration1"], theirs["selected"]["iteration2"])
        assert ours["divergence"] == theirs["selected"]["divergence"]
        for k in range(2):
            assert np.array_equal(ours["peq"][k], theirs[f"half{k + 1}"]["peq"]), f"{key} half {k + 1}"
        assert np.array_equal(ours["curve_feature_complexity"], theirs["curve"]["feature_complexity"])
    for k in range(2):
        ours, theirs = sel.best_generalization[k], report["best_generalization"][f"half{k + 1}"]
        assert ours["iteration"] == theirs["iteration"]
        assert ours["validation_neg_loglik"] == theirs["validation_neg_loglik"]
        assert np.array_equal(ours["peq"], theirs["model"]["peq"])
        curve = report["curves"][f"half{k + 1}"]
        assert np.array_equal(sel.paths[k].model_iterations, curve["iteration"])
        assert np.array_equal(
            sel.paths[k].feature_complexity[np.isin(sel.paths[k].iterations, curve["iteration"])],
            curve["feature_complexity"],
        )
    assert sel.m_star > 0
