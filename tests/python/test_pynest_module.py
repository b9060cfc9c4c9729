#!/usr/bin/env python3
"""Tests of seqlearnmodule.so from PyNEST against a hand computation.

Run:  .venv/bin/python tests/python/test_pynest_module.py [path/to/seqlearnmodule.so]

The module path comes from the argument, else env SEQLEARN_NEST_MODULE, else
the newest target/*/build/seqlearn-nest-*/out/seqlearnmodule.so (built by
`cargo build`).  Exits non-zero on the first failure.

The reference below re-implements docs/model.md sections 2-4 step by step in
plain Python, directly from the formulas (u = b + sum w*Y computed from the
traces, not from the module's one-step prediction), so it checks the module's
time conventions (two-step spike latency, lagged STP amplitude, drifting U,
resets) and its zero-lag circuit normalisation.
"""

import glob
import math
import os
import sys

import nest

nest.verbosity = nest.VerbosityLevel.ERROR

DT = 1.0
EPS = sys.float_info.epsilon
REL_TOL = 1e-11


def module_path():
    if len(sys.argv) > 1:
        return os.path.abspath(sys.argv[1])
    env = os.environ.get("SEQLEARN_NEST_MODULE")
    if env:
        return os.path.abspath(env)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found = glob.glob(os.path.join(root, "target", "*", "build", "seqlearn-nest-*", "out", "seqlearnmodule.so"))
    if not found:
        sys.exit("seqlearnmodule.so not found: run `cargo build` or pass its path / set SEQLEARN_NEST_MODULE")
    return max(found, key=os.path.getmtime)


MODULE = module_path()


def close(a, b, what):
    if not (abs(a - b) <= REL_TOL * (1.0 + max(abs(a), abs(b)))):
        raise AssertionError(f"{what}: module {a!r} != reference {b!r}")


def close_vec(a, b, what):
    a = list(a)
    b = list(b)
    if len(a) != len(b):
        raise AssertionError(f"{what}: length {len(a)} != {len(b)}")
    for i, (x, y) in enumerate(zip(a, b)):
        close(x, y, f"{what}[{i}]")


# ----------------------------------------------------------------- scenario
# Circuit of K = 2 neurons.  Sources: 3 input channels, and neuron 0 projects
# to neuron 1 (recurrent synapse with realistic STP parameters).
T = 60  # steps
INPUT_SPIKES = {0: [1, 2, 3, 9, 20, 41], 1: [0, 5, 6, 27, 33, 34], 2: [12, 13, 14, 15, 44]}
INPUT_STP = {0: (1.0, 1.0, 1.0), 1: (0.45, 110.0, 5.0), 2: (0.3, 40.0, 12.0)}  # U, D, F
REC_STP = (0.55, 80.0, 6.0)
FORCED = {0: [4, 8, 10, 16, 22, 28, 35, 37, 46, 50], 1: [7, 11, 18, 30, 31, 43, 52]}
RESETS = [30]  # native step of a reset
W0 = {0: [0.2, -0.4, 0.1], 1: [-0.3, 0.5, 0.05, 0.7]}  # slot order: inputs 0,1,2 [, neuron 0]


def sources_of(k):
    """(kind, index, (U, D, F)) of each slot of neuron k."""
    s = [("input", c, INPUT_STP[c]) for c in range(3)]
    if k == 1:
        s.append(("neuron", 0, REC_STP))
    return s


def reference(cfg, set_e=None, snapshot_at=None):
    """Native model, step by step.  Returns per-step u, rho and final state.

    set_e = (t, k, value): before step t, neuron k's traces e are set to
    value (what a status write between two runs does); snapshot_at = t: the
    traces e, f of both neurons as of the end of step t - 1."""
    vt, bias_on, variant = cfg["variance_tracking"], cfg["bias_learning"], cfg["variant"]
    eta, tau_d, tau_r = 0.05, 20.0, 2.0
    kd, kr = DT / tau_d, DT / tau_r
    resets = set(RESETS)
    neurons = []
    for k in range(2):
        src = sources_of(k)
        n = len(src)
        neurons.append(
            dict(
                w=list(W0[k]), e=[0.0] * n, f=[0.0] * n, S=[0.0] * n, Q=[1.0] * n,
                b=0.0, bS=0.0, bQ=1.0, n_train=0, pending=[0.0] * n,
                stp=[dict(U=p[0], D=p[1], F=p[2], s=p[0], R=1.0, last=-1) for (_, _, p) in src],
                src=src, rec=[],
            )
        )
    us, rhos = [], []

    def stp_send(syn, ts):
        past = [r for r in RESETS if syn["last"] < r <= ts]
        if past:
            syn["R"] = 1.0
            if variant == "tsodyks_markram":
                syn["s"] = syn["U"]
            syn["last"] = max(past) - 1
        isi = (ts - syn["last"] - 1) * DT
        A = 1.0 if variant == "off" else syn["R"] * syn["s"]
        s, R, U = syn["s"], syn["R"], syn["U"]
        if variant == "original":
            R2 = 1.0 + (R - R * s - 1.0) * math.exp(-isi / (syn["D"] + EPS))
            s2 = s + s * (1.0 - s) * math.exp(-isi / (syn["F"] + EPS))
            syn["R"], syn["s"], syn["U"] = R2, s2, s2
        elif variant == "tsodyks_markram":
            s2 = U + s * (1.0 - U) * math.exp(-isi / (syn["F"] + EPS))
            syn["R"] = 1.0 + (R - R * s2 - 1.0) * math.exp(-isi / (syn["D"] + EPS))
            syn["s"] = s2
        syn["last"] = ts
        return A

    snapshot = None
    for t in range(T):
        if snapshot_at == t:
            snapshot = [list(nd["e"]) + list(nd["f"]) for nd in neurons]
        if set_e is not None and set_e[0] == t:
            neurons[set_e[1]]["e"] = [set_e[2]] * len(neurons[set_e[1]]["e"])
        # traces: spikes of step t-1 arrive now, or reset
        for nd in neurons:
            for j in range(len(nd["w"])):
                a = nd["pending"][j]
                nd["pending"][j] = 0.0
                if t in resets:
                    nd["e"][j] = 0.0
                    nd["f"][j] = 0.0
                else:
                    nd["e"][j] += a - nd["e"][j] * kd
                    nd["f"][j] += a - nd["f"][j] * kr
        Y = [[nd["e"][j] - nd["f"][j] for j in range(len(nd["w"]))] for nd in neurons]
        for k, nd in enumerate(neurons):
            if t % 5 == 0:
                for j in (0, len(nd["w"]) - 1):
                    nd["rec"].append((float(t), j, nd["w"][j], Y[k][j]))
        u = [nd["b"] + sum(nd["w"][j] * Y[k][j] for j in range(len(nd["w"]))) for k, nd in enumerate(neurons)]
        m = max(u)
        z = sum(math.exp(x - m) for x in u)
        rho = [math.exp(x - m) / z for x in u]
        us.append(u)
        rhos.append(rho)
        spiked = [t in FORCED[k] for k in range(2)]
        # learning
        for k, nd in enumerate(neurons):
            nd["n_train"] += 1
            if spiked[k]:
                for j in range(len(nd["w"])):
                    Sj, Qj = nd["S"][j], nd["Q"][j]
                    eta_kj = eta * (Qj - Sj * Sj) / (math.exp(-Sj) + 1.0) if vt else eta / nd["n_train"]
                    P = math.exp(nd["w"][j])
                    nd["w"][j] += eta_kj * (Y[k][j] - P) / max(P, eta_kj)
                    if vt:
                        w = nd["w"][j]
                        nd["S"][j] += eta_kj * (w - Sj)
                        nd["Q"][j] += eta_kj * (w * w - Qj)
            if bias_on:
                Z = 1.0 if spiked[k] else 0.0
                eta0 = eta * (nd["bQ"] - nd["bS"] ** 2) / (math.exp(-nd["bS"]) + 1.0) if vt else eta / nd["n_train"]
                P = math.exp(nd["b"])
                nd["b"] += eta0 * (Z - P) / max(P, eta0)
                if vt:
                    b = nd["b"]
                    nd["bS"] += eta0 * (b - nd["bS"])
                    nd["bQ"] += eta0 * (b * b - nd["bQ"])
        # spikes of step t go through the synapses, arrive at t+1
        for nd in neurons:
            for j, (kind, idx, _) in enumerate(nd["src"]):
                fired = (t in INPUT_SPIKES[idx]) if kind == "input" else spiked[idx]
                if fired:
                    nd["pending"][j] += stp_send(nd["stp"][j], t)
    return dict(u=us, rho=rhos, neurons=neurons, snapshot=snapshot)


