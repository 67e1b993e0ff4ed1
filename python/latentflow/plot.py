"""The three figures of a selection report, drawn with matplotlib (the ``plot`` extra): the
selected potentials, the -log L curves of both fits, and the consistency curves.

Each function returns a ``matplotlib.figure.Figure``; save it with ``fig.savefig(path)``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import Selection

__all__ = ["potentials", "loglik", "divergence"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - the extra is installed in CI
        raise ImportError("latentflow.plot needs matplotlib: pip install latentflow-spikes[plot]") from e
    return plt


def _phi(peq: np.ndarray) -> np.ndarray:
    """The potential Phi = -ln peq, shifted to minimum 0."""
    phi = -np.log(np.asarray(peq))
    return phi - phi.min()


def potentials(selection: Selection, truth: Optional[Any] = None):
    """Phi = -ln peq of the models selected by feature consistency (left) and best
    generalisation (right), both halves, and the ground truth's when ``truth`` (its peq on the
    same grid) is given."""
    plt = _pyplot()
    x = selection.grid.x
    fc = selection.feature_consistency
    bg = selection.best_generalization
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    panels = [
        (f"Feature consistency (M* = {fc['m_star']:.2f})", fc["peq"]),
        (
            f"Best generalisation (iterations {bg[0]['iteration']} / {bg[1]['iteration']})",
            [bg[0]["peq"], bg[1]["peq"]],
        ),
    ]
    for ax, (title, peqs) in zip(axes, panels):
        if truth is not None:
            ax.plot(x, _phi(truth), color="black", lw=2.5, alpha=0.35, label="ground truth")
        ax.plot(x, _phi(peqs[0]), color="tab:blue", label="half 1")
        ax.plot(x, _phi(peqs[1]), color="tab:orange", ls="--", label="half 2")
        ax.set_title(title)
        ax.set_xlabel("latent x")
        ax.legend(frameon=False)
    axes[0].set_ylabel("potential Phi = -ln peq")
    fig.tight_layout()
    return fig


def loglik(selection: Selection):
    """Training and validation -log L (per spike, relative to the start) of both fits against
    the iteration, with the iterations selected by feature consistency and best
    generalisation marked."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    fc_iter = selection.feature_consistency["iterations"]
    for k, ax in enumerate(axes):
        path = selection.paths[k]
        it = np.maximum(path.iterations, 1)
        train, val = path.train_neg_loglik, path.validation_neg_loglik
        ax.plot(it, train - train[0], color="tab:blue", label="training")
        ax.plot(it, val - val[0], color="tab:orange", label="validation (other half)")
        ax.axvline(max(selection.best_generalization[k]["iteration"], 1), color="tab:orange", ls=":", label="best generalisation")
        ax.axvline(max(fc_iter[k], 1), color="tab:green", ls="--", label="feature consistency")
        ax.set_xscale("log")
        ax.set_xlabel("iteration")
        ax.set_title(f"Half {k + 1}")
        ax.legend(frameon=False, fontsize="small")
    axes[0].set_ylabel("-log L - its initial value (nats)")
    fig.tight_layout()
    return fig


def divergence(selection: Selection):
    """The consistency curves: divergence between the halves' models against feature
    complexity, symmetrised KL (left) and Jensen–Shannon (right), with their thresholds and M*."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (title, fc) in zip(
        axes,
        [
            ("Feature consistency: symmetrised KL", selection.feature_consistency),
            ("Feature consistency: Jensen-Shannon", selection.feature_consistency_js),
        ],
    ):
        ax.plot(fc["curve_feature_complexity"], fc["curve_divergence"], color="tab:blue")
        ax.axhline(fc["threshold"], color="gray", ls="--", label=f"threshold {fc['threshold']:g}")
        ax.axvline(fc["m_star"], color="tab:green", ls=":", label=f"M* = {fc['m_star']:.2f}")
        ax.set_xlabel("feature complexity M")
        ax.set_ylabel("divergence between halves")
        ax.set_title(title)
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig
