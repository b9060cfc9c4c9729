"""The Elephant example and the getting-started notebook."""

import importlib.util
import os

import numpy as np
import pytest

from conftest import REPO


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_elephant_example_agrees_with_the_dataframes(quick_run):
    pytest.importorskip("elephant")
    ex = _load(REPO / "examples" / "elephant_analysis.py")
    res = ex.analyse(quick_run.path)
    test = quick_run.protocol[quick_run.protocol["role"] == "test"].iloc[0]
    dur_s = (test.end_ms - test.start_ms) / 1000.0
    sp = quick_run.spikes
    in_test = sp[(sp["time_ms"] >= test.start_ms) & (sp["time_ms"] < test.end_ms)]
    counts = in_test["sender"].value_counts()
    for n, rate in res["rates_hz"].items():
        assert rate == pytest.approx(counts.get(n, 0) / dur_s, rel=1e-12), n
    # ISI CV of one neuron by hand
    n = max(res["isi_cv"], key=lambda k: counts.get(k, 0))
    isis = np.diff(np.sort(in_test[in_test["sender"] == n]["time_ms"].to_numpy()))
    assert res["isi_cv"][n] == pytest.approx(isis.std() / isis.mean(), rel=1e-9)
    assert res["cch"].sum() > 0 and len(res["early"]) > 0 and len(res["late"]) > 0
    assert not set(res["early"]) & set(res["late"])


def test_the_getting_started_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(REPO / "examples" / "getting_started.ipynb", as_version=4)
    env_dir = tmp_path / "nb"
    env_dir.mkdir()
    os.environ["SEQLEARN_REPO"] = str(REPO)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(env_dir)}})
    client.execute()  # raises CellExecutionError on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the raster plot was not drawn"
