"""Fixtures: one short quickstart run made through seqlearn_nest.simulate.

The tests import the INSTALLED package (scripts/test.sh builds the wheel and
installs it into a fresh venv); the repository (experiments/, examples/) is
found from this file's location or SEQLEARN_REPO."""

import os
from pathlib import Path

import pytest

REPO = Path(os.environ.get("SEQLEARN_REPO", Path(__file__).resolve().parents[2]))
QUICKSTART = REPO / "experiments" / "quickstart.toml"


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    import seqlearn_nest

    out = tmp_path_factory.mktemp("runs") / "quick"
    return seqlearn_nest.simulate(QUICKSTART, out=out, train=2000.0, test=1000.0, seed=7, stream=False)


@pytest.fixture
def run_copy(quick_run, tmp_path):
    """A writable copy of the quick run's directory (for breaking files)."""
    import shutil

    dst = tmp_path / "run"
    shutil.copytree(quick_run.path, dst)
    return dst
