"""Running the shipped CLI from Python."""

import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ._paths import binary_path, cli_env
from .rundir import load_run

# simulate(**overrides) -> the CLI's override flags
OVERRIDES = {
    "seed": "--seed",
    "grid": "--grid",
    "k_min": "--k-min",
    "k_max": "--k-max",
    "inputs": "--inputs",
    "train": "--train",
    "test": "--test",
}


class CLIError(RuntimeError):
    """The CLI failed; `message` is its error text, `returncode` its exit code."""

    def __init__(self, message, returncode, args):
        super().__init__(message)
        self.message, self.returncode, self.args_ = message, returncode, args


class UsageError(CLIError, ValueError):
    """Exit code 2: bad input (config key or value, file, flag)."""


def _toml_value(v, where):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if not isinstance(v, float) or v == v else "nan"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x, where) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x, where)}" for k, x in v.items() if x is not None) + " }"
    if hasattr(v, "item"):  # numpy scalar
        return _toml_value(v.item(), where)
    raise TypeError(f"config key '{where}': cannot write a {type(v).__name__} to TOML")


def _toml_key(k):
    k = str(k)
    return k if k.replace("_", "").replace("-", "").isalnum() else _toml_value(k, k)


def to_toml(config, prefix=""):
    """A config dict (as in summary.json's `config`) as TOML text; None values are left out."""
    scalars, tables, arrays = [], [], []
    for k, v in config.items():
        name = f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k)
        if v is None:
            continue
        if isinstance(v, dict):
            tables.append((name, v))
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, dict) for x in v):
            arrays.append((name, v))
        else:
            scalars.append(f"{_toml_key(k)} = {_toml_value(v, name)}")
    text = "\n".join(scalars) + ("\n" if scalars else "")
    for name, v in tables:
        text += f"\n[{name}]\n" + to_toml(v, name)
    for name, items in arrays:
        for item in items:
            text += f"\n[[{name}]]\n" + to_toml(item, name)
    return text


def _flags(overrides):
    flags = []
    for key, value in overrides.items():
        if key not in OVERRIDES:
            raise TypeError(f"simulate(): unknown override '{key}' (allowed: {', '.join(OVERRIDES)})")
        if value is None:
            continue
        if key == "grid" and not isinstance(value, str):
            value = "x".join(str(int(v)) for v in value)
        flags += [OVERRIDES[key], str(value)]
    return flags


def _pump(src, sink, keep):
    for line in iter(src.readline, ""):
        keep.append(line)
        sink.write(line)
        sink.flush()
    src.close()


def run_cli(args, stream=True):
    """Run `seqlearn-nest ARGS`, echoing its output line by line (stdout to
    sys.stdout, stderr to sys.stderr, so it shows in Jupyter too); returns
    (stdout, stderr); raises UsageError (exit 2) or CLIError."""
    exe = str(binary_path())
    env = cli_env()
    if stream:
        env.setdefault("SEQLEARN_PROGRESS", "lines")
    proc = subprocess.Popen([exe, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, bufsize=1)
    out, err = [], []
    null = open(os.devnull, "w")
    threads = [
        threading.Thread(target=_pump, args=(proc.stdout, sys.stdout if stream else null, out), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, sys.stderr if stream else null, err), daemon=True),
    ]
    for t in threads:
        t.start()
    code = proc.wait()
    for t in threads:
        t.join()
    null.close()
    if code != 0:
        text = "".join(err).strip()
        # the CLI's error: from its first "error: " line to the end
        start = text.find("error: ")
        message = text[start + len("error: "):] if start >= 0 else text
        cls = UsageError if code == 2 else CLIError
        raise cls(message or f"seqlearn-nest exited with code {code}", code, args)
    return "".join(out), "".join(err)


def simulate(config=None, backend="native", out=None, *, threads=1, exact_threads=False, force=False, analysis=True,
             stream=True, **overrides):
    """Run `seqlearn-nest simulate` and return the loaded run (`load_run`).

    config: path of an experiment TOML, a dict of the same structure (written
        to a temporary TOML file), or None for the paper's defaults.
    backend: "native", "nest" or "auto".
    threads: NEST threads; a run uses at most one per free core (the result
        does not depend on it) unless exact_threads.
    out: run directory (default: a new temporary directory, kept).
    overrides: seed, grid ((n, m) or "NxM"), k_min, k_max, inputs, train, test
        (the CLI's flags).
    Progress and messages are streamed to sys.stderr; a bad config raises
    UsageError with the CLI's message.
    """
    args = ["simulate", "--backend", str(backend), "--threads", str(threads)]
    tmp = None
    if isinstance(config, dict):
        tmp = tempfile.NamedTemporaryFile("w", suffix=".toml", prefix="seqlearn-config-", delete=False)
        tmp.write(to_toml(config))
        tmp.close()
        args += ["--config", tmp.name]
    elif config is not None:
        args += ["--config", str(Path(config))]
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="seqlearn-run-")) / "run"
    args += ["--out", str(out)]
    if exact_threads:
        args.append("--exact-threads")
    if force:
        args.append("--force")
    if not analysis:
        args.append("--no-analysis")
    args += _flags(overrides)
    try:
        run_cli(args, stream=stream)
    finally:
        if tmp is not None:
            os.unlink(tmp.name)
    return load_run(out)
