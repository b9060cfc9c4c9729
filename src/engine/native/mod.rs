//! The native reference engine: model.md §2 step by step, single-threaded,
//! with same-step soft-WTA normalisation.
//!
//! EPSP traces and STP state live per *channel*: one per source (the
//! original: all outgoing synapses of a source share them) or one per synapse
//! (`stp_draw = "per_synapse"`).
//!
//! How it is fast (docs/benchmarks.md has the profile):
//! - **Potentials are kept, not recomputed.** The traces are linear, so each
//!   neuron carries `E_k = sum_j w_kj e_j` and `F_k = sum_j w_kj f_j` and
//!   `u_k = b_k + E_k - F_k`. Per step they follow the traces' own Euler step
//!   (`E += J - E*dt/tau_decay`, same for `F` with `tau_rise`), where
//!   `J_k = sum w_kj A_j` over this step's spiking sources is scattered along
//!   their outgoing synapses; a weight change `dw` adds `dw*e_j`, `dw*f_j`.
//!   The cost per step is proportional to spikes times fan-out instead of the
//!   synapse count. The result equals `sum_j w_kj (e_j - f_j)` up to
//!   rounding (the sums are taken in a different order); the rounding error
//!   decays with the traces and stays ~1e-15 relative.
//!   STDP runs before the trace update (it reads only this step's `Y`), so
//!   the jumps are scattered with the updated weights.
//! - **Vectorised exponentials and STDP.** STDP needs `exp(-S)` and `exp(w)`
//!   for every synapse of a spiking neuron, the soft WTA and the spike law
//!   one `exp` per neuron. A polynomial `exp` within 2 ulp of libm's
//!   ([`exp_into`]) and the STDP update of a neuron's synapses run four lanes
//!   at a time with AVX2 + FMA when the CPU has them; the scalar path does
//!   the same operations in the same order (`mul_add` is exactly rounded on
//!   both), so results do not depend on the CPU. The STP updates (a few per
//!   step) keep libm's `exp`.
//! - Spike draws stay one uniform per neuron per step from the `Spikes`
//!   stream, in neuron order (filled in one block: the same `u64` sequence),
//!   so the draw sequence does not depend on any of this.

use anyhow::Result;
use rand::Rng;

use super::{Engine, Job, Outcome, Progress};
use crate::model::config::{SpikeLaw, StpVariant};
use crate::model::equations::{self, StpState};
use crate::model::input::StepSpikes;
use crate::model::network::{Network, StpParams};
use crate::model::record::Recording;
use crate::model::rng::{self, Stream};

pub struct NativeEngine;

/// A run of a neuron's synapses reading consecutive channels.
#[derive(Debug, Clone, Copy)]
struct Run {
    channel: u32,
    /// Global synapse index of the first synapse of the run.
    synapse: u32,
    len: u32,
}

/// Connectivity in the forms the step loop reads.
struct Wiring {
    n_channels: usize,
    per_synapse: bool,
    /// Runs of each neuron's incoming synapses: `runs[run_off[k]..run_off[k+1]]`.
    runs: Vec<Run>,
    run_off: Vec<usize>,
    /// First recurrent synapse of each neuron (inputs come first: synapses
    /// are sorted by source and inputs have the lowest source ids).
    split: Vec<usize>,
    /// Channels of each source: `src_chan[src_off[j]..src_off[j+1]]`.
    src_chan: Vec<u32>,
    src_off: Vec<usize>,
    /// Outgoing synapses of each channel, ascending: targets and synapse ids
    /// `out_*[out_off[c]..out_off[c+1]]`.
    out_target: Vec<u32>,
    out_syn: Vec<u32>,
    out_off: Vec<usize>,
    max_in: usize,
}

