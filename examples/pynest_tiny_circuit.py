#!/usr/bin/env python3
"""A tiny soft-WTA circuit in PyNEST with the seqlearn extension module.

Two neurons form one circuit (their firing rates always sum to r_max); three
input channels (spike_generators) reach both through STP synapses, one slot
per input.  STDP is on, spikes are drawn at random.

    cargo build                                   # builds seqlearnmodule.so
    .venv/bin/python examples/pynest_tiny_circuit.py [path/to/seqlearnmodule.so]

Time convention: native model step t covers NEST's update interval
(t, t+1] ms.  An input spike of native step t is given to the
spike_generator as (t + 1) ms; recorded spikes and multimeter samples carry
the time (t + 1) ms as well, so subtract 1 ms to get native step times.
"""

import glob
import os
import sys

import nest

here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) > 1:
    module = os.path.abspath(sys.argv[1])
else:
    module = os.environ.get("SEQLEARN_NEST_MODULE") or max(
        glob.glob(os.path.join(here, "target", "*", "build", "seqlearn-nest-*", "out", "seqlearnmodule.so")),
        key=os.path.getmtime,
        default=None,
    )
if not module:
    sys.exit("build the module first (cargo build) or pass its path")

nest.ResetKernel()
nest.verbosity = nest.VerbosityLevel.ERROR
# the model needs 1 ms steps; install the module after setting the threads
nest.SetKernelStatus({"resolution": 1.0, "local_num_threads": 1, "rng_seed": 42})
nest.Install(os.path.abspath(module))

K, N_IN = 2, 3
wta = nest.Create("seqlearn_wta_neuron", K, params={"circuit_size": K, "n_incoming": N_IN, "learning": True})
for k in range(K):
    wta[k].circuit_index = k  # position inside the circuit, 0..K-1

# The circuit members exchange their potentials (receptor = sender's index).
for a in range(K):
    for b in range(K):
        if a != b:
            nest.Connect(
                wta[a], wta[b],
                syn_spec={"synapse_model": "rate_connection_instantaneous", "receptor_type": a},
            )

# Inputs: channel c fires every 10 ms with a phase shift (native steps).
inputs = nest.Create("spike_generator", N_IN)
for c in range(N_IN):
    native_steps = range(3 * c, 2000, 10)
    inputs[c].spike_times = [t + 1.0 for t in native_steps]

# One STP synapse per (input, neuron), delay 1 ms, receptor_type = slot.
# Inputs in the original model: U = 1, D = F = dt.
for c in range(N_IN):
    nest.Connect(
        inputs[c], wta,
        syn_spec={"synapse_model": "seqlearn_stp_synapse", "receptor_type": c, "U": 1.0, "D": 1.0, "F": 1.0},
    )

mm = nest.Create("multimeter", params={"record_from": ["u", "rho"], "interval": 1.0})
nest.Connect(mm, wta)
sr = nest.Create("spike_recorder")
nest.Connect(wta, sr)
wta[0].set(recorded_slots=[0, 1, 2], slot_recording_interval=100.0)

# Chunked simulation: prepare once, run in pieces, switch learning off for
# the second half (the "test phase").
nest.Prepare()
nest.Run(1000.0)
wta.learning = False
nest.Run(1000.0)
nest.Cleanup()

ev = sr.events
print("spikes per neuron:", {int(g): int((ev["senders"] == g).sum()) for g in wta.global_id})
print("weights:", [list(map(float, w)) for w in wta.get("weights")])
m = mm.events
t0 = m["times"][0]
print("rho at the first sample (sums to 1):", [float(r) for r, t in zip(m["rho"], m["times"]) if t == t0])
rec = wta[0].slot_recording
print("slot recording of neuron 0 (time, slot, weight):")
for t, s, w in list(zip(rec["times"], rec["slots"], rec["weights"]))[:9]:
    print(f"  {t:7.1f} ms  slot {s}  w = {w:+.4f}")
