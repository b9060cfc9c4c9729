"""Run directories (docs/formats.md) as typed pandas DataFrames.

Every table is read by the schema the Rust writers use
(`_data/formats.schema.json`, generated from `src/rundir/schema.rs`), with the
same reading rule: columns by header name (order free, extra columns
dropped), every schema column present, empty cells only where nullable,
`bool` cells `true`/`false`, `enum` cells one of the listed words.  A file that
breaks it raises `RunFormatError` naming the file, the line and the column.

dtypes: uint -> uint64 (nullable: UInt64), float -> float64 (empty: NaN),
bool -> bool, enum -> category with the schema's values, str -> string.
Units are in `df.attrs["units"]` (column -> unit, None for ids and words).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ._paths import data

# files every `simulate` run writes; the recordings and the analysis tables
# may be absent (nothing recorded, `--no-analysis`): then their attribute is None
REQUIRED_SECTIONS = ("network", "activity")


class RunFormatError(ValueError):
    """A run-directory file does not match the schema."""

    def __init__(self, file, message, column=None, line=None):
        where = f"{file}"
        if line is not None:
            where += f": line {line}"
        if column is not None:
            where += f": column '{column}'"
        super().__init__(f"{where}: {message}")
        self.file, self.column, self.line = file, column, line


def schema():
    """The run-directory schema: {file name: file spec} in docs order."""
    return {f["name"]: f for f in data("formats.schema.json")["files"]}


def _first_bad(file, col, strings, bad, what):
    idx = int(np.flatnonzero(np.asarray(bad))[0])
    raise RunFormatError(file, f"{what}, got '{strings.iloc[idx]}'", column=col, line=idx + 2)


def _convert(file, spec, s):
    """One column of strings -> its typed Series (or RunFormatError)."""
    col, kind, nullable = spec["name"], spec["type"], spec["nullable"]
    empty = (s == "").to_numpy()
    if not nullable and empty.any():
        _first_bad(file, col, s, empty, "empty cell in a column that may not be empty")
    if kind == "uint":
        ok = s.str.fullmatch(r"[0-9]+").to_numpy() | empty
        if not ok.all():
            _first_bad(file, col, s, ~ok, "expected a non-negative integer")
        if nullable:
            return pd.array([None if e else int(v) for v, e in zip(s, empty)], dtype="UInt64")
        return s.astype("uint64")
    if kind == "float":
        num = pd.to_numeric(s.where(~empty, None), errors="coerce")
        bad = num.isna().to_numpy() & ~empty
        if bad.any():
            _first_bad(file, col, s, bad, "expected a number")
        return num.astype("float64")
    if kind == "bool":
        ok = s.isin(["true", "false"]).to_numpy() | (empty & nullable)
        if not ok.all():
            _first_bad(file, col, s, ~ok, "expected true or false")
        if nullable:
            return pd.array([None if e else v == "true" for v, e in zip(s, empty)], dtype="boolean")
        return s == "true"
    if kind == "enum":
        values = spec["values"]
        ok = s.isin(values).to_numpy() | (empty & nullable)
        if not ok.all():
            _first_bad(file, col, s, ~ok, f"expected one of {', '.join(values)}")
        return pd.Categorical(s.where(~empty, None), categories=values)
    if kind == "str":
        return s.astype("string")
    raise RunFormatError(file, f"unknown schema type '{kind}'", column=col)


_FAST = {"uint": "uint64", "float": "float64"}


def _read_typed(path, spec):
    """Fast path: pandas' C parser with the schema's numeric dtypes for the
    non-nullable numbers.  None when it fails or a check fails: then the
    string path finds and names the offending cell."""
    numeric = {c["name"]: _FAST[c["type"]] for c in spec["columns"] if not c["nullable"] and c["type"] in _FAST}
    try:
        head = pd.read_csv(path, nrows=0).columns
        if any(c["name"] not in head for c in spec["columns"]):
            return None
        dtypes = {h: numeric.get(h, str) for h in head}
        raw = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_filter=False)
    except (ValueError, OverflowError, TypeError, pd.errors.ParserError, UnicodeDecodeError, FileNotFoundError):
        return None
    cols = {}
    for c in spec["columns"]:
        s = raw[c["name"]]
        if c["name"] in numeric:
            cols[c["name"]] = s
        else:
            try:
                cols[c["name"]] = _convert(path.name, c, s)
            except RunFormatError:
                return None
    df = pd.DataFrame(cols)
    df.attrs["file"] = path.name
    df.attrs["units"] = {c["name"]: c["unit"] for c in spec["columns"]}
    return df


def read_table(path, spec=None):
    """One schema file as a typed DataFrame (columns in schema order)."""
    path = Path(path)
    spec = spec or schema().get(path.name)
    if spec is None:
        raise RunFormatError(path.name, f"not a run-directory file (known: {', '.join(schema())})")
    typed = _read_typed(path, spec)
    if typed is not None:
        return typed
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except FileNotFoundError:
        raise RunFormatError(path.name, f"missing (expected in {path.parent})") from None
    except pd.errors.EmptyDataError:
        raise RunFormatError(path.name, "empty file: no header row", line=1) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise RunFormatError(path.name, f"not a CSV table: {e}") from None
    names = [c["name"] for c in spec["columns"]]
    missing = [n for n in names if n not in raw.columns]
    if missing:
        raise RunFormatError(
            path.name, f"missing column (header has: {', '.join(raw.columns)})", column=missing[0], line=1
        )
    df = pd.DataFrame({c["name"]: _convert(path.name, c, raw[c["name"]]) for c in spec["columns"]})
    df.attrs["file"] = path.name
    df.attrs["units"] = {c["name"]: c["unit"] for c in spec["columns"]}
    return df


def _attr(file_name):
    return file_name.removesuffix(".csv")


class Run:
    """A loaded run directory.

    Attributes: one DataFrame per file of docs/formats.md, named after it
    (`spikes`, `input_spikes`, `phases`, `protocol`, `patterns`, `circuits`,
    `neurons`, `sources`, `circuit_pairs`, `synapses`, `neuron_traces`,
    `synapse_traces`, `readout`, `readout_output`, `ordering`,
    `assemblies`; None for an absent optional file), `summary` (dict of
    summary.json), `analysis` (dict of analysis.json or None), `path`.
    """

    def __init__(self, path, tables, summary, analysis):
        self.path = Path(path)
        self.tables = tables
        self.summary = summary
        self.analysis = analysis
        for name, df in tables.items():
            setattr(self, _attr(name), df)

    def __repr__(self):
        present = [f"{_attr(n)}[{len(df)}]" for n, df in self.tables.items() if df is not None]
        return f"Run({str(self.path)!r}: {', '.join(present)})"

    def to_neo(self, traces=True):
        """The run as a `neo.Block` (see `seqlearn_nest.neo_export`)."""
        from .neo_export import to_neo

        return to_neo(self, traces=traces)


def _read_json(path, required):
    if not path.is_file():
        if required:
            raise RunFormatError(path.name, f"missing (expected in {path.parent})")
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise RunFormatError(path.name, f"not valid JSON: {e}") from None


def load_run(path):
    """Read a run directory written by `seqlearn-nest simulate`.

    Raises `RunFormatError` (naming file, line and column) for a missing
    required file or one that does not match the schema.
    """
    path = Path(path)
    if not path.is_dir():
        raise RunFormatError(str(path), "not a run directory (no such directory)")
    tables = {}
    for name, spec in schema().items():
        file = path / name
        if not file.exists() and spec["section"] not in REQUIRED_SECTIONS:
            tables[name] = None
            continue
        tables[name] = read_table(file, spec)
    summary = _read_json(path / "summary.json", required=True)
    analysis = _read_json(path / "analysis.json", required=False)
    return Run(path, tables, summary, analysis)