impl Wiring {
    fn new(net: &Network) -> Wiring {
        let n = net.n_neurons();
        let n_syn = net.synapses.len();
        let per_synapse = net.stp_per_synapse;
        assert!(
            n_syn < u32::MAX as usize && net.n_sources() < u32::MAX as usize,
            "the native engine indexes synapses with u32"
        );
        let channel_of = |s: usize| {
            if per_synapse {
                s
            } else {
                net.synapses[s].source
            }
        };
        let n_channels = if per_synapse { n_syn } else { net.n_sources() };
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
                let c = channel_of(s) as u32;
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

        // Channels of each source.
        let (src_chan, src_off) = if per_synapse {
            let mut count = vec![0usize; net.n_sources() + 1];
            for syn in &net.synapses {
                count[syn.source + 1] += 1;
            }
            for j in 0..net.n_sources() {
                count[j + 1] += count[j];
            }
            let mut fill = count.clone();
            let mut chans = vec![0u32; n_syn];
            for (s, syn) in net.synapses.iter().enumerate() {
                chans[fill[syn.source]] = s as u32;
                fill[syn.source] += 1;
            }
            (chans, count)
        } else {
            (
                (0..net.n_sources() as u32).collect(),
                (0..=net.n_sources()).collect(),
            )
        };

        // Outgoing synapses of each channel (counting sort, ascending ids).
        let mut out_off = vec![0usize; n_channels + 1];
        for s in 0..n_syn {
            out_off[channel_of(s) + 1] += 1;
        }
        for c in 0..n_channels {
            out_off[c + 1] += out_off[c];
        }
        let mut fill = out_off.clone();
        let mut out_target = vec![0u32; n_syn];
        let mut out_syn = vec![0u32; n_syn];
        for (s, syn) in net.synapses.iter().enumerate() {
            let c = channel_of(s);
            out_target[fill[c]] = syn.target as u32;
            out_syn[fill[c]] = s as u32;
            fill[c] += 1;
        }
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
        }
    }

    fn channel_of(&self, net: &Network, s: usize) -> usize {
        if self.per_synapse {
            s
        } else {
            net.synapses[s].source
        }
    }

    fn channels_of(&self, j: usize) -> &[u32] {
        &self.src_chan[self.src_off[j]..self.src_off[j + 1]]
    }

    /// Copies the `(e, f)` pairs of neuron `k`'s synapses into `out` (slot
    /// order), `lo` being its first synapse.
    #[inline]
    fn gather(&self, k: usize, lo: usize, ef: &[[f64; 2]], out: &mut [[f64; 2]]) {
        for r in &self.runs[self.run_off[k]..self.run_off[k + 1]] {
            let (c, s, len) = (r.channel as usize, r.synapse as usize, r.len as usize);
            out[s - lo..s - lo + len].copy_from_slice(&ef[c..c + len]);
        }
    }
}

/// Per-channel state.
struct Channels {
    /// The traces `(e, f)`, interleaved: one gather fetches both.
    ef: Vec<[f64; 2]>,
    /// Jump `y*A` of this step, 0 elsewhere.
    jump: Vec<f64>,
    stp: Vec<StpState>,
    params: Vec<StpParams>,
    variant: Vec<StpVariant>,
}

/// Scratch buffer of one STDP update (one neuron's synapses).
struct Scratch {
    ef: Vec<[f64; 2]>,
}

