"""PyNEST integration: install(), ResetKernel, version check, docstrings."""

import nest
import pytest

import seqlearn_nest
from seqlearn_nest import models, pynest

nest.verbosity = nest.VerbosityLevel.ERROR


@pytest.fixture(autouse=True)
def fresh_kernel():
    seqlearn_nest.install()
    nest.ResetKernel()
    yield
    seqlearn_nest.install()  # (re-adds the hook a test removed)


def test_install_creates_the_models_and_is_idempotent():
    assert seqlearn_nest.install() is False  # already there after the reset hook
    nodes = nest.Create("seqlearn_wta_neuron", 3)
    assert len(nodes) == 3 and nodes.get("model")[0] == "seqlearn_wta_neuron"
    assert "seqlearn_stp_synapse" in nest.synapse_models
    assert seqlearn_nest.install() is False  # nodes exist: must not try again


def test_the_module_survives_reset_kernel():
    nest.Create("seqlearn_wta_neuron", 2)
    nest.ResetKernel()
    assert len(nest.Create("seqlearn_wta_neuron", 3)) == 3
    from nest import ResetKernel  # a bound name goes through the same hook

    ResetKernel()
    nest.SetKernelStatus({"local_num_threads": 2, "resolution": 1.0})
    assert len(nest.Create("seqlearn_wta_neuron", 4)) == 4


def test_without_the_hook_reset_unloads_the_module():
    pynest.remove_reset_hook()
    nest.ResetKernel()
    assert not seqlearn_nest.is_installed()
    with pytest.raises(Exception):
        nest.Create("seqlearn_wta_neuron", 1)
    assert seqlearn_nest.install(reinstall_on_reset=False) is True
    assert len(nest.Create("seqlearn_wta_neuron", 1)) == 1


def test_a_tiny_circuit_simulates():
    assert nest.GetKernelStatus("resolution") == 1.0  # set by install() / the reset hook
    nest.SetKernelStatus({"rng_seed": 3})
    wta = nest.Create("seqlearn_wta_neuron", 2, params={"circuit_size": 2, "n_incoming": 0})
    for k in range(2):
        wta[k].circuit_index = k
    for a, b in ((0, 1), (1, 0)):
        nest.Connect(wta[a], wta[b], syn_spec={"synapse_model": "rate_connection_instantaneous", "receptor_type": a})
    rec = nest.Create("spike_recorder")
    nest.Connect(wta, rec)
    nest.Simulate(1000.0)
    n = rec.get("n_events")
    # two neurons sharing r_max = 100 Hz for 1 s: about 100 spikes in all
    assert 50 < n < 160, n


def test_version_mismatch_is_a_clear_error(monkeypatch):
    real = pynest.data

    def fake(name):
        return {"nest_version": "3.9.0"} if name == "build.json" else real(name)

    monkeypatch.setattr(pynest, "data", fake)
    with pytest.raises(seqlearn_nest.SeqlearnNestError, match=r"nest-simulator==3\.9\.0.*NEST 3\.10\.0"):
        seqlearn_nest.install()


def test_docstrings_follow_the_table_and_the_cpp():
    table = seqlearn_nest._paths.data("parameters.json")
    for model in models.MODEL_NAMES:
        cls = getattr(models, model)
        doc = cls.__doc__
        keys = [p["nest"][1] for p in table if p["nest"] and models._NEST_MODEL[p["nest"][0]] == model]
        assert keys, model
        for key in keys:
            assert f"  {key} (" in doc, (model, key)
        live = nest.GetDefaults(model)
        for key, p in cls.parameters.items():
            assert live[key] == p["default"], (model, key, live[key], p["default"])
        assert list(live.get("recordables", [])) == cls.recordables
    assert "u" in models.seqlearn_wta_neuron.recordables
    assert "Recordables" in models.seqlearn_wta_neuron.__doc__
