#!/usr/bin/env python3
"""Generate NEST 3.10 code from the NESTML models and compile it into a module.

Usage (with the project venv's python):

    python nestml-models/build_module.py [--out DIR] [--jobs N]

Writes DIR/seqlearnnestmlmodule.so (default DIR: nestml-models/build), with the
models ``seqlearn_wta_neuron_nestml`` and ``seqlearn_stp_synapse_nestml`` (the
suffix keeps them apart from the hand-written models of the same names, so both
modules can be installed into one kernel).  Prints the path of the .so last.

Why not NESTML's own builder: it runs cmake with the ``nest-config`` of the
NEST installation, and the nest-config of the PyPI wheel has baked build paths
that do not exist (see /work/shared/docs/nest-notes.md).  Code generation only
needs pynestml; the compile needs g++ and the headers the wheel ships, with the
flags the wheel's kernel requires (old libstdc++ string ABI, OpenMP).  This
script does exactly that and nothing else.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import hashlib
import importlib.metadata
import json
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_NAME = "seqlearnnestmlmodule"
SUFFIX = "_nestml"
SYNAPSE = "seqlearn_stp_synapse"
NEURON = "seqlearn_wta_neuron"

# NEST's Connection class owns weight and delay; NESTML must be told which
# model variables they are.
CODEGEN_OPTS = {
    "weight_variable": {SYNAPSE: "w"},
    "delay_variable": {SYNAPSE: "d"},
}


def nestml_files() -> list[str]:
    return sorted(glob.glob(os.path.join(HERE, "*.nestml")))


def nest_include_dir() -> str:
    """Headers shipped inside the nest-simulator wheel (found without importing nest)."""
    spec = importlib.util.find_spec("nest")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'nest' package is not installed in this interpreter")
    inc = os.path.join(list(spec.submodule_search_locations)[0], "include", "nest")
    if not os.path.isfile(os.path.join(inc, "nest_extension_interface.h")):
        raise RuntimeError(f"NEST headers not found in {inc}")
    return inc


def nest_version_tag() -> str:
    return "v" + importlib.metadata.version("nest-simulator")


def generate(target_dir: str, files: list[str] | None = None) -> None:
    """Run the NESTML toolchain (parse, validate, transform, generate) without its builder."""
    import pynestml.frontend.pynestml_frontend as fe

    # Code generation only: the builder would call cmake with the wheel's broken nest-config.
    fe.builder_from_target_name = lambda name, options=None: (None, options)
    opts = dict(CODEGEN_OPTS)
    opts["nest_version"] = nest_version_tag()
    errors = fe.generate_target(
        input_path=files or nestml_files(),
        target_platform="NEST",
        target_path=target_dir,
        logging_level="ERROR",
        module_name=MODULE_NAME,
        suffix=SUFFIX,
        codegen_opts=opts,
    )
    if errors:
        raise RuntimeError("NESTML reported errors during code generation (see the messages above)")


def compile_module(src_dir: str, out_so: str, jobs: int = 2) -> None:
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise RuntimeError(f"C++ compiler '{cxx}' not found (needed to build the NESTML module)")
    flags = [
        "-std=c++20",
        "-D_GLIBCXX_USE_CXX11_ABI=0",  # the wheel's kernel uses the old libstdc++ string ABI
        "-fopenmp",  # NEST's thread-id helper needs _OPENMP
        "-O2",
        "-DNDEBUG",
        "-fPIC",
        "-w",
        "-I" + nest_include_dir(),
        "-I" + src_dir,
    ]
    sources = sorted(glob.glob(os.path.join(src_dir, "*.cpp")))
    objs = [s[:-4] + ".o" for s in sources]

    def cc(pair):
        src, obj = pair
        r = subprocess.run([cxx, *flags, "-c", src, "-o", obj], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"compiling {os.path.basename(src)} failed:\n{r.stderr[-4000:]}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        list(ex.map(cc, zip(sources, objs)))
    # No NEST, libpython or libgomp on the link line: those symbols resolve
    # against the kernel, which PyNEST loads with RTLD_GLOBAL.
    r = subprocess.run([cxx, "-shared", "-fopenmp", *objs, "-o", out_so], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"linking {out_so} failed:\n{r.stderr[-4000:]}")


def build_key() -> str:
    """Hash of everything the module depends on: models, this script, tool versions, compiler."""
    h = hashlib.sha256()
    for f in nestml_files() + [os.path.abspath(__file__)]:
        h.update(os.path.basename(f).encode())
        with open(f, "rb") as fh:
            h.update(fh.read())
    for pkg in ("nestml", "nest-simulator"):
        h.update(f"{pkg}=={importlib.metadata.version(pkg)}".encode())
    h.update(os.environ.get("CXX", "g++").encode())
    return h.hexdigest()


def build(out_dir: str, jobs: int = 2, reuse: bool = False) -> str:
    """Generate and compile; with reuse, keep an existing module built from identical inputs."""
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    so = os.path.join(out_dir, MODULE_NAME + ".so")
    stamp = os.path.join(out_dir, "build-key.json")
    key = build_key()
    if reuse and os.path.isfile(so) and os.path.isfile(stamp):
        with open(stamp) as fh:
            if json.load(fh).get("key") == key:
                return so
    for f in (so, stamp):
        if os.path.exists(f):
            os.remove(f)
    src_dir = os.path.join(out_dir, "src")
    if os.path.isdir(src_dir):
        shutil.rmtree(src_dir)
    generate(src_dir)
    compile_module(src_dir, so, jobs)
    with open(stamp, "w") as fh:
        json.dump({"key": key}, fh)
    return so


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "build"), help="build directory")
    ap.add_argument("--jobs", type=int, default=2, help="parallel compiler processes")
    ap.add_argument("--reuse", action="store_true", help="keep a module built from identical inputs")
    args = ap.parse_args()
    so = build(args.out, args.jobs, args.reuse)
    print(so)
    return 0


if __name__ == "__main__":
    sys.exit(main())
