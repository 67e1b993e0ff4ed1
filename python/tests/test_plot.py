"""The three report figures draw from a selection and save as images."""

import pytest

import latentflow as lf

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_the_report_figures_draw(tmp_path):
    from latentflow import plot

    data = lf.simulate(spikes=3000, trial_length=5.0, seed=3)
    grid = lf.Grid(ne=32)
    sel = lf.select(data, grid=grid, nv=16, iterations=400, progress=False)
    truth = lf.potential_peq("double_well", grid)
    for name, fig in [
        ("potentials", plot.potentials(sel, truth=truth)),
        ("loglik", plot.loglik(sel)),
        ("divergence", plot.divergence(sel)),
    ]:
        assert len(fig.axes) == 2
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