def build(cfg, threads=1):
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT, "local_num_threads": threads, "rng_seed": 7})
    nest.Install(MODULE)
    variant = cfg["variant"]
    common = {
        "variance_tracking": cfg["variance_tracking"],
        "bias_learning": cfg["bias_learning"],
        "learning": True,
        "forced": True,
        "reset_times": [r * DT for r in RESETS],
        "circuit_size": 2,
    }
    neurons = nest.Create("seqlearn_wta_neuron", 2)
    for k in range(2):
        p = dict(common)
        p.update(
            circuit_index=k,
            n_incoming=len(W0[k]),
            weights=W0[k],
            forced_spikes=[t * DT for t in FORCED[k]],
            recorded_slots=[0, len(W0[k]) - 1],
            slot_recording_interval=5.0,
        )
        neurons[k].set(p)
    # circuit peers: potentials, receptor = sender's circuit index
    nest.Connect(neurons[0], neurons[1], syn_spec={"synapse_model": "rate_connection_instantaneous", "receptor_type": 0})
    nest.Connect(neurons[1], neurons[0], syn_spec={"synapse_model": "rate_connection_instantaneous", "receptor_type": 1})
    nest.SetDefaults("seqlearn_stp_synapse", {"reset_times": [r * DT for r in RESETS], "stp_variant": variant})
    gens = nest.Create("spike_generator", 3)
    for c in range(3):
        # native step t -> spike time (t + 1) * dt
        gens[c].spike_times = [(t + 1) * DT for t in INPUT_SPIKES[c]]
    for k in range(2):
        for j, (kind, idx, (U, D, F)) in enumerate(sources_of(k)):
            pre = gens[idx] if kind == "input" else neurons[idx]
            nest.Connect(
                pre, neurons[k],
                syn_spec={"synapse_model": "seqlearn_stp_synapse", "receptor_type": j, "U": U, "D": D, "F": F, "delay": DT},
            )
    mm = nest.Create("multimeter", params={"record_from": ["u", "rho"], "interval": DT})
    nest.Connect(mm, neurons)
    sr = nest.Create("spike_recorder")
    nest.Connect(neurons, sr)
    return neurons, gens, mm, sr


def collect(neurons, gens, mm):
    ev = mm.events
    per_step = {}
    for s, t, u, r in zip(ev["senders"], ev["times"], ev["u"], ev["rho"]):
        per_step.setdefault(int(round(t / DT)) - 1, {})[int(s)] = (u, r)  # stamp t+1 -> native t
    st = {}
    for k in range(2):
        st[k] = neurons[k].get(["weights", "S", "Q", "epsp_e", "epsp_f", "bias", "bias_S", "bias_Q", "n_train_steps", "slot_recording"])
    conns = nest.GetConnections(synapse_model="seqlearn_stp_synapse")
    stp = {}
    for src, tgt, s, R, U in zip(conns.get("source"), conns.get("target"), conns.get("s"), conns.get("R"), conns.get("U")):
        stp[(int(src), int(tgt))] = (s, R, U)
    return per_step, st, stp


