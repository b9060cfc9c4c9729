"""A run as a `neo.Block` (for Elephant and other Neo tools).

- one `Segment` per protocol phase (protocol.csv), named after the phase,
  annotated with `phase`, `role`, `train`, `reset`;
- in it one `SpikeTrain` per network neuron, times in ms, `t_start`/`t_stop`
  = the phase's `start_ms`/`end_ms`, annotated with `neuron`, `circuit` and
  the circuit's grid position `x`, `y`;
- with `traces=True`, the sampled traces of the phase as analog signals, one
  channel per recorded neuron / synapse (`array_annotations` name them):
  `u`, `rho` (neuron_traces.csv) and `weight`, `epsp` (synapse_traces.csv),
  all dimensionless, sampled every `dt_rec` (an `IrregularlySampledSignal`
  if the samples of a phase are not evenly spaced).
"""

import numpy as np


def _signals(df, t0, t1, key, values):
    """Analog signals of the samples in [t0, t1), one channel per `key` id."""
    import neo
    import quantities as pq

    part = df[(df["time_ms"] >= t0) & (df["time_ms"] < t1)]
    if part.empty:
        return []
    out = []
    for value in values:
        table = part.pivot_table(index="time_ms", columns=key, values=value, aggfunc="first")
        times = table.index.to_numpy(dtype=float)
        ids = table.columns.to_numpy(dtype=np.int64)
        arr = table.to_numpy(dtype=float)
        steps = np.diff(times)
        if len(times) > 1 and np.allclose(steps, steps[0]):
            sig = neo.AnalogSignal(
                arr, units=pq.dimensionless, t_start=times[0] * pq.ms, sampling_period=steps[0] * pq.ms, name=value
            )
        else:
            sig = neo.IrregularlySampledSignal(times * pq.ms, arr, units=pq.dimensionless, name=value)
        sig.array_annotate(**{key: ids})
        out.append(sig)
    return out


def _split_by_sender(senders, times, t0, t1):
    """{neuron: sorted spike times in [t0, t1)} in one pass (not one mask per neuron)."""
    keep = (times >= t0) & (times < t1)
    s, t = senders[keep], times[keep]
    order = np.lexsort((t, s))
    s, t = s[order], t[order]
    ids, starts = np.unique(s, return_index=True)
    return dict(zip(ids.tolist(), np.split(t, starts[1:])))


def to_neo(run, traces=True):
    import neo
    import quantities as pq

    grid = run.circuits.set_index("circuit")
    neurons = run.neurons.sort_values("neuron")
    spikes = run.spikes
    senders = spikes["sender"].to_numpy(dtype=np.int64)
    times = spikes["time_ms"].to_numpy(dtype=float)
    summary = run.summary or {}
    block = neo.Block(
        name=run.path.name,
        file_origin=str(run.path),
        backend=summary.get("backend"),
        seed=summary.get("seed"),
        simulated_ms=summary.get("simulated_ms"),
    )
    for ph in run.protocol.itertuples(index=False):
        t0, t1 = float(ph.start_ms), float(ph.end_ms)
        seg = neo.Segment(name=str(ph.name), index=int(ph.phase), phase=int(ph.phase), role=str(ph.role),
                          train=bool(ph.train), reset=bool(ph.reset))
        by_neuron = _split_by_sender(senders, times, t0, t1)
        for n in neurons.itertuples(index=False):
            c = int(n.circuit)
            st = neo.SpikeTrain(
                by_neuron.get(int(n.neuron), np.empty(0)) * pq.ms,
                t_start=t0 * pq.ms,
                t_stop=t1 * pq.ms,
                name=f"neuron {int(n.neuron)}",
                neuron=int(n.neuron),
                circuit=c,
                x=int(grid.at[c, "x"]),
                y=int(grid.at[c, "y"]),
            )
            st.segment = seg
            seg.spiketrains.append(st)
        if traces and run.neuron_traces is not None:
            seg.analogsignals.extend(_signals(run.neuron_traces, t0, t1, "sender", ("u", "rho")))
        if traces and run.synapse_traces is not None:
            seg.analogsignals.extend(_signals(run.synapse_traces, t0, t1, "synapse", ("weight", "epsp")))
        for sig in seg.analogsignals:
            sig.segment = seg
        seg.block = block
        block.segments.append(seg)
    return block
