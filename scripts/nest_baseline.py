#!/usr/bin/env python3
"""NEST baseline for `seqlearn-nest bench` (docs/benchmarks.md).

A network of the model's size built only from NEST's own models, so that the
cost of the seqlearn module is a ratio against what NEST does with its best
built-in pieces:

- `--neurons` iaf_psc_exp neurons;
- `--inputs` input channels, each a parrot_neuron fed by its own
  poisson_generator at `--input-rate`, connected all-to-all to the neurons
  (one spike train per channel, as in the model);
- recurrent static_synapse connections among the neurons, as many as needed
  to reach `--synapses` in total (inputs included), fixed_total_number,
  delay 1 ms, weights uniform in [-w_rec, +w_rec] (mean zero, so the rate is
  set by the drive alone and stays stable);
- a private Poisson drive per neuron (one poisson_generator, independent
  trains per target) whose rate is tuned by bisection on short calibration
  runs so that the mean firing rate matches `--target-rate`.

With `--plastic stdp` (or `stdp_hom`) the same network is built from NEST's
plastic built-ins instead, the fair comparison for a model whose every
synapse learns: the input connections are `tsodyks2_synapse` (short-term
plasticity, state per connection), the recurrent ones `stdp_synapse`
(parameters per connection, as the seqlearn synapse's) or `stdp_synapse_hom`
(shared parameters), excitatory (STDP needs one sign) with weights uniform
in [0, w_rec]. A NEST synapse has one plasticity rule, so the input synapses
do not learn and the recurrent ones have no STP (the seqlearn synapse does
both on every connection). The learning rate is small so that the
calibrated rate holds over the run; the work per spike is that of any rate.

Prints one JSON object: wall and CPU time of the timed Simulate only (after a
warm-up Simulate of 20 ms that also runs NEST's connection set-up), the
achieved rates, spike count, synapse count and peak RSS
(resource.getrusage, whole process).
"""

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("PYNEST_QUIET", "1")


def build(nest, a, drive_rate, threads, seed):
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus(
        {
            "resolution": 1.0,
            "local_num_threads": threads,
            "rng_seed": seed,
            "print_time": False,
        }
    )
    neurons = nest.Create("iaf_psc_exp", a.neurons)
    parrots = nest.Create("parrot_neuron", a.inputs)
    in_gen = nest.Create("poisson_generator", a.inputs, params={"rate": a.input_rate})
    drive = nest.Create("poisson_generator", params={"rate": drive_rate})
    nest.Connect(in_gen, parrots, "one_to_one")
    input_syn, rec_syn = synapse_specs(nest, a)
    nest.Connect(parrots, neurons, "all_to_all", input_syn)
    n_rec = a.synapses - a.neurons * a.inputs
    if n_rec > 0:
        nest.Connect(
            neurons,
            neurons,
            {"rule": "fixed_total_number", "N": n_rec, "allow_autapses": False},
            rec_syn,
        )
    nest.Connect(drive, neurons, "all_to_all", {"weight": a.w_drive, "delay": 1.0})
    # Spike counts (and the spikes, as the engines keep them too).
    rec = (nest.Create("spike_recorder"), nest.Create("spike_recorder"))
    nest.Connect(neurons, rec[0])
    nest.Connect(parrots, rec[1])
    return neurons, parrots, rec, n_rec


def synapse_specs(nest, a):
    """Synapse specs of the input and the recurrent connections."""
    if a.plastic == "none":
        return (
            {"synapse_model": "static_synapse", "weight": a.w_input, "delay": 1.0},
            {
                "synapse_model": "static_synapse",
                "weight": nest.random.uniform(-a.w_rec, a.w_rec),
                "delay": 1.0,
            },
        )
    stdp = {"stdp": "stdp_synapse", "stdp_hom": "stdp_synapse_hom"}[a.plastic]
    learning = {"lambda": 0.0001, "alpha": 1.05, "Wmax": 2.0 * a.w_rec}
    if a.plastic == "stdp_hom":
        nest.SetDefaults(stdp, learning)
        learning = {}
    return (
        {
            "synapse_model": "tsodyks2_synapse",
            "weight": a.w_input,
            "delay": 1.0,
            "U": 0.5,
            "tau_rec": 800.0,
            "tau_fac": 20.0,
        },
        {
            "synapse_model": stdp,
            "weight": nest.random.uniform(0.0, a.w_rec),
            "delay": 1.0,
            **learning,
        },
    )