def check_against_reference(cfg):
    ref = reference(cfg)
    neurons, gens, mm, sr = build(cfg)
    nest.Simulate(T * DT)
    per_step, st, stp = collect(neurons, gens, mm)
    ids = [neurons[0].global_id, neurons[1].global_id]
    # multimeter: steps 0..T-2 (the last step is delivered with a next run)
    assert sorted(per_step) == list(range(T - 1)), sorted(per_step)
    for t in range(T - 1):
        for k in range(2):
            u, r = per_step[t][ids[k]]
            close(u, ref["u"][t][k], f"{cfg} u step {t} neuron {k}")
            close(r, ref["rho"][t][k], f"{cfg} rho step {t} neuron {k}")
        close(per_step[t][ids[0]][1] + per_step[t][ids[1]][1], 1.0, f"sum rho step {t}")
    # spikes exactly the forced ones, native times
    ev = sr.events
    got = sorted((int(round(t / DT)) - 1, ids.index(int(s))) for s, t in zip(ev["senders"], ev["times"]))
    want = sorted((t, k) for k in range(2) for t in FORCED[k] if t < T)
    assert got == want, (got, want)
    for k in range(2):
        nd = ref["neurons"][k]
        s = st[k]
        close_vec(s["weights"], nd["w"], f"{cfg} weights {k}")
        close_vec(s["S"], nd["S"], f"{cfg} S {k}")
        close_vec(s["Q"], nd["Q"], f"{cfg} Q {k}")
        close_vec(s["epsp_e"], nd["e"], f"{cfg} e {k}")
        close_vec(s["epsp_f"], nd["f"], f"{cfg} f {k}")
        close(s["bias"], nd["b"], f"{cfg} bias {k}")
        close(s["bias_S"], nd["bS"], f"{cfg} bias_S {k}")
        close(s["bias_Q"], nd["bQ"], f"{cfg} bias_Q {k}")
        assert s["n_train_steps"] == T, s["n_train_steps"]
        rec = s["slot_recording"]
        want_rec = nd["rec"]
        assert len(rec["times"]) == len(want_rec), (len(rec["times"]), len(want_rec))
        for i, (t, j, w, y) in enumerate(want_rec):
            assert rec["times"][i] == t and rec["slots"][i] == j, (rec["times"][i], rec["slots"][i], t, j)
            close(rec["weights"][i], w, f"slot recording w {i}")
            close(rec["epsps"][i], y, f"slot recording Y {i}")
        for j, (kind, idx, _) in enumerate(nd["src"]):
            pre = gens[idx].global_id if kind == "input" else ids[idx]
            s_, R_, U_ = stp[(pre, ids[k])]
            syn = nd["stp"][j]
            close(s_, syn["s"], f"{cfg} STP s {kind}{idx}->{k}")
            close(R_, syn["R"], f"{cfg} STP R {kind}{idx}->{k}")
            close(U_, syn["U"], f"{cfg} STP U {kind}{idx}->{k}")
    # weights actually moved and U drifted (the test is not vacuous)
    assert any(abs(a - b) > 1e-3 for a, b in zip(st[1]["weights"], W0[1]))
    if cfg["variant"] == "original":
        assert stp[(ids[0], ids[1])][2] > REC_STP[0] + 0.01


def weights_and_trace(cfg, threads, chunks, separate_contexts=False):
    neurons, gens, mm, sr = build(cfg, threads)
    if separate_contexts:
        for c in chunks:
            nest.Simulate(c * DT)  # Prepare + Run + Cleanup per chunk
    else:
        nest.Prepare()
        for c in chunks:
            nest.Run(c * DT)
        nest.Cleanup()
    ev = mm.events
    trace = sorted(zip(ev["times"], ev["senders"], ev["u"], ev["rho"]))
    w = [list(neurons[k].weights) for k in range(2)]
    return w, trace


def test_install():
    nest.ResetKernel()
    nest.Install(MODULE)
    models = nest.node_models
    assert "seqlearn_wta_neuron" in models, models
    assert "seqlearn_stp_synapse" in nest.synapse_models
    d = nest.GetDefaults("seqlearn_wta_neuron")
    assert d["r_max"] == 100.0 and d["tau_decay"] == 20.0 and d["tau_rise"] == 2.0 and d["eta"] == 0.05
    assert d["spike_law"] == "exponential" and d["variance_tracking"] is True
    assert sorted(d["recordables"]) == ["rho", "u"]
    sd = nest.GetDefaults("seqlearn_stp_synapse")
    assert sd["stp_variant"] == "original" and sd["R"] == 1.0
    # bad parameters raise, they do not abort; the message names the key
    n = nest.Create("seqlearn_wta_neuron")
    for bad in (
        {"spike_law": "bogus"},
        {"tau_decay": -1.0},
        {"r_max": float("nan")},
        {"eta": 0.0},
        {"circuit_index": 3},
        {"weights": [1.0, 2.0]},
        {"no_such_parameter": 1.0},
        {"trace_mode": "exact"},  # gone: the traces are always lazy
    ):
        try:
            n.set(bad)
        except Exception as e:  # noqa: BLE001 - NEST raises its own types
            key = next(iter(bad))
            assert key in str(e), (bad, e)
        else:
            raise AssertionError(f"{bad} accepted")
    # n_incoming cannot drop below the highest connected slot
    m = nest.Create("seqlearn_wta_neuron", params={"n_incoming": 3})
    g = nest.Create("spike_generator")
    nest.Connect(g, m, syn_spec={"synapse_model": "seqlearn_stp_synapse", "receptor_type": 2})
    for shrink in (2, 1):
        try:
            m.n_incoming = shrink
        except Exception as e:  # noqa: BLE001
            assert "n_incoming" in str(e), e
        else:
            raise AssertionError(f"n_incoming {shrink} accepted with slot 2 connected")
    m.n_incoming = 4  # growing is fine: new slots w = e = f = S = 0, Q = 1
    assert list(m.weights) == [0.0] * 4 and list(m.Q) == [1.0] * 4
    try:
        nest.Connect(g, m, syn_spec={"synapse_model": "seqlearn_stp_synapse", "receptor_type": 4})
    except Exception:  # noqa: BLE001
        pass
    else:
        raise AssertionError("slot 4 of 4 accepted")
    for bad in ({"stp_variant": "bogus"}, {"D": -1.0}, {"U": -0.5}):
        try:
            nest.SetDefaults("seqlearn_stp_synapse", bad)
        except Exception as e:  # noqa: BLE001
            assert next(iter(bad)) in str(e), (bad, e)
        else:
            raise AssertionError(f"synapse {bad} accepted")


def test_reference():
    for cfg in (
        dict(variance_tracking=True, bias_learning=False, variant="original"),
        dict(variance_tracking=False, bias_learning=True, variant="tsodyks_markram"),
        dict(variance_tracking=True, bias_learning=True, variant="off"),
    ):
        check_against_reference(cfg)


def test_chunks_and_threads():
    chunks_and_threads(dict(variance_tracking=True, bias_learning=False, variant="original"))


def test_state_read_and_set_mid_run():
    """The lazily kept traces (closed-form decay, logged inputs) read back
    mid-run equal the per-step Euler form of the reference, and traces set
    between two runs are taken as of the last step (the exact-trace mode that
    used to check this is gone: the reference is the Euler form)."""
    cfg = dict(variance_tracking=True, bias_learning=False, variant="original")
    ref = reference(cfg, set_e=(25, 1, 0.5), snapshot_at=25)
    neurons, gens, mm, sr = build(cfg)
    nest.Prepare()
    nest.Run(25.0)  # steps 0..24
    mid = [list(neurons[k].epsp_e) + list(neurons[k].epsp_f) for k in range(2)]
    neurons[1].epsp_e = [0.5] * len(W0[1])
    nest.Run(T - 25.0)
    nest.Cleanup()
    for k in range(2):
        close_vec(mid[k], ref["snapshot"][k], f"traces of neuron {k} after step 24")
        close_vec(neurons[k].weights, ref["neurons"][k]["w"], f"weights of neuron {k}")
        close_vec(neurons[k].epsp_e, ref["neurons"][k]["e"], f"e of neuron {k}")
        close_vec(neurons[k].epsp_f, ref["neurons"][k]["f"], f"f of neuron {k}")


