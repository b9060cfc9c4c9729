"""PEP 517 build backend of the `seqlearn_nest` wheel: drives cargo.

Why an in-tree backend rather than maturin or scikit-build-core: the wheel is
built from the cargo project one directory up (the same `cargo build
--release` the rest of the project uses, so a built tree is reused as is), it
must carry a file cargo's build script writes into its `OUT_DIR`
(`seqlearnmodule.so`, compiled against the NEST wheel's ABI) next to the CLI
binary, and it needs no build-time download.  Standard library only.

The wheel holds:
  seqlearn_nest/*.py                  the Python package (python/seqlearn_nest)
  seqlearn_nest/_bin/seqlearn-nest    the CLI binary
  seqlearn_nest/_lib/seqlearnmodule.so  the NEST extension module
  seqlearn_nest/_data/parameters.json the model parameter table (src/model/params.rs)
  seqlearn_nest/_data/formats.schema.json  the run-directory schema (src/rundir/schema.rs)
  seqlearn_nest/_data/models.json     GetDefaults of the module's models, read from
                                      the built module in the NEST that built it
  seqlearn_nest/_data/build.json      NEST version and interpreter it was built for

Environment: `SEQLEARN_PYTHON` names the interpreter that has
`nest-simulator` (default: `<repo>/.venv/bin/python`, else `python3`, the same
search as build.rs); `CARGO` the cargo binary.
"""

import base64
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYROOT = HERE.parent  # python/
REPO = PYROOT.parent  # the cargo project
NAME = "seqlearn_nest"

_QUERY = r"""
import json, sys, sysconfig, importlib.metadata as md
import nest
nest.verbosity = nest.VerbosityLevel.ERROR
nest.Install(sys.argv[1])
models = {m: dict(nest.GetDefaults(m)) for m in ("seqlearn_wta_neuron", "seqlearn_stp_synapse")}
print(json.dumps({
    "models": models,
    "build": {
        "nest_version": md.version("nest-simulator"),
        "python_tag": "cp%d%d" % sys.version_info[:2],
        "python_requires": "==%d.%d.*" % sys.version_info[:2],
        "platform": sysconfig.get_platform().replace("-", "_").replace(".", "_"),
    },
}, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
"""


def _version():
    text = (REPO / "Cargo.toml").read_text()
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not m:
        raise RuntimeError("seqlearn_build: no version in Cargo.toml")
    return m.group(1)


def _nest_python():
    """The interpreter whose NEST the module is compiled against: as build.rs
    (SEQLEARN_PYTHON, else the repository's .venv), else the interpreter pip
    runs this backend with (the target venv, which has nest-simulator)."""
    if os.environ.get("SEQLEARN_PYTHON"):
        return os.environ["SEQLEARN_PYTHON"]
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _child_env():
    """The environment for cargo and NEST: without pip's build-isolation
    overlay (its PYTHONPATH sitecustomize hides the venv's site-packages,
    and so `nest`, from every Python started below)."""
    env = dict(os.environ)
    if "pip-build-env" in env.get("PYTHONPATH", ""):
        env.pop("PYTHONPATH")
        env.pop("PYTHONNOUSERSITE", None)
    if not (REPO / ".venv" / "bin" / "python").exists():
        env.setdefault("SEQLEARN_PYTHON", _nest_python())
    return env


def _cargo_build():
    """`cargo build --release`; returns (binary, module) paths."""
    if not (REPO / "Cargo.toml").is_file():
        raise RuntimeError(f"seqlearn_build: {REPO} is not the seqlearn-nest cargo project; build the wheel from a checkout")
    # SEQLEARN_REQUIRE_NEST is not set and SEQLEARN_PYTHON only without a
    # project .venv: build.rs reruns (and recompiles the module) whenever they
    # change, which would rebuild a tree `cargo build` just built.
    env = _child_env()
    cmd = [os.environ.get("CARGO", "cargo"), "build", "--release", "--message-format=json-render-diagnostics"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"seqlearn_build: `{' '.join(cmd)}` failed (exit {proc.returncode}); see the messages above")
    binary = module = None
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        pkg = msg.get("package_id", "")
        if "seqlearn-nest" not in pkg and "seqlearn_nest" not in pkg:
            continue
        if msg.get("reason") == "build-script-executed":
            so = Path(msg["out_dir"]) / "seqlearnmodule.so"
            if so.is_file():
                module = so
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            if msg["target"]["name"] == "seqlearn-nest":
                binary = Path(msg["executable"])
    if binary is None:
        raise RuntimeError("seqlearn_build: cargo did not report the seqlearn-nest binary")
    if module is None:
        raise RuntimeError(
            "seqlearn_build: build.rs did not build seqlearnmodule.so (NEST not found: see its warning above; "
            f"the wheel needs nest-simulator in {_nest_python()} or SEQLEARN_PYTHON, and libboost-dev libltdl-dev)"
        )
    return binary, module


