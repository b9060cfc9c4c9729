"""Docstrings of the NEST models, generated from the parameter table the
C++ is generated from (`src/model/params.rs` -> `cpp/seqlearn_parameters.h`
and `_data/parameters.json`) and from the models' own `GetDefaults`
(recordables, defaults) read from the built module when the wheel was built
(`_data/models.json`).

    help(seqlearn_nest.models.seqlearn_wta_neuron)
    seqlearn_nest.models.seqlearn_wta_neuron.parameters["tau_decay"]["unit"]  # 'ms'
"""

from ._paths import data


def _range(p):
    if p["choices"]:
        return " | ".join(p["choices"])
    r = p["range"]
    if isinstance(r, dict):
        return f"= {r['exactly']}"
    return {"any": "any", "positive": "> 0", "non_negative": ">= 0"}.get(r, str(r))


_NEST_MODEL = {"neuron": "seqlearn_wta_neuron", "synapse": "seqlearn_stp_synapse"}


def parameters(model):
    """{status key: {unit, default, range, doc, config_key}} of one NEST model."""
    defaults = data("models.json").get(model, {})
    out = {}
    for p in data("parameters.json"):
        if not p["nest"] or _NEST_MODEL[p["nest"][0]] != model:
            continue
        key = p["nest"][1]
        out[key] = {
            "unit": p["unit"],
            "default": defaults.get(key, p["default"]),
            "range": _range(p),
            "doc": p["doc"],
            "config_key": f"model.{p['key']}" if p["key"] else None,
        }
    return out


def recordables(model):
    """The model's recordables, as its `GetDefaults` lists them."""
    return list(data("models.json").get(model, {}).get("recordables", []))


def docstring(model):
    """The help text of one model."""
    lines = [f"NEST model `{model}` of seqlearnmodule (install with seqlearn_nest.install()).", ""]
    lines.append("Parameters (status keys; unit, default, allowed range, experiment-file key):")
    for key, p in parameters(model).items():
        unit = p["unit"] or "-"
        cfg = f"  [{p['config_key']}]" if p["config_key"] else ""
        lines.append(f"  {key} ({unit}, default {p['default']!r}, {p['range']}){cfg}")
        lines.append(f"      {p['doc']}")
    rec = recordables(model)
    if rec:
        lines += ["", "Recordables (multimeter record_from): " + ", ".join(rec)]
    return "\n".join(lines) + "\n"


def _model_class(model):
    return type(model, (), {
        "__doc__": docstring(model),
        "__module__": __name__,
        "name": model,
        "parameters": parameters(model),
        "recordables": recordables(model),
    })


MODEL_NAMES = ("seqlearn_wta_neuron", "seqlearn_stp_synapse")
_classes = {}


def __getattr__(name):
    # built on first use: the data files exist only in an installed wheel
    if name in MODEL_NAMES:
        if name not in _classes:
            _classes[name] = _model_class(name)
        return _classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(MODEL_NAMES))
