"""load_run against the CSVs and the schema; to_neo; malformed files."""

import csv
import json
import math

import numpy as np
import pandas as pd
import pytest

import seqlearn_nest
from seqlearn_nest import RunFormatError, load_run

ATTRS = ["circuits", "neurons", "sources", "circuit_pairs", "synapses", "input_spikes", "spikes", "phases",
         "protocol", "patterns", "neuron_traces", "synapse_traces", "readout", "readout_output", "ordering",
         "assemblies"]


def _cell(kind, text):
    if text == "":
        return None
    return {"uint": int, "float": float, "bool": lambda t: t == "true"}.get(kind, str)(text)


def _value(v):
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def test_every_file_of_the_schema_is_loaded(quick_run):
    names = {f.removesuffix(".csv") for f in seqlearn_nest.schema()}
    assert names == set(ATTRS)
    for a in ATTRS:
        assert isinstance(getattr(quick_run, a), pd.DataFrame), a
    assert len(quick_run.spikes) > 0 and len(quick_run.neuron_traces) > 0


def test_load_run_equals_the_csvs(quick_run):
    for name, spec in seqlearn_nest.schema().items():
        df = quick_run.tables[name]
        with open(quick_run.path / name, newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == len(df), name
        for col in spec["columns"]:
            want = [_cell(col["type"], r[col["name"]]) for r in rows]
            have = [_value(v) for v in df[col["name"]].tolist()]
            assert have == want, (name, col["name"])


def test_dtypes_and_units_follow_the_schema(quick_run):
    for name, spec in seqlearn_nest.schema().items():
        df = quick_run.tables[name]
        assert list(df.columns) == [c["name"] for c in spec["columns"]]
        assert df.attrs["units"] == {c["name"]: c["unit"] for c in spec["columns"]}
        for c in spec["columns"]:
            dt = df[c["name"]].dtype
            if c["type"] == "uint":
                assert str(dt) == ("UInt64" if c["nullable"] else "uint64"), (name, c["name"], dt)
            elif c["type"] == "float":
                assert dt == np.float64, (name, c["name"], dt)
            elif c["type"] == "bool":
                assert dt == bool, (name, c["name"], dt)
            elif c["type"] == "enum":
                assert list(dt.categories) == c["values"], (name, c["name"])
            else:
                assert isinstance(dt, pd.StringDtype), (name, c["name"], dt)


def test_summary_is_the_json(quick_run):
    assert quick_run.summary == json.loads((quick_run.path / "summary.json").read_text())
    assert quick_run.summary["counts"]["network_spikes"] == len(quick_run.spikes)


def _rewrite(path, fn):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    rows = fn(rows)
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test_a_missing_file_is_named(run_copy):
    (run_copy / "synapses.csv").unlink()
    with pytest.raises(RunFormatError, match=r"synapses\.csv: missing"):
        load_run(run_copy)


def test_an_absent_optional_file_is_none(run_copy):
    (run_copy / "ordering.csv").unlink()
    (run_copy / "synapse_traces.csv").unlink()
    run = load_run(run_copy)
    assert run.ordering is None and run.synapse_traces is None and run.spikes is not None


def test_a_missing_column_is_named(run_copy):
    _rewrite(run_copy / "neurons.csv", lambda rows: [r[:2] + r[3:] for r in rows])  # drop bias_initial
    with pytest.raises(RunFormatError, match=r"neurons\.csv: line 1: column 'bias_initial': missing column"):
        load_run(run_copy)


@pytest.mark.parametrize(
    "file,column,value,what",
    [
        ("spikes.csv", "time_ms", "soon", "expected a number"),
        ("spikes.csv", "sender", "-3", "expected a non-negative integer"),
        ("circuits.csv", "k", "", "empty cell"),
        ("protocol.csv", "train", "yes", "expected true or false"),
        ("sources.csv", "kind", "neurone", "expected one of input, neuron"),
    ],
)
def test_a_malformed_cell_names_file_line_and_column(run_copy, file, column, value, what):
    def spoil(rows):
        rows[2][rows[0].index(column)] = value
        return rows

    _rewrite(run_copy / file, spoil)
    with pytest.raises(RunFormatError) as err:
        load_run(run_copy)
    msg = str(err.value)
    assert msg.startswith(f"{file}: line 3: column '{column}': {what}"), msg
    assert err.value.file == file and err.value.column == column and err.value.line == 3


def test_column_order_is_free_and_extra_columns_are_dropped(run_copy, quick_run):
    _rewrite(run_copy / "spikes.csv", lambda rows: [[r[1], "x", r[0]] for r in rows])
    run = load_run(run_copy)
    pd.testing.assert_frame_equal(run.spikes, quick_run.spikes)


def test_a_broken_summary_is_named(run_copy):
    (run_copy / "summary.json").write_text("{ not json")
    with pytest.raises(RunFormatError, match=r"summary\.json: not valid JSON"):
        load_run(run_copy)


def test_to_neo_round_trips_spike_counts_and_layout(quick_run):
    import quantities as pq

    block = quick_run.to_neo()
    protocol = quick_run.protocol
    assert [s.name for s in block.segments] == list(protocol["name"])
    counts = {}
    grid = quick_run.circuits.set_index("circuit")
    for seg, ph in zip(block.segments, protocol.itertuples()):
        assert seg.annotations["role"] == ph.role and seg.annotations["train"] == ph.train
        assert len(seg.spiketrains) == len(quick_run.neurons)
        for st in seg.spiketrains:
            assert st.units == pq.ms
            assert float(st.t_start) == ph.start_ms and float(st.t_stop) == ph.end_ms
            a = st.annotations
            assert (a["x"], a["y"]) == (grid.at[a["circuit"], "x"], grid.at[a["circuit"], "y"])
            counts[a["neuron"]] = counts.get(a["neuron"], 0) + len(st)
    want = quick_run.spikes["sender"].value_counts().to_dict()
    assert {n: c for n, c in counts.items() if c} == {int(k): v for k, v in want.items()}
    neuron_of = dict(zip(quick_run.neurons["neuron"], quick_run.neurons["circuit"]))
    assert all(st.annotations["circuit"] == neuron_of[st.annotations["neuron"]] for st in block.segments[0].spiketrains)


def test_to_neo_carries_the_traces(quick_run):
    block = quick_run.to_neo()
    tr = quick_run.neuron_traces
    n_samples = 0
    for seg in block.segments:
        sigs = {s.name: s for s in seg.analogsignals}
        if "u" not in sigs:
            continue
        u = sigs["u"]
        senders = list(u.array_annotations["sender"])
        n_samples += u.shape[0] * u.shape[1]
        t0 = float(u.times[0].rescale("ms"))
        first = tr[tr["time_ms"] == t0].set_index("sender")["u"]
        assert np.array_equal(np.asarray(u[0]).ravel(), first.loc[senders].to_numpy())
    assert n_samples == len(tr)