def _query_nest(module):
    py = _nest_python()
    env = _child_env()
    env.setdefault("OMP_WAIT_POLICY", "passive")
    proc = subprocess.run([py, "-c", _QUERY, str(module)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"seqlearn_build: {py} could not load {module} into NEST:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _metadata(version, build):
    return "\n".join([
        "Metadata-Version: 2.1",
        "Name: seqlearn-nest",
        f"Version: {version}",
        "Summary: Klampfl & Maass (2013) soft-WTA sequence learning: NEST module, CLI, run directories as pandas/Neo",
        "License: MIT",
        f"Requires-Python: {build['python_requires']}",
        f"Requires-Dist: nest-simulator=={build['nest_version']}",
        "Requires-Dist: numpy",
        "Requires-Dist: pandas",
        "Requires-Dist: neo",
        "Requires-Dist: quantities",
        "Provides-Extra: elephant",
        "Requires-Dist: elephant; extra == 'elephant'",
        "Provides-Extra: notebook",
        "Requires-Dist: matplotlib; extra == 'notebook'",
        "Requires-Dist: nbclient; extra == 'notebook'",
        "Requires-Dist: nbformat; extra == 'notebook'",
        "Requires-Dist: ipykernel; extra == 'notebook'",
        "",
        "See docs/python.md of the seqlearn-nest repository.",
        "",
    ])


def _stripped(binary):
    """The binary without its debug info (the release profile keeps it for
    profiling; the wheel does not need it), if `strip` exists."""
    import shutil
    import tempfile

    if not shutil.which("strip"):
        return binary.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / binary.name
        subprocess.run(["strip", "--strip-debug", "-o", str(dst), str(binary)], check=True)
        return dst.read_bytes()


def _files(binary, module, info):
    """(arcname, bytes, executable) of the package."""
    out = []
    for src in sorted((PYROOT / NAME).rglob("*")):
        if src.is_file() and "__pycache__" not in src.parts and src.suffix in (".py", ".json", ".md"):
            out.append((f"{NAME}/{src.relative_to(PYROOT / NAME).as_posix()}", src.read_bytes(), False))
    out.append((f"{NAME}/_bin/seqlearn-nest", _stripped(binary), True))
    out.append((f"{NAME}/_lib/seqlearnmodule.so", module.read_bytes(), True))
    out.append((f"{NAME}/_data/formats.schema.json", (REPO / "docs/formats.schema.json").read_bytes(), False))
    out.append((f"{NAME}/_data/models.json", json.dumps(info["models"], indent=1, sort_keys=True).encode(), False))
    out.append((f"{NAME}/_data/build.json", json.dumps(info["build"], indent=1, sort_keys=True).encode(), False))
    return out


def _tag(build):
    return f"{build['python_tag']}-{build['python_tag']}-{build['platform']}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    binary, module = _cargo_build()
    info = _query_nest(module)
    version = _version()
    tag = _tag(info["build"])
    dist_info = f"seqlearn_nest-{version}.dist-info"
    files = _files(binary, module, info)
    files.append((f"{dist_info}/METADATA", _metadata(version, info["build"]).encode(), False))
    files.append((f"{dist_info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: seqlearn_build\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(), False))
    files.append((f"{dist_info}/entry_points.txt", b"[console_scripts]\nseqlearn-nest = seqlearn_nest._cli:main\n", False))
    wheel_name = f"seqlearn_nest-{version}-{tag}.whl"
    path = Path(wheel_directory) / wheel_name
    record = [_record_line(a, d) for a, d, _ in files] + [f"{dist_info}/RECORD,,"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data, executable in files:
            zi = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            zi.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
        zf.writestr(zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)), "\n".join(record) + "\n")
    print(f"seqlearn_build: wrote {path}", file=sys.stderr)
    return wheel_name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError(
        "seqlearn_build: no sdist: the wheel is built from the whole cargo project "
        "(pip install ./python from a checkout, or pip wheel ./python)"
    )
