"""simulate(): the shipped CLI from Python."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import seqlearn_nest
from conftest import QUICKSTART


def _drop_none(d):
    if isinstance(d, dict):
        return {k: _drop_none(v) for k, v in d.items() if v is not None}
    if isinstance(d, list):
        return [_drop_none(v) for v in d]
    return d


def test_an_unknown_config_key_raises_the_cli_message():
    with pytest.raises(seqlearn_nest.UsageError) as err:
        seqlearn_nest.simulate({"network": {"gird": [3, 3]}}, stream=False)
    assert err.value.returncode == 2
    assert "unknown field `gird`" in str(err.value) and "expected one of `grid`" in str(err.value)


def test_a_bad_value_raises_the_cli_message(tmp_path):
    with pytest.raises(seqlearn_nest.UsageError, match="k_min"):
        seqlearn_nest.simulate(QUICKSTART, out=tmp_path / "r", k_min=0, stream=False)
    assert not (tmp_path / "r").exists()


def test_an_unknown_override_is_a_type_error():
    with pytest.raises(TypeError, match="unknown override 'grdi'.*grid"):
        seqlearn_nest.simulate(QUICKSTART, grdi=(2, 2))


def test_to_toml_round_trips_a_resolved_config(quick_run):
    cfg = quick_run.summary["config"]
    assert tomllib.loads(seqlearn_nest.to_toml(cfg)) == _drop_none(cfg)


def test_a_dict_config_reproduces_the_run(quick_run, tmp_path):
    again = seqlearn_nest.simulate(quick_run.summary["config"], out=tmp_path / "again", stream=False)
    assert again.spikes.equals(quick_run.spikes)
    assert again.summary["config"] == quick_run.summary["config"]


def test_progress_is_streamed(tmp_path, capsys):
    run = seqlearn_nest.simulate(QUICKSTART, out=tmp_path / "p", train=1000.0, test=500.0, analysis=False)
    err = capsys.readouterr().err
    assert "progress: " in err and f"/ {run.summary['simulated_ms'] / 1000:.1f} s simulated" in err
    assert run.readout is None  # --no-analysis


def test_the_console_script_runs_the_binary(tmp_path):
    exe = Path(sys.executable).with_name("seqlearn-nest")
    out = subprocess.run([str(exe), "grid", "--grid", "2x3"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    bad = subprocess.run([str(exe), "simulate", "--backend", "quantum"], capture_output=True, text=True)
    assert bad.returncode == 2 and "quantum" in bad.stderr


def test_the_nest_backend_runs_from_the_wheel(tmp_path):
    run = seqlearn_nest.simulate(QUICKSTART, backend="nest", out=tmp_path / "n", train=500.0, test=300.0,
                                 analysis=False, stream=False)
    assert run.summary["backend"] == "nest" and len(run.spikes) > 0


def test_threads_reach_the_nest_run(tmp_path):
    # exact_threads: the 2 threads run however busy the cores are, and give
    # the 1-thread run's spikes (every neuron draws from its own stream)
    kw = dict(backend="nest", train=300.0, test=200.0, analysis=False, stream=False)
    two = seqlearn_nest.simulate(QUICKSTART, out=tmp_path / "t2", threads=2, exact_threads=True, **kw)
    one = seqlearn_nest.simulate(QUICKSTART, out=tmp_path / "t1", threads=1, **kw)
    assert two.summary["parallel"]["threads_per_rank"] == 2
    assert one.summary["parallel"]["threads_per_rank"] == 1
    assert (tmp_path / "t2" / "spikes.csv").read_bytes() == (tmp_path / "t1" / "spikes.csv").read_bytes()
