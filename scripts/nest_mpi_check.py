"""Acceptance check of an MPI build of NEST (run by scripts/setup_nest_mpi.sh).

    mpirun -np 2 PREFIX/venv/bin/python scripts/nest_mpi_check.py --procs 2 --threads 1
    PREFIX/venv/bin/python scripts/nest_mpi_check.py --procs 1 --threads 2

Every rank builds the same recurrent network (Poisson-driven iaf_psc_alpha
neurons with random excitatory and inhibitory connections), NEST distributes
the neurons over the virtual processes (VP = ranks x threads), and after the
simulation the ranks gather all spikes with mpi4py. The check fails unless

- the kernel reports the expected ranks, threads and VPs,
- some connections have their source on another rank (when there are >1),
- every rank computes the same global spike count and spike digest.

Rank 0 prints one JSON line. Its "network" part (global spike count and
digest) is, for the same --seed and VP count, identical for any split of the
VPs into ranks and threads (NEST's promise); the caller compares it.
Recurrent weights are strong enough that the spike trains depend on the
spikes sent across ranks.
"""

import argparse
import hashlib
import json
import os
import sys

# libgomp reads this when the kernel is loaded; the default spins idle
# threads and slows multi-threaded runs on a busy machine a lot
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("PYNEST_QUIET", "1")  # no banner: stdout is the JSON line

import nest  # noqa: E402
from mpi4py import MPI  # noqa: E402  (after nest: NEST calls MPI_Init)

N_NEURONS = 200
INDEGREE = 20
SIM_MS = 500.0


def fail(msg):
    sys.stderr.write(f"nest_mpi_check (rank {nest.Rank()}): {msg}\n")
    MPI.COMM_WORLD.Abort(1)


def check_kernel(procs, threads):
    ks = nest.GetKernelStatus()
    got = {
        "num_processes": ks["num_processes"],
        "local_num_threads": ks["local_num_threads"],
        "total_num_virtual_procs": ks["total_num_virtual_procs"],
        "NumProcesses()": nest.NumProcesses(),
        "MPI size": MPI.COMM_WORLD.Get_size(),
    }
    want = {
        "num_processes": procs,
        "local_num_threads": threads,
        "total_num_virtual_procs": procs * threads,
        "NumProcesses()": procs,
        "MPI size": procs,
    }
    if got != want:
        fail(f"kernel status {got}, expected {want}")
    return got


def build_network():
    neurons = nest.Create("iaf_psc_alpha", N_NEURONS, params={"I_e": 200.0})
    drive = nest.Create("poisson_generator", params={"rate": 8000.0})
    recorder = nest.Create("spike_recorder")
    nest.Connect(drive, neurons, syn_spec={"weight": 10.0})
    n_exc = INDEGREE * 4 // 5
    rule = {"rule": "fixed_indegree", "indegree": n_exc}
    nest.Connect(neurons, neurons, rule, {"weight": 60.0, "delay": 1.5})
    rule = {"rule": "fixed_indegree", "indegree": INDEGREE - n_exc}
    nest.Connect(neurons, neurons, rule, {"weight": -250.0, "delay": 1.0})
    nest.Connect(neurons, recorder)
    return neurons, recorder


def count_remote_sources(neurons):
    """Connections of local targets whose source neuron lives on another rank."""
    local = set(nest.GetNodes({"model": "iaf_psc_alpha"}, local_only=True).tolist())
    conns = nest.GetConnections(source=neurons, target=neurons)
    sources = conns.source if len(conns) > 0 else []
    if isinstance(sources, int):
        sources = [sources]
    return sum(1 for s in sources if s not in local)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, required=True, help="expected MPI ranks")
    ap.add_argument("--threads", type=int, default=1, help="threads per rank")
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args()

    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.ResetKernel()
    nest.SetKernelStatus({"local_num_threads": args.threads, "rng_seed": args.seed})
    kernel = check_kernel(args.procs, args.threads)

    neurons, recorder = build_network()
    comm = MPI.COMM_WORLD
    remote = comm.allreduce(count_remote_sources(neurons), op=MPI.SUM)
    if args.procs > 1 and remote == 0:
        fail("no connection crosses ranks")

    nest.Simulate(SIM_MS)
    ev = recorder.get("events")
    local = sorted(zip(ev["times"].tolist(), ev["senders"].tolist()))
    spikes = sorted(s for part in comm.allgather(local) for s in part)
    digest = hashlib.sha256(repr(spikes).encode()).hexdigest()[:16]
    result = {"spikes": len(spikes), "digest": digest}
    # every rank must hold the same global result
    views = comm.allgather(result)
    if any(v != result for v in views):
        fail(f"ranks disagree: {views}")
    if len(spikes) == 0:
        fail("no spikes at all")
    if nest.Rank() == 0:
        kernel["cross_rank_connections"] = remote
        kernel["local_spike_counter"] = nest.GetKernelStatus("local_spike_counter")
        print(json.dumps({"network": result, "kernel": kernel}), flush=True)


if __name__ == "__main__":
    main()
