"""latentflow from Python in a few lines: simulate the paper's double well, fit both halves,
select by feature consistency, compare with the ground truth and draw the report figures.

    python python/examples/quickstart.py [--out DIR] [--full]

By default a coarse grid and 20,000 spikes (about a minute on two cores); --full runs the
paper's grid, as `latentflow demo` does.
"""

import argparse
from pathlib import Path

import latentflow as lf

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("out/python-quickstart"))
parser.add_argument("--full", action="store_true", help="the paper's grid and modes")
args = parser.parse_args()

data = lf.simulate(spikes=20_000, trial_length=10.0, seed=2020)  # the paper's double well
grid = lf.Grid() if args.full else lf.Grid(ne=64)
selection = lf.select(data, grid=grid, nv=64 if args.full else 32)
print(selection)

truth = lf.potential_peq("double_well", grid)
fc = selection.feature_consistency
for k in range(2):
    judged = lf.recovery(grid, fc["peq"][k], truth, true_wells=2)
    print(f"half {k + 1}: KL to the truth {judged['kl_to_truth']:.4f}, wells at {judged['wells'].round(2)}")

try:
    import matplotlib

    matplotlib.use("Agg")
    from latentflow import plot

    args.out.mkdir(parents=True, exist_ok=True)
    plot.potentials(selection, truth=truth).savefig(args.out / "potentials.png")
    plot.loglik(selection).savefig(args.out / "loglik.png")
    plot.divergence(selection).savefig(args.out / "divergence.png")
    print(f"figures in {args.out}")
except ImportError:
    print("matplotlib is not installed: no figures (pip install latentflow-spikes[plot])")
