"""seqlearn_nest: Klampfl & Maass (2013) soft-WTA sequence learning for
PyNEST users.

    import nest, seqlearn_nest
    seqlearn_nest.install()                      # the NEST module, no env vars
    nest.Create("seqlearn_wta_neuron", 3)        # also after nest.ResetKernel()
    help(seqlearn_nest.models.seqlearn_wta_neuron)

    run = seqlearn_nest.simulate("experiments/quickstart.toml")   # the CLI
    run = seqlearn_nest.load_run("runs/latest")  # typed pandas DataFrames
    block = run.to_neo()                         # neo.Block for Elephant

See docs/python.md.
"""

from . import models
from ._paths import SeqlearnNestError, binary_path, module_path
from .pynest import check_nest_version, install, is_installed, remove_reset_hook
from .rundir import Run, RunFormatError, load_run, read_table, schema
from .simulate import CLIError, UsageError, run_cli, simulate, to_toml

__all__ = [
    "CLIError",
    "Run",
    "RunFormatError",
    "SeqlearnNestError",
    "UsageError",
    "binary_path",
    "check_nest_version",
    "install",
    "is_installed",
    "load_run",
    "models",
    "module_path",
    "read_table",
    "remove_reset_hook",
    "run_cli",
    "schema",
    "simulate",
    "to_toml",
]
try:  # the wheel's version, which the build backend takes from Cargo.toml
    __version__ = __import__("importlib.metadata").metadata.version("seqlearn-nest")
except Exception:  # not installed (a source checkout on sys.path)
    __version__ = "unknown"
