"""The module in a running PyNEST kernel.

`install()` loads the bundled `seqlearnmodule.so` by absolute path (no
`LD_LIBRARY_PATH`/`LTDL_LIBRARY_PATH`), is idempotent, and, because NEST >= 3.7
unloads every module on `ResetKernel()`, hooks the reset: after a reset the
module is installed again, so `nest.ResetKernel(); nest.Create(
"seqlearn_wta_neuron")` keeps working.  The hook wraps the low-level call
every `ResetKernel` goes through (`nest.lib.hl_api_simulation.nestkernel.
llapi_reset_kernel`), so it also covers `from nest import ResetKernel`.
`install(reinstall_on_reset=False)` or `remove_reset_hook()` turn it off.

Resolution: the model is defined for 1 ms steps only (`dt_ms` in the
parameter table; circuits need min_delay = resolution).  So `install()` sets
the resolution to 1 ms (`resolution=None` leaves the kernel as it is), and the
reset hook does the same after every reset.
"""

import importlib.metadata

from ._paths import SeqlearnNestError, data, module_path

MODELS = ("seqlearn_wta_neuron", "seqlearn_stp_synapse")

_hook = {"installed": False, "original": None, "kernel_module": None, "resolution": 1.0}


def _nest():
    try:
        import nest
    except ImportError as e:
        want = data("build.json")["nest_version"]
        raise SeqlearnNestError(f"cannot import nest ({e}): pip install nest-simulator=={want}") from e
    return nest


def check_nest_version():
    """Raise `SeqlearnNestError` unless the installed NEST is the one the
    module was compiled against (its C++ ABI is only that wheel's)."""
    want = data("build.json")["nest_version"]
    try:
        have = importlib.metadata.version("nest-simulator")
    except importlib.metadata.PackageNotFoundError:
        have = getattr(_nest(), "__version__", None)
    if have != want:
        raise SeqlearnNestError(
            f"seqlearn_nest was built against nest-simulator=={want} but this Python has NEST {have}: "
            f"the module's C++ ABI matches only that version (pip install nest-simulator=={want}, "
            "or rebuild the wheel in this venv: pip install ./python)"
        )
    return have


def is_installed():
    """Whether the models are registered in the running kernel."""
    nest = _nest()
    return all(m in nest.node_models or m in nest.synapse_models for m in MODELS)


def _install_now(nest, resolution):
    if is_installed():
        return False
    if resolution is not None and nest.GetKernelStatus("resolution") != resolution:
        nest.SetKernelStatus({"resolution": float(resolution)})
    try:
        nest.Install(str(module_path()))
    except Exception as e:  # NEST raises its own exception classes
        raise SeqlearnNestError(
            f"nest.Install({module_path()}) failed: {e}. NEST refuses modules once nodes exist "
            "(install before Create, or after ResetKernel)."
        ) from e
    return True


def _kernel_module(nest):
    from nest.lib import hl_api_simulation

    return hl_api_simulation.nestkernel


def _add_reset_hook(nest):
    if _hook["installed"]:
        return
    kernel = _kernel_module(nest)
    original = kernel.llapi_reset_kernel

    def reset_and_reinstall(*args, **kwargs):
        result = original(*args, **kwargs)
        _install_now(nest, _hook["resolution"])
        return result

    reset_and_reinstall.__wrapped__ = original
    kernel.llapi_reset_kernel = reset_and_reinstall
    _hook.update(installed=True, original=original, kernel_module=kernel)


def remove_reset_hook():
    """Undo the re-install on `ResetKernel()` (then call `install()` after each reset)."""
    if _hook["installed"]:
        _hook["kernel_module"].llapi_reset_kernel = _hook["original"]
        _hook.update(installed=False, original=None, kernel_module=None)


def install(reinstall_on_reset=True, resolution=1.0):
    """Install `seqlearnmodule` into the running NEST kernel.

    Idempotent (a second call does nothing); returns True when it loaded the
    module now.  Checks the NEST version first (`SeqlearnNestError` on a
    mismatch).  With `reinstall_on_reset` (default) the module is installed
    again after every `nest.ResetKernel()`.  `resolution` (ms) is set
    before the models are registered (None: keep the kernel's).
    """
    check_nest_version()
    nest = _nest()
    _hook["resolution"] = resolution
    loaded = _install_now(nest, resolution)
    if reinstall_on_reset:
        _add_reset_hook(nest)
    else:
        remove_reset_hook()
    return loaded
