#!/usr/bin/env python3
"""Elephant on a seqlearn-nest run: firing rates, ISI CV and the
cross-correlation of two assemblies, through `run.to_neo()`.

    pip install "./python[elephant]"
    seqlearn-nest simulate -c experiments/quickstart.toml --out runs/quick
    python examples/elephant_analysis.py runs/quick

The two assemblies are the neurons of ordering.csv (the analysis' ranking by
activation phase within a pattern presentation) that fire early (first
third of the ranks) and late (last third) in the presentation; their
cross-correlogram in the test phase peaks at a positive lag when the early
assembly leads the late one.
"""

import sys

import numpy as np
import quantities as pq
from elephant.conversion import BinnedSpikeTrain
from elephant.spike_train_correlation import cross_correlation_histogram
from elephant.statistics import cv, isi, mean_firing_rate

import seqlearn_nest


def assemblies(run):
    """Neuron ids of the early and the late assembly of the first target."""
    order = run.ordering.dropna(subset=["phase_ms"])
    first = order[order["sequence"] == order["sequence"].iloc[0]].sort_values("rank")
    ids = first["neuron"].to_numpy(dtype=int)
    third = max(1, len(ids) // 3)
    return ids[:third], ids[-third:]


def pooled(trains, ids, t_start, t_stop):
    import neo

    times = np.sort(np.concatenate([st.times.rescale(pq.ms).magnitude for st in trains
                                    if st.annotations["neuron"] in set(ids)]))
    return neo.SpikeTrain(times * pq.ms, t_start=t_start, t_stop=t_stop)


def analyse(run_dir, bin_ms=5.0, max_lag_bins=20):
    run = seqlearn_nest.load_run(run_dir)
    block = run.to_neo(traces=False)
    test = next(s for s in block.segments if s.annotations["role"] == "test")
    trains = test.spiketrains
    rates = {st.annotations["neuron"]: float(mean_firing_rate(st).rescale(pq.Hz)) for st in trains}
    cvs = {st.annotations["neuron"]: float(cv(isi(st))) for st in trains if len(st) > 2}
    early, late = assemblies(run)
    t0, t1 = trains[0].t_start, trains[0].t_stop
    a, b = pooled(trains, early, t0, t1), pooled(trains, late, t0, t1)
    binned = [BinnedSpikeTrain(x, bin_size=bin_ms * pq.ms) for x in (a, b)]
    cch, lags = cross_correlation_histogram(binned[0], binned[1], window=[-max_lag_bins, max_lag_bins])
    counts = np.asarray(cch).ravel()
    peak_lag_ms = float(lags[int(np.argmax(counts))] * bin_ms)
    return {
        "phase": test.name,
        "rates_hz": rates,
        "isi_cv": cvs,
        "early": list(map(int, early)),
        "late": list(map(int, late)),
        "cch": counts,
        "lags_ms": lags * bin_ms,
        "peak_lag_ms": peak_lag_ms,
    }


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: elephant_analysis.py RUN_DIR")
    res = analyse(argv[1])
    rates = np.array(list(res["rates_hz"].values()))
    print(f"test phase '{res['phase']}': {len(rates)} neurons, mean rate {rates.mean():.2f} Hz "
          f"(min {rates.min():.2f}, max {rates.max():.2f})")
    print(f"ISI CV: median {np.median(list(res['isi_cv'].values())):.2f} over {len(res['isi_cv'])} neurons")
    print(f"assemblies: early {res['early']}, late {res['late']}; "
          f"CCH peak at {res['peak_lag_ms']:+.0f} ms (positive: early leads)")


if __name__ == "__main__":
    main(sys.argv)
