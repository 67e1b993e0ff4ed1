"""Shared set-up of the Python tests: the repository's paths and the command-line tool."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository's root directory."""
    return ROOT


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `latentflow` command-line tool of this checkout ($LATENTFLOW_CLI, else
    target/release/latentflow, built if missing)."""
    given = os.environ.get("LATENTFLOW_CLI")
    if given:
        return Path(given)
    binary = ROOT / "target" / "release" / "latentflow"
    if not binary.exists():
        subprocess.run(
            ["cargo", "build", "--release", "-p", "latentflow-cli"], cwd=ROOT, check=True
        )
    return binary
