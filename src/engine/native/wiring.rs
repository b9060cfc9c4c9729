//! The native engine's connectivity, in the forms its step reads: runs of
//! consecutive channels per neuron (the gather of a spiking neuron's traces),
//! the channels of each source and the outgoing synapses of each channel
//! (the scatter of a spike's jump).

use crate::model::network::Network;

/// A run of a neuron's synapses reading consecutive channels.
#[derive(Debug, Clone, Copy)]
struct Run {
    channel: u32,
    /// Global synapse index of the first synapse of the run.
    synapse: u32,
    len: u32,
}

/// Connectivity of a network, by channel: one channel per source (the
/// original: all outgoing synapses of a source share its traces and STP
/// state) or one per synapse (`stp_draw = "per_synapse"`).
pub(super) struct Wiring {
    pub n_channels: usize,
    per_synapse: bool,
    /// Runs of each neuron's incoming synapses: `runs[run_off[k]..run_off[k+1]]`.
    runs: Vec<Run>,
    run_off: Vec<usize>,
    /// First recurrent synapse of each neuron (inputs come first: synapses
    /// are sorted by source and inputs have the lowest source ids).
    pub split: Vec<usize>,
    /// Channels of each source: `src_chan[src_off[j]..src_off[j+1]]`.
    src_chan: Vec<u32>,
    src_off: Vec<usize>,
    /// Outgoing synapses of each channel, ascending: targets and synapse ids
    /// `out_*[out_off[c]..out_off[c+1]]`.
    out_target: Vec<u32>,
    out_syn: Vec<u32>,
    out_off: Vec<usize>,
    /// Largest number of incoming synapses of a neuron.
    pub max_in: usize,
    /// Every `out_target` is below `n_neurons`, every `out_syn` below
    /// `n_synapses` (by construction from the network).
    n_neurons: usize,
    n_synapses: usize,
}

impl Wiring {
    pub fn new(net: &Network) -> Wiring {
        let n_syn = net.synapses.len();
        assert!(
            n_syn < u32::MAX as usize && net.n_sources() < u32::MAX as usize,
            "the native engine indexes synapses with u32"
        );
        let per_synapse = net.stp_per_synapse;
        let n_channels = if per_synapse { n_syn } else { net.n_sources() };
        let (runs, run_off, split, max_in) = incoming_runs(net, per_synapse);
        let (src_chan, src_off) = source_channels(net, per_synapse);
        let (out_target, out_syn, out_off) = outgoing(net, per_synapse, n_channels);
        Wiring {
            n_channels,
            per_synapse,
            runs,
            run_off,
            split,
            src_chan,
            src_off,
            out_target,
            out_syn,
            out_off,
            max_in,
            n_neurons: net.n_neurons(),
            n_synapses: n_syn,
        }
    }

    /// Channel of synapse `s`.
    pub fn channel_of(&self, net: &Network, s: usize) -> usize {
        channel(net, self.per_synapse, s)
    }

    /// Channels of source `j`.
    pub fn channels_of(&self, j: usize) -> &[u32] {
        &self.src_chan[self.src_off[j]..self.src_off[j + 1]]
    }

    /// Number of synapses channel `c` reaches.
    pub fn fan_out(&self, c: usize) -> usize {
        self.out_off[c + 1] - self.out_off[c]
    }

    /// `J_k += w_s * a` along channel `c`'s outgoing synapses. The weights
    /// are stored by target, so these loads hit one cache line each, far
    /// apart; they are prefetched a few synapses ahead (the dominant cost of
    /// large networks). No bounds check per element (they were a tenth of
    /// the engine's instructions): the indices are in range by construction
    /// and the lengths are checked once.
    #[inline]
    pub fn scatter(&self, c: usize, jump_sum: &mut [f64], w: &[f64], a: f64) {
        const AHEAD: usize = 12;
        assert!(jump_sum.len() == self.n_neurons && w.len() == self.n_synapses);
        let (lo, hi) = (self.out_off[c], self.out_off[c + 1]);
        let (targets, syns) = (&self.out_target[lo..hi], &self.out_syn[lo..hi]);
        let n = targets.len();
        for i in 0..n {
            // SAFETY: i < n = targets.len() = syns.len(); every target is
            // below n_neurons = jump_sum.len(), every synapse id below
            // n_synapses = w.len() (Wiring::new, asserted above).
            unsafe {
                #[cfg(target_arch = "x86_64")]
                if i + AHEAD < n {
                    // A prefetch hint to an address inside `w`; SSE is part
                    // of the x86-64 baseline.
                    let ahead = *syns.get_unchecked(i + AHEAD) as usize;
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        w.as_ptr().add(ahead) as *const i8,
                    );
                }
                let (t, s) = (*targets.get_unchecked(i), *syns.get_unchecked(i));
                *jump_sum.get_unchecked_mut(t as usize) += *w.get_unchecked(s as usize) * a;
            }
        }
    }

    /// Copies the interleaved `(e, f)` pairs of neuron `k`'s synapses into
    /// `out` (slot order), `lo` being its first synapse.
    #[inline]
    pub fn gather(&self, k: usize, lo: usize, ef: &[f64], out: &mut [f64]) {
        for r in &self.runs[self.run_off[k]..self.run_off[k + 1]] {
            let (c, s, len) = (r.channel as usize, r.synapse as usize, r.len as usize);
            copy_short(
                &mut out[2 * (s - lo)..2 * (s - lo + len)],
                &ef[2 * c..2 * (c + len)],
            );
        }
    }
}

