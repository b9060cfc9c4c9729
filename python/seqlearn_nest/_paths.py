"""Where the installed package keeps its files, and the environment the CLI
binary needs to find NEST from this interpreter (no variables for the user
to set)."""

import importlib.util
import json
import os
import sysconfig
from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "_data"


class SeqlearnNestError(RuntimeError):
    """The package is not usable as installed (missing file, wrong NEST)."""


def _existing(path, what):
    if not path.is_file():
        raise SeqlearnNestError(
            f"{what} not found at {path}: seqlearn_nest is not installed from a wheel "
            "(pip install ./python builds one; see docs/python.md)"
        )
    return path


def module_path():
    """Absolute path of the bundled `seqlearnmodule.so`."""
    return _existing(PACKAGE_DIR / "_lib" / "seqlearnmodule.so", "the NEST module seqlearnmodule.so")


def binary_path():
    """Absolute path of the bundled `seqlearn-nest` CLI binary."""
    return _existing(PACKAGE_DIR / "_bin" / "seqlearn-nest", "the seqlearn-nest binary")


@lru_cache(maxsize=None)
def data(name):
    """A JSON file of `_data/` (parameter table, schema, model defaults, build info)."""
    return json.loads(_existing(DATA_DIR / name, f"package data {name}").read_text())


def nest_dir():
    """The `nest` package directory of this interpreter, found without importing it."""
    spec = importlib.util.find_spec("nest")
    if spec is None:
        want = data("build.json")["nest_version"]
        raise SeqlearnNestError(f"NEST is not installed in this Python: pip install nest-simulator=={want}")
    locs = list(spec.submodule_search_locations or [])
    return Path(locs[0] if locs else os.path.dirname(spec.origin))


def libpython():
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    name = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY") or ""
    return Path(libdir) / name


def cli_env(base=None):
    """The environment for the CLI: this interpreter's NEST kernel and
    libpython and the bundled module (a variable the user set wins)."""
    env = dict(os.environ if base is None else base)
    env.setdefault("SEQLEARN_NEST_MODULE", str(module_path()))
    try:
        env.setdefault("SEQLEARN_NEST_KERNEL", str(nest_dir() / "nestkernel_api.so"))
    except SeqlearnNestError:
        pass  # the native engine needs no NEST; the CLI explains a nest run
    env.setdefault("SEQLEARN_NEST_LIBPYTHON", str(libpython()))
    env.setdefault("OMP_WAIT_POLICY", "passive")
    return env