impl Engine for NativeEngine {
    fn name(&self) -> &'static str {
        "native"
    }

    fn run(&mut self, job: &Job, progress: Progress) -> Result<Outcome> {
        let net = job.network;
        let mp = job.model;
        let n_neurons = net.n_neurons();
        let n_syn = net.synapses.len();
        let wiring = Wiring::new(net);
        let n_channels = wiring.n_channels;

        let mut ch_params = Vec::with_capacity(n_channels);
        let mut ch_variant = Vec::with_capacity(n_channels);
        if wiring.per_synapse {
            for syn in &net.synapses {
                ch_params.push(syn.stp);
                ch_variant.push(equations::variant_for(
                    mp.stp,
                    net.is_input_source(syn.source),
                ));
            }
        } else {
            for j in 0..net.n_sources() {
                ch_params.push(net.source_stp[j]);
                ch_variant.push(equations::variant_for(mp.stp, net.is_input_source(j)));
            }
        }
        let mut ch = Channels {
            ef: vec![[0.0; 2]; n_channels],
            jump: vec![0.0; n_channels],
            stp: ch_params.iter().map(StpState::new).collect(),
            params: ch_params,
            variant: ch_variant,
        };

        let mut w: Vec<f64> = net.synapses.iter().map(|s| s.w0).collect();
        let mut sq = vec![0.0; n_syn];
        let mut qq = vec![1.0; n_syn];
        let mut bias = net.bias0.clone();
        let (mut bias_s, mut bias_q) = (vec![0.0; n_neurons], vec![1.0; n_neurons]);
        // Weighted trace sums E_k, F_k and this step's jumps J_k.
        let mut pe = vec![0.0; n_neurons];
        let mut pf = vec![0.0; n_neurons];
        let mut pj = vec![0.0; n_neurons];
        let mut u = vec![0.0; n_neurons];
        let mut rho = vec![0.0; n_neurons];
        let mut tmp = vec![0.0; n_neurons];
        let mut prob = vec![0.0; n_neurons];
        let mut draws = vec![0u64; n_neurons];
        let mut spiked = vec![false; n_neurons];
        let mut spiking: Vec<u32> = Vec::new();
        let mut spike_events: Vec<(u64, u32)> = Vec::new();
        let mut sources: Vec<usize> = Vec::new();
        let mut scratch = Scratch {
            ef: vec![[0.0; 2]; wiring.max_in],
        };
        let mut rng = rng::stream(job.seed, Stream::Spikes);
        let mut n_train: u64 = 0;
        let plan = job.record;
        let mut rec = Recording::reserved_for(job.record, job.schedule);
        // exp(-x) of the spike law for x = r dt: the argument's sign and
        // scale, in equations::spike_probability's operation order.
        let rate_scale = mp.r_max_hz;
        let dt_s = mp.dt;

        let n_steps = job.schedule.n_steps();
        for (pi, phase) in job.schedule.phases.iter().enumerate() {
            if phase.reset {
                ch.ef.fill([0.0; 2]);
                pe.fill(0.0);
                pf.fill(0.0);
                for st in &mut ch.stp {
                    st.reset(phase.start);
                }
            }
            for t in phase.start..phase.end {
                // 1. Unweighted EPSPs Y = e - f are formed where they are
                // read (learning, recording) from the traces of this step.
                // 2. Potentials.
                for k in 0..n_neurons {
                    u[k] = bias[k] + (pe[k] - pf[k]);
                }
                // 3. Soft WTA: exp(u - max) per circuit, then normalise.
                for c in &net.circuits {
                    let r = c.first_neuron..c.first_neuron + c.k;
                    let max = u[r.clone()]
                        .iter()
                        .copied()
                        .fold(f64::NEG_INFINITY, f64::max);
                    for (x, &v) in tmp[r.clone()].iter_mut().zip(&u[r]) {
                        *x = v - max;
                    }
                }
                exp_into::<false>(&tmp, &mut rho);
                for c in &net.circuits {
                    let r = c.first_neuron..c.first_neuron + c.k;
                    let sum: f64 = rho[r.clone()].iter().sum();
                    for x in &mut rho[r] {
                        *x /= sum;
                    }
                }
                // 4. Spikes.
                spiking.clear();
                match job.forced {
                    Some(forced) => {
                        spiked.fill(false);
                        if t < forced.n_steps() {
                            for &k in forced.at(t) {
                                spiked[k as usize] = true;
                                spiking.push(k);
                            }
                        }
                    }
                    None => {
                        // x = r dt, in equations::spike_probability's order.
                        for (x, &r) in tmp.iter_mut().zip(&rho) {
                            *x = rate_scale * r * dt_s * 1e-3;
                        }
                        match mp.spike_law {
                            SpikeLaw::Exponential => {
                                exp_into::<true>(&tmp, &mut prob);
                                for p in prob.iter_mut() {
                                    *p = 1.0 - *p;
                                }
                            }
                            SpikeLaw::Linear => prob.copy_from_slice(&tmp),
                        }
                        // One uniform per neuron in neuron order, as
                        // `rng.random::<f64>()` makes it: the 53 high bits
                        // of a u64 times 2^-53. The block fill yields the
                        // same u64 sequence as one next_u64 per neuron.
                        rng.fill(&mut draws[..]);
                        for k in 0..n_neurons {
                            let uni = (draws[k] >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
                            let z = uni < prob[k];
                            spiked[k] = z;
                            if z {
                                spiking.push(k as u32);
                            }
                        }
                    }
                }
                if plan.samples_neurons(pi, t) {
                    rec.neuron_steps.push(t);
                    rec.u.extend(plan.neurons.iter().map(|&k| u[k]));
                    rec.rho.extend(plan.neurons.iter().map(|&k| rho[k]));
                }
                if plan.samples_synapses(t) {
                    rec.synapse_steps.push(t);
                    for &s in &plan.synapses {
                        rec.weight.push(w[s]);
                        let [e, f] = ch.ef[wiring.channel_of(net, s)];
                        rec.epsp.push(e - f);
                    }
                }
                // 7. Learning, with Y from item 1. It only needs this step's
                // traces, so it runs before their update (item 6): a weight
                // change dw moves E and F by dw times the current traces, and
                // the jumps below are then scattered with the new weights;
                // E and F stay sum w*e, sum w*f.
                if phase.train {
                    n_train += 1;
                    for &k in &spiking {
                        let k = k as usize;
                        let inc = net.incoming(k);
                        let lo = inc.start;
                        let (a, b) = match (mp.learn_input, mp.learn_recurrent) {
                            (true, true) => (inc.start, inc.end),
                            (true, false) => (inc.start, wiring.split[k]),
                            (false, true) => (wiring.split[k], inc.end),
                            (false, false) => continue,
                        };
                        if a == b {
                            continue;
                        }
                        wiring.gather(k, lo, &ch.ef, &mut scratch.ef[..inc.len()]);
                        let (de, df) = stdp(
                            &mut w[a..b],
                            &mut sq[a..b],
                            &mut qq[a..b],
                            &scratch.ef[a - lo..b - lo],
                            mp.eta,
                            mp.variance_tracking,
                            n_train,
                        );
                        pe[k] += de;
                        pf[k] += df;
                    }
                    if mp.bias_learning {
                        for k in 0..n_neurons {
                            let rate = equations::learning_rate(
                                mp.eta,
                                bias_s[k],
                                bias_q[k],
                                mp.variance_tracking,
                                n_train,
                            );
                            let z = if spiked[k] { 1.0 } else { 0.0 };
                            equations::stdp_update(
                                &mut bias[k],
                                &mut bias_s[k],
                                &mut bias_q[k],
                                z,
                                rate,
                                mp.variance_tracking,
                            );
                        }
                    }
                }
                // 5.-6. Input and network spikes drive the traces with the
                // amplitude from before this step's STP update; the jumps
                // reach the potentials along the outgoing synapses.
                sources.clear();
                sources.extend(job.input.at(t).iter().map(|&c| c as usize));
                sources.extend(spiking.iter().map(|&k| net.neuron_source(k as usize)));
                for &j in &sources {
                    for &c in wiring.channels_of(j) {
                        let c = c as usize;
                        let a = ch.stp[c].amplitude(ch.variant[c]);
                        ch.jump[c] = a;
                        let (lo, hi) = (wiring.out_off[c], wiring.out_off[c + 1]);
                        scatter(
                            &mut pj,
                            &w,
                            &wiring.out_target[lo..hi],
                            &wiring.out_syn[lo..hi],
                            a,
                        );
                    }
                }
                trace_steps_ef(&mut ch.ef, &ch.jump, mp.kd, mp.kr);
                trace_steps(&mut pe, &pj, mp.kd);
                trace_steps(&mut pf, &pj, mp.kr);
                pj.fill(0.0);
                // 8. STP update of the sources that spiked.
                for &j in &sources {
                    for &c in wiring.channels_of(j) {
                        let c = c as usize;
                        ch.jump[c] = 0.0;
                        ch.stp[c].on_spike(&ch.params[c], ch.variant[c], t, mp.dt);
                    }
                }
                spike_events.extend(spiking.iter().map(|&k| (t, k)));
                if t % 1000 == 999 {
                    progress(t + 1);
                }
            }
        }
        progress(n_steps);
        Ok(Outcome {
            spikes: StepSpikes::from_events(n_neurons, n_steps, spike_events),
            recording: rec,
            weights: w,
            s: sq,
            q: qq,
            bias,
            engine_version: format!("native {}", env!("CARGO_PKG_VERSION")),
        })
    }
}