def rate_of(nest, rec, n, seconds):
    return rec.get("n_events") / (n * seconds)


def bytes_per_synapse(nest, a):
    """NEST's own size of each connection type (`sizeof`), mean over the
    network's synapses (inputs and recurrent)."""
    input_syn, rec_syn = synapse_specs(nest, a)
    n_in = a.neurons * a.inputs
    n_rec = max(a.synapses - n_in, 0)
    size = lambda m: nest.GetDefaults(m["synapse_model"])["sizeof"]  # noqa: E731
    return (n_in * size(input_syn) + n_rec * size(rec_syn)) / max(n_in + n_rec, 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--neurons", type=int, required=True)
    p.add_argument("--synapses", type=int, required=True)
    p.add_argument("--inputs", type=int, default=100)
    p.add_argument("--input-rate", type=float, default=5.0)
    p.add_argument("--target-rate", type=float, required=True)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=13521)
    p.add_argument("--w-input", type=float, default=5.0, help="pA")
    p.add_argument("--w-rec", type=float, default=20.0, help="pA, uniform +-")
    p.add_argument("--w-drive", type=float, default=100.0, help="pA")
    p.add_argument("--calib-seconds", type=float, default=1.0)
    p.add_argument(
        "--plastic",
        choices=["none", "stdp", "stdp_hom"],
        default="none",
        help="static synapses (none) or tsodyks2 inputs + STDP recurrent",
    )
    a = p.parse_args()

    t_import = time.perf_counter()
    import nest  # noqa: E402  (after OMP_WAIT_POLICY)

    import_s = time.perf_counter() - t_import

    # Calibrate the private drive rate by bisection on the mean rate.
    lo, hi = 0.0, 20000.0
    drive = 2000.0
    calib = []
    for _ in range(14):
        _, _, rec, _ = build(nest, a, drive, a.threads, a.seed)
        nest.Simulate(a.calib_seconds * 1000.0)
        r = rate_of(nest, rec[0], a.neurons, a.calib_seconds)
        calib.append((drive, r))
        if abs(r - a.target_rate) <= 0.02 * a.target_rate:
            break
        if r < a.target_rate:
            lo = drive
        else:
            hi = drive
        drive = 0.5 * (lo + hi)

    # The timed run.
    t0 = time.perf_counter()
    _, _, rec, n_rec = build(nest, a, drive, a.threads, a.seed)
    build_s = time.perf_counter() - t0
    warm = 20.0
    nest.Simulate(warm)
    n0 = rec[0].get("n_events")
    i0 = rec[1].get("n_events")
    c0 = time.process_time()
    t1 = time.perf_counter()
    nest.Simulate(a.seconds * 1000.0)
    wall = time.perf_counter() - t1
    cpu = time.process_time() - c0
    spikes = rec[0].get("n_events") - n0
    in_spikes = rec[1].get("n_events") - i0
    n_conn = nest.GetKernelStatus("num_connections")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out = {
        "wall_s": wall,
        "cpu_s": cpu,
        "build_s": build_s,
        "import_s": import_s,
        "seconds": a.seconds,
        "threads": a.threads,
        "neurons": a.neurons,
        "synapses": a.neurons * a.inputs + n_rec,
        "num_connections_total": n_conn,
        "target_rate_hz": a.target_rate,
        "rate_hz": spikes / (a.neurons * a.seconds),
        "input_rate_hz": in_spikes / (a.inputs * a.seconds),
        "spikes": int(spikes),
        "drive_rate_hz": drive,
        "calibration": calib,
        "peak_rss_mib": peak,
        "nest_version": nest.__version__,
        "plastic": a.plastic,
        "bytes_per_synapse": bytes_per_synapse(nest, a),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