def test_trace_recording():
    """The status-dictionary side of the neurons' own trace recording: it
    holds the multimeter's values on the native grid, including the last step
    (which the multimeter hands over only with a next run), and clears."""
    cfg = dict(variance_tracking=True, bias_learning=False, variant="original")
    ref = reference(cfg)
    neurons, gens, mm, sr = build(cfg)
    d = nest.GetDefaults("seqlearn_wta_neuron")
    assert d["record_traces"] is False and d["trace_recording_interval"] == DT, d
    neurons[0].set(record_traces=True)
    neurons[1].set(record_traces=True, trace_recording_interval=3 * DT)
    nest.Simulate(T * DT)
    per_step, _, _ = collect(neurons, gens, mm)
    ids = [neurons[0].global_id, neurons[1].global_id]
    for k, every in ((0, 1), (1, 3)):
        rec = neurons[k].trace_recording
        want = [t for t in range(T) if t % every == 0]
        assert list(rec["times"]) == [t * DT for t in want], rec["times"]
        for i, t in enumerate(want):
            close(rec["u"][i], ref["u"][t][k], f"trace u step {t} neuron {k}")
            close(rec["rho"][i], ref["rho"][t][k], f"trace rho step {t} neuron {k}")
            if t in per_step:
                assert (rec["u"][i], rec["rho"][i]) == per_step[t][ids[k]], (t, k)
    neurons.set(clear_trace_recording=True, record_traces=False)
    nest.Simulate(5 * DT)
    for k in range(2):
        assert len(neurons[k].trace_recording["times"]) == 0
    for bad in (0.0, -1.0, 1.5, float("nan"), float("inf"), 1e300):
        try:
            neurons[0].set(trace_recording_interval=bad)
        except Exception as e:  # noqa: BLE001 - NEST raises its own types
            assert "trace_recording_interval" in str(e), e
        else:
            raise AssertionError(f"interval {bad} accepted")


def chunks_and_threads(cfg):
    w1, tr1 = weights_and_trace(cfg, 1, [T])
    w2, tr2 = weights_and_trace(cfg, 1, [1, 6, 13, 20, 20])
    assert w1 == w2, (w1, w2)
    assert tr1 == tr2
    w2b, tr2b = weights_and_trace(cfg, 1, [9, 21, 30], separate_contexts=True)
    assert w1 == w2b, (w1, w2b)
    assert tr1 == tr2b
    w3, tr3 = weights_and_trace(cfg, 2, [T])
    assert w1 == w3, (w1, w3)
    assert [x[:2] for x in tr1] == [x[:2] for x in tr3]
    for a, b in zip(tr1, tr3):
        assert a == b, (a, b)


def test_stochastic_rates():
    """Not forced: a single-neuron circuit fires at ~r_max (rho = 1)."""
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT, "rng_seed": 3})
    nest.Install(MODULE)
    n = nest.Create("seqlearn_wta_neuron", 2, params={"circuit_size": 2, "r_max": 100.0})
    n[1].circuit_index = 1
    nest.Connect(n[0], n[1], syn_spec={"synapse_model": "rate_connection_instantaneous", "receptor_type": 0})
    nest.Connect(n[1], n[0], syn_spec={"synapse_model": "rate_connection_instantaneous", "receptor_type": 1})
    sr = nest.Create("spike_recorder")
    nest.Connect(n, sr)
    nest.Simulate(20000.0)
    # each neuron rho = 0.5 -> 50 Hz, p = 1 - exp(-0.05)
    p = 1.0 - math.exp(-0.05)
    for gid in (n[0].global_id, n[1].global_id):
        cnt = sum(1 for s in sr.events["senders"] if s == gid)
        mean, sd = 20000 * p, math.sqrt(20000 * p * (1 - p))
        assert abs(cnt - mean) < 5 * sd, (cnt, mean)