/// `J_k += w_s * a` along one channel's outgoing synapses. The weights are
/// stored by target, so these loads hit one cache line each, far apart; they
/// are prefetched a few synapses ahead (the dominant cost of large networks).
#[inline]
fn scatter(pj: &mut [f64], w: &[f64], targets: &[u32], syns: &[u32], a: f64) {
    const AHEAD: usize = 12;
    let n = targets.len().min(syns.len());
    for i in 0..n {
        #[cfg(target_arch = "x86_64")]
        if let Some(&ahead) = syns.get(i + AHEAD) {
            if let Some(p) = w.get(ahead as usize) {
                // SAFETY: a prefetch hint to an address inside `w`; SSE is
                // part of the x86-64 baseline.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        p as *const f64 as *const i8,
                    )
                };
            }
        }
        pj[targets[i] as usize] += w[syns[i] as usize] * a;
    }
}

/// Item 6 for a whole array: `x += a - x*k` (equations::trace_step).
#[inline]
fn trace_steps(x: &mut [f64], a: &[f64], k: f64) {
    for (x, &a) in x.iter_mut().zip(a) {
        *x = equations::trace_step(*x, a, k);
    }
}

/// Item 6 for the interleaved channel traces: `e` with `kd`, `f` with `kr`.
#[inline]
fn trace_steps_ef(ef: &mut [[f64; 2]], a: &[f64], kd: f64, kr: f64) {
    for (x, &a) in ef.iter_mut().zip(a) {
        x[0] = equations::trace_step(x[0], a, kd);
        x[1] = equations::trace_step(x[1], a, kr);
    }
}