/// `dst.copy_from_slice(src)`, for the short runs of a gather (a
/// presynaptic circuit's K pairs, K ~ 2-10) as at most two fixed-size
/// copies (overlapping) instead of a libc `memcpy` call per run (the calls
/// were ~5 % of a paper-scale step's samples); long runs (the inputs) take
/// `memcpy`.
#[inline]
fn copy_short(dst: &mut [f64], src: &[f64]) {
    let n = src.len();
    assert_eq!(dst.len(), n);
    match n {
        0..=3 => dst.copy_from_slice(src),
        4..=7 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[n - 4..].copy_from_slice(&src[n - 4..]);
        }
        8..=16 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..].copy_from_slice(&src[n - 8..]);
        }
        _ => dst.copy_from_slice(src),
    }
}

fn channel(net: &Network, per_synapse: bool, s: usize) -> usize {
    if per_synapse {
        s
    } else {
        net.synapses[s].source
    }
}

/// Runs of consecutive channels of each neuron's incoming synapses, the
/// first recurrent synapse of each neuron and the largest in-degree.
fn incoming_runs(net: &Network, per_synapse: bool) -> (Vec<Run>, Vec<usize>, Vec<usize>, usize) {
    let n = net.n_neurons();
    let mut runs: Vec<Run> = Vec::new();
    let mut run_off = Vec::with_capacity(n + 1);
    let mut split = Vec::with_capacity(n);
    let mut max_in = 0;
    for k in 0..n {
        run_off.push(runs.len());
        let first = runs.len();
        let inc = net.incoming(k);
        max_in = max_in.max(inc.len());
        split.push(
            inc.start + net.synapses[inc.clone()].partition_point(|s| s.source < net.n_inputs),
        );
        for s in inc {
            let c = channel(net, per_synapse, s) as u32;
            let s = s as u32;
            match runs[first..].last_mut() {
                Some(r) if r.channel + r.len == c && r.synapse + r.len == s => r.len += 1,
                _ => runs.push(Run {
                    channel: c,
                    synapse: s,
                    len: 1,
                }),
            }
        }
    }
    run_off.push(runs.len());
    (runs, run_off, split, max_in)
}

/// The channels of each source, as a list and offsets.
fn source_channels(net: &Network, per_synapse: bool) -> (Vec<u32>, Vec<usize>) {
    if !per_synapse {
        return (
            (0..net.n_sources() as u32).collect(),
            (0..=net.n_sources()).collect(),
        );
    }
    let mut count = vec![0usize; net.n_sources() + 1];
    for syn in &net.synapses {
        count[syn.source + 1] += 1;
    }
    for j in 0..net.n_sources() {
        count[j + 1] += count[j];
    }
    let mut fill = count.clone();
    let mut chans = vec![0u32; net.synapses.len()];
    for (s, syn) in net.synapses.iter().enumerate() {
        chans[fill[syn.source]] = s as u32;
        fill[syn.source] += 1;
    }
    (chans, count)
}

/// Outgoing synapses of each channel (counting sort, ascending ids).
fn outgoing(
    net: &Network,
    per_synapse: bool,
    n_channels: usize,
) -> (Vec<u32>, Vec<u32>, Vec<usize>) {
    let n_syn = net.synapses.len();
    let mut out_off = vec![0usize; n_channels + 1];
    for s in 0..n_syn {
        out_off[channel(net, per_synapse, s) + 1] += 1;
    }
    for c in 0..n_channels {
        out_off[c + 1] += out_off[c];
    }
    let mut fill = out_off.clone();
    let mut out_target = vec![0u32; n_syn];
    let mut out_syn = vec![0u32; n_syn];
    for (s, syn) in net.synapses.iter().enumerate() {
        let c = channel(net, per_synapse, s);
        // Wiring::scatter indexes the neurons by these without checks.
        assert!(
            syn.target < net.n_neurons(),
            "synapse {s}: no neuron {}",
            syn.target
        );
        out_target[fill[c]] = syn.target as u32;
        out_syn[fill[c]] = s as u32;
        fill[c] += 1;
    }
    (out_target, out_syn, out_off)
}

#[cfg(test)]
mod tests {
    use super::copy_short;

    #[test]
    fn copy_short_copies_every_length() {
        let src: Vec<f64> = (0..64).map(|i| i as f64 + 0.5).collect();
        for n in 0..=40 {
            let mut dst = vec![-1.0; n + 2];
            copy_short(&mut dst[1..n + 1], &src[3..3 + n]);
            assert_eq!(&dst[1..n + 1], &src[3..3 + n], "n = {n}");
            assert_eq!(
                (dst[0], dst[n + 1]),
                (-1.0, -1.0),
                "n = {n}: outside untouched"
            );
        }
    }
}