def test_draw_streams():
    """Every neuron draws from its own stream (rng_seed, node id): the same
    spikes on 1 and 2 threads, other spikes under another rng_seed; with
    vp_draws (also as a model default) from NEST's per-VP generator."""

    def spikes(threads, seed, defaults=None):
        nest.ResetKernel()
        nest.SetKernelStatus({"resolution": DT, "local_num_threads": threads, "rng_seed": seed})
        nest.Install(MODULE)
        if defaults:
            nest.SetDefaults("seqlearn_wta_neuron", defaults)
        n = nest.Create("seqlearn_wta_neuron", 6, params={"r_max": 200.0})
        sr = nest.Create("spike_recorder")
        nest.Connect(n, sr)
        nest.Simulate(2000.0)
        ev = sr.events
        return sorted(zip(ev["times"].tolist(), ev["senders"].tolist()))

    one = spikes(1, 3)
    assert len(one) > 1000, len(one)
    assert spikes(2, 3) == one
    assert spikes(1, 4) != one
    vp = spikes(2, 3, {"vp_draws": True})
    assert len(vp) > 1000 and vp != one


def test_initial_biases():
    """Step 0 uses every member's initial bias (circuit_u_initial); a bias
    that contradicts it is refused with a message naming the key."""

    def circuit(biases, u0):
        nest.ResetKernel()
        nest.SetKernelStatus({"resolution": DT})
        nest.Install(MODULE)
        n = nest.Create("seqlearn_wta_neuron", 2, params={"circuit_size": 2, "record_traces": True})
        for k in range(2):
            n[k].set(circuit_index=k, bias=biases[k], **({"circuit_u_initial": u0} if u0 is not None else {}))
        for a, b in ((0, 1), (1, 0)):
            nest.Connect(n[a], n[b], syn_spec={"synapse_model": "rate_connection_instantaneous", "receptor_type": a})
        return n

    b = [0.75, -0.5]
    n = circuit(b, b)
    nest.Simulate(3.0)
    for k in range(2):
        rec = n[k].get("trace_recording")
        want = math.exp(b[k]) / (math.exp(b[0]) + math.exp(b[1]))
        for t in range(2):  # no input: u = b, the same soft-max in steps 0 and 1
            close(rec["u"][t], b[k], f"u({t}) of neuron {k}")
            close(rec["rho"][t], want, f"rho({t}) of neuron {k}")
    n = circuit(b, None)
    try:
        nest.Simulate(1.0)
    except nest.NESTError as e:
        assert "circuit_u_initial" in str(e), e
    else:
        raise AssertionError("a bias without circuit_u_initial was accepted")


def test_defaults_independent_of_install_resolution():
    """Installed at 0.1 ms, the models' defaults stay valid at 1 ms."""
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1})
    nest.Install(MODULE)
    nest.SetKernelStatus({"resolution": DT})
    n = nest.Create("seqlearn_wta_neuron", 1, params={"record_traces": True})
    assert n.get("trace_recording_interval") == 1.0
    nest.Simulate(3.0)
    assert list(n.get("trace_recording")["times"]) == [0.0, 1.0, 2.0]


def test_missing_peer_link_is_refused():
    """A circuit of 2 whose members are not connected is an error after
    step 0 (before, each normalised over a value that never arrived)."""
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT})
    nest.Install(MODULE)
    n = nest.Create("seqlearn_wta_neuron", 2, params={"circuit_size": 2})
    n[1].circuit_index = 1
    nest.Connect(n[0], n[1], syn_spec={"synapse_model": "rate_connection_instantaneous", "receptor_type": 0})
    try:
        nest.Simulate(5.0)
    except nest.NESTError as e:
        assert "circuit member 1" in str(e) and "rate_connection_instantaneous" in str(e), e
    else:
        raise AssertionError("a circuit without its peer links was accepted")


def main():
    tests = [
        test_install,
        test_reference,
        test_chunks_and_threads,
        test_state_read_and_set_mid_run,
        test_trace_recording,
        test_stochastic_rates,
        test_draw_streams,
        test_initial_biases,
        test_defaults_independent_of_install_resolution,
        test_missing_peer_link_is_refused,
    ]
    failed = 0
    for t in tests:
        try:
            t()
            print(f"ok   {t.__name__}")
        except Exception as e:  # noqa: BLE001 - report every test
            failed += 1
            print(f"FAIL {t.__name__}: {type(e).__name__}: {e}")
    print(f"module: {MODULE}")
    if failed:
        print(f"{failed} test(s) failed")
        sys.exit(1)
    print("all tests passed")


if __name__ == "__main__":
    main()