/// §3 for one spiking neuron's learning synapses: updates `w`, `s`, `q`
/// with `Y = e - f` from the gathered `ef`, and returns `sum dw*e` and
/// `sum dw*f` (four partial sums over `i mod 4`, then the tail). AVX2 + FMA
/// when the CPU has them; the scalar path does the same operations in the
/// same order, so both give the same bits.
#[allow(clippy::too_many_arguments)]
fn stdp(
    w: &mut [f64],
    s: &mut [f64],
    q: &mut [f64],
    ef: &[[f64; 2]],
    eta: f64,
    vt: bool,
    n_train: u64,
) -> (f64, f64) {
    let n = w.len();
    let (s, q, ef) = (&mut s[..n], &mut q[..n], &ef[..n]);
    let rate_n = eta / n_train as f64;
    #[cfg(target_arch = "x86_64")]
    {
        if simd() {
            // SAFETY: the CPU has AVX2 and FMA (checked at run time).
            return unsafe { simd::stdp(w, s, q, ef, eta, rate_n, vt) };
        }
    }
    stdp_scalar(w, s, q, ef, eta, rate_n, vt)
}

/// The scalar path of [`stdp`].
#[allow(clippy::too_many_arguments)]
fn stdp_scalar(
    w: &mut [f64],
    s: &mut [f64],
    q: &mut [f64],
    ef: &[[f64; 2]],
    eta: f64,
    rate_n: f64,
    vt: bool,
) -> (f64, f64) {
    let n = w.len();
    let mut de = [0.0f64; 4];
    let mut df = [0.0f64; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        for l in 0..4 {
            let i = 4 * c + l;
            let d = stdp_one(i, w, s, q, ef, eta, rate_n, vt);
            de[l] += d * ef[i][0];
            df[l] += d * ef[i][1];
        }
    }
    stdp_finish(w, s, q, ef, eta, rate_n, vt, 4 * chunks, de, df)
}

/// The tail `start..` of [`stdp`] and the final sums.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn stdp_finish(
    w: &mut [f64],
    s: &mut [f64],
    q: &mut [f64],
    ef: &[[f64; 2]],
    eta: f64,
    rate_n: f64,
    vt: bool,
    start: usize,
    de: [f64; 4],
    df: [f64; 4],
) -> (f64, f64) {
    let (mut te, mut tf) = (0.0, 0.0);
    for i in start..w.len() {
        let d = stdp_one(i, w, s, q, ef, eta, rate_n, vt);
        te += d * ef[i][0];
        tf += d * ef[i][1];
    }
    (
        (de[0] + de[1]) + (de[2] + de[3]) + te,
        (df[0] + df[1]) + (df[2] + df[3]) + tf,
    )
}

/// One synapse of [`stdp`], in equations::learning_rate / equations::stdp_update's
/// operation order; returns the weight change.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn stdp_one(
    i: usize,
    w: &mut [f64],
    s: &mut [f64],
    q: &mut [f64],
    ef: &[[f64; 2]],
    eta: f64,
    rate_n: f64,
    vt: bool,
) -> f64 {
    let rate = if vt {
        eta * (q[i] - s[i] * s[i]) / (exp1(-s[i]) + 1.0)
    } else {
        rate_n
    };
    let p = exp1(w[i]);
    let y = ef[i][0] - ef[i][1];
    let w0 = w[i];
    let w1 = w0 + rate * (y - p) / max(p, rate);
    w[i] = w1;
    if vt {
        s[i] += rate * (w1 - s[i]);
        q[i] += rate * (w1 * w1 - q[i]);
    }
    w1 - w0
}

/// `max` as `maxpd` computes it (`a > b ? a : b`); equals `f64::max` for the
/// non-NaN values that occur.
#[inline(always)]
fn max(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

/// `dst[i] = exp(src[i])` (or `exp(-src[i])` with `NEG`), within 2 ulp of
/// libm's `exp` (AVX2 + FMA when the CPU has them; the same bits either way).
pub fn exp_into<const NEG: bool>(src: &[f64], dst: &mut [f64]) {
    let dst = &mut dst[..src.len()];
    #[cfg(target_arch = "x86_64")]
    {
        if simd() {
            // SAFETY: the CPU has AVX2 and FMA (checked at run time).
            unsafe { simd::exp_into::<NEG>(src, dst) };
            return;
        }
    }
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = exp1(if NEG { -x } else { x });
    }
}

/// Whether the CPU has AVX2 and FMA (checked once).
#[cfg(target_arch = "x86_64")]
fn simd() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    })
}

/// Inputs with `|x| <= EXP_SAFE` take the polynomial; the rest (overflow,
/// underflow towards subnormals, NaN) libm's `exp`.
const EXP_SAFE: f64 = 700.0;

/// One `exp`: the polynomial inside the safe range, libm outside.
#[inline(always)]
fn exp1(x: f64) -> f64 {
    if x.abs() <= EXP_SAFE {
        exp_poly(x)
    } else {
        x.exp()
    }
}

const LOG2E: f64 = std::f64::consts::LOG2_E;
// fdlibm's split of ln 2: n * LN2_HI is exact for |n| < 2^11.
const LN2_HI: f64 = 0.693_147_180_369_123_8; // 0x3fe62e42fee00000
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10; // 0x3dea39ef35793c76
                                                 // 1.5 * 2^52: adding it rounds to an integer held in the low bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// Taylor coefficients 1/k!, k = 0..13.
const C: [f64; 14] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// exp(x) for `|x| <= 708`: `x = n ln2 + r`, `|r| <= ln2/2`, Taylor
/// polynomial of degree 13 for `e^r` (truncation < 5e-18), times `2^n`.
/// Fused multiply-adds throughout: one rounding each, and the same bits with
/// or without hardware FMA (without, `mul_add` is a libm call).
#[inline(always)]
fn exp_poly(x: f64) -> f64 {
    let t = x.mul_add(LOG2E, SHIFT);
    let n = t - SHIFT;
    let r = (-n).mul_add(LN2_HI, x);
    let r = (-n).mul_add(LN2_LO, r);
    let mut p = C[13];
    for i in (0..13).rev() {
        p = p.mul_add(r, C[i]);
    }
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    p * scale
}

/// The AVX2 + FMA kernels: four lanes doing exactly the scalar operations.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{exp1, stdp_finish, stdp_one, C, EXP_SAFE, LN2_HI, LN2_LO, LOG2E, SHIFT};
    use std::arch::x86_64::*;

    /// [`super::exp_poly`] on four lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn exp4(x: __m256d) -> __m256d {
        let shift = _mm256_set1_pd(SHIFT);
        let t = _mm256_fmadd_pd(x, _mm256_set1_pd(LOG2E), shift);
        let n = _mm256_sub_pd(t, shift);
        // -(n*c) + x, one rounding: (-n).mul_add(c, x).
        let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_HI), x);
        let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_LO), r);
        let mut p = _mm256_set1_pd(C[13]);
        for i in (0..13).rev() {
            p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(C[i]));
        }
        let bits = _mm256_slli_epi64::<52>(_mm256_add_epi64(
            _mm256_castpd_si256(t),
            _mm256_set1_epi64x(1023),
        ));
        _mm256_mul_pd(p, _mm256_castsi256_pd(bits))
    }

    /// All four lanes inside the polynomial's range.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn safe4(x: __m256d) -> bool {
        let abs = _mm256_andnot_pd(_mm256_set1_pd(-0.0), x);
        _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LE_OQ>(abs, _mm256_set1_pd(EXP_SAFE))) == 0xF
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp_into<const NEG: bool>(src: &[f64], dst: &mut [f64]) {
        let n = src.len().min(dst.len());
        let chunks = n / 4;
        let sign = _mm256_set1_pd(if NEG { -0.0 } else { 0.0 });
        for c in 0..chunks {
            let i = 4 * c;
            let x = _mm256_xor_pd(_mm256_loadu_pd(src.as_ptr().add(i)), sign);
            if safe4(x) {
                _mm256_storeu_pd(dst.as_mut_ptr().add(i), exp4(x));
            } else {
                for l in i..i + 4 {
                    dst[l] = exp1(if NEG { -src[l] } else { src[l] });
                }
            }
        }
        for l in 4 * chunks..n {
            dst[l] = exp1(if NEG { -src[l] } else { src[l] });
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn stdp(
        w: &mut [f64],
        s: &mut [f64],
        q: &mut [f64],
        ef: &[[f64; 2]],
        eta: f64,
        rate_n: f64,
        vt: bool,
    ) -> (f64, f64) {
        let n = w.len();
        assert!(s.len() >= n && q.len() >= n && ef.len() >= n);
        let chunks = n / 4;
        let mut de = _mm256_setzero_pd();
        let mut df = _mm256_setzero_pd();
        let one = _mm256_set1_pd(1.0);
        let etav = _mm256_set1_pd(eta);
        let rate_nv = _mm256_set1_pd(rate_n);
        let neg = _mm256_set1_pd(-0.0);
        let efp = ef.as_ptr() as *const f64;
        for c in 0..chunks {
            let i = 4 * c;
            let wv = _mm256_loadu_pd(w.as_ptr().add(i));
            let sv = _mm256_loadu_pd(s.as_ptr().add(i));
            let qv = _mm256_loadu_pd(q.as_ptr().add(i));
            // [e0 f0 e1 f1], [e2 f2 e3 f3] -> [e0 e1 e2 e3], [f0 f1 f2 f3].
            let a = _mm256_loadu_pd(efp.add(2 * i));
            let b = _mm256_loadu_pd(efp.add(2 * i + 4));
            let e = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_unpacklo_pd(a, b));
            let f = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_unpackhi_pd(a, b));
            let ns = _mm256_xor_pd(sv, neg);
            if !(safe4(wv) && (!vt || safe4(ns))) {
                // Rare: a lane outside the polynomial's range.
                let mut dd = [0.0f64; 4];
                for (l, d) in dd.iter_mut().enumerate() {
                    *d = stdp_one(i + l, w, s, q, ef, eta, rate_n, vt);
                }
                let d = _mm256_loadu_pd(dd.as_ptr());
                de = _mm256_add_pd(de, _mm256_mul_pd(d, e));
                df = _mm256_add_pd(df, _mm256_mul_pd(d, f));
                continue;
            }
            let rate = if vt {
                // eta * (q - s*s) / (exp(-s) + 1)
                _mm256_div_pd(
                    _mm256_mul_pd(etav, _mm256_sub_pd(qv, _mm256_mul_pd(sv, sv))),
                    _mm256_add_pd(exp4(ns), one),
                )
            } else {
                rate_nv
            };
            let p = exp4(wv);
            let y = _mm256_sub_pd(e, f);
            // w + rate * (y - p) / max(p, rate)
            let w1 = _mm256_add_pd(
                wv,
                _mm256_div_pd(
                    _mm256_mul_pd(rate, _mm256_sub_pd(y, p)),
                    _mm256_max_pd(p, rate),
                ),
            );
            _mm256_storeu_pd(w.as_mut_ptr().add(i), w1);
            if vt {
                let s1 = _mm256_add_pd(sv, _mm256_mul_pd(rate, _mm256_sub_pd(w1, sv)));
                let q1 = _mm256_add_pd(
                    qv,
                    _mm256_mul_pd(rate, _mm256_sub_pd(_mm256_mul_pd(w1, w1), qv)),
                );
                _mm256_storeu_pd(s.as_mut_ptr().add(i), s1);
                _mm256_storeu_pd(q.as_mut_ptr().add(i), q1);
            }
            let d = _mm256_sub_pd(w1, wv);
            de = _mm256_add_pd(de, _mm256_mul_pd(d, e));
            df = _mm256_add_pd(df, _mm256_mul_pd(d, f));
        }
        let mut dea = [0.0f64; 4];
        let mut dfa = [0.0f64; 4];
        _mm256_storeu_pd(dea.as_mut_ptr(), de);
        _mm256_storeu_pd(dfa.as_mut_ptr(), df);
        stdp_finish(w, s, q, ef, eta, rate_n, vt, 4 * chunks, dea, dfa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let mut xs: Vec<f64> = (0..200_001).map(|i| -745.0 + i as f64 * 0.0073).collect();
        xs.extend((0..100_001).map(|i| -1.0 + i as f64 * 2e-5));
        xs.extend([
            0.0,
            -0.0,
            1e-300,
            -1e-300,
            709.7,
            710.0,
            -746.0,
            f64::NEG_INFINITY,
        ]);
        let mut ys = vec![0.0; xs.len()];
        exp_into::<false>(&xs, &mut ys);
        let mut worst = 0;
        for (&x, &y) in xs.iter().zip(&ys) {
            let r = x.exp();
            if x.abs() <= EXP_SAFE {
                worst = worst.max(ulps(y, r));
            } else {
                assert_eq!(y.to_bits(), r.to_bits(), "exp({x})");
            }
        }
        assert!(worst <= 2, "max error {worst} ulp");
        let mut nan = [0.0; 2];
        exp_into::<false>(&[f64::NAN, 1.0], &mut nan);
        assert!(nan[0].is_nan());
        let mut neg = vec![0.0; xs.len()];
        exp_into::<true>(&xs.iter().map(|x| -x).collect::<Vec<_>>(), &mut neg);
        assert_eq!(neg, ys);
        let body: Vec<f64> = xs.iter().map(|&x| exp1(x)).collect();
        assert_eq!(
            body.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            ys.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "scalar and AVX2 paths agree bit for bit"
        );
    }

    #[test]
    fn stdp_simd_and_scalar_agree_bit_for_bit() {
        #[cfg(target_arch = "x86_64")]
        if simd() {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            for n in [0usize, 1, 3, 4, 7, 37, 203] {
                for vt in [true, false] {
                    let mut w: Vec<f64> = (0..n).map(|_| rng.random_range(-8.0..3.0)).collect();
                    let mut s: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
                    let mut q: Vec<f64> = s.iter().map(|x| x * x + rng.random::<f64>()).collect();
                    if n > 5 {
                        w[5] = -800.0; // a lane outside the polynomial's range
                    }
                    let ef: Vec<[f64; 2]> = (0..n)
                        .map(|_| [rng.random::<f64>(), rng.random::<f64>() * 0.5])
                        .collect();
                    let (mut w2, mut s2, mut q2) = (w.clone(), s.clone(), q.clone());
                    let a = unsafe { simd::stdp(&mut w, &mut s, &mut q, &ef, 0.05, 1e-3, vt) };
                    let b = stdp_scalar(&mut w2, &mut s2, &mut q2, &ef, 0.05, 1e-3, vt);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        (a.0.to_bits(), a.1.to_bits()),
                        (b.0.to_bits(), b.1.to_bits())
                    );
                    assert_eq!(bits(&w), bits(&w2));
                    assert_eq!(bits(&s), bits(&s2));
                    assert_eq!(bits(&q), bits(&q2));
                }
            }
        }
    }

    #[test]
    fn stdp_matches_the_model_functions() {
        let mut w = vec![0.3, -2.0, -9.0, 1.0, 0.0];
        let mut s = vec![0.1, -0.5, 0.0, 0.7, 0.0];
        let mut q = vec![1.0, 0.9, 1.0, 1.2, 1.0];
        let ef = vec![[0.5, 0.1], [0.2, 0.2], [0.0, 0.0], [1.5, 0.3], [0.7, 0.6]];
        let (w0, s0, q0) = (w.clone(), s.clone(), q.clone());
        stdp(&mut w, &mut s, &mut q, &ef, 0.05, true, 7);
        for i in 0..5 {
            let (mut wr, mut sr, mut qr) = (w0[i], s0[i], q0[i]);
            let rate = equations::learning_rate(0.05, sr, qr, true, 7);
            equations::stdp_update(&mut wr, &mut sr, &mut qr, ef[i][0] - ef[i][1], rate, true);
            assert!((w[i] - wr).abs() <= 1e-15 * wr.abs().max(1.0), "w[{i}]");
            assert!((s[i] - sr).abs() <= 1e-15 && (q[i] - qr).abs() <= 1e-15);
        }
    }

    #[test]
    fn ln2_split_is_fdlibms() {
        assert_eq!(LN2_HI.to_bits(), 0x3fe6_2e42_fee0_0000);
        assert_eq!(LN2_LO.to_bits(), 0x3dea_39ef_3579_3c76);
    }
}
