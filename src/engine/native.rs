//! The native reference engine: model.md §2 step by step, single-threaded,
//! with same-step soft-WTA normalisation.
//!
//! EPSP traces and STP state live per *channel*: one per source (the
//! original: all outgoing synapses of a source share them) or one per synapse
//! (`stp_draw = "per_synapse"`). A neuron's synapses read consecutive channels
//! in runs, so the potential is a few dense dot products.

use anyhow::Result;
use rand::Rng;

use super::{Engine, Job, Outcome, Progress};
use crate::config::StpVariant;
use crate::input::StepSpikes;
use crate::model::{self, StpState};
use crate::network::StpParams;
use crate::record::Recording;
use crate::rng::{self, Stream};

pub struct NativeEngine;

/// A run of a neuron's slots reading consecutive channels.
#[derive(Debug, Clone, Copy)]
struct Run {
    channel: usize,
    /// Global synapse index of the first synapse of the run.
    synapse: usize,
    len: usize,
}

/// Per-channel state.
struct Channels {
    e: Vec<f64>,
    f: Vec<f64>,
    y: Vec<f64>,
    /// Jump `y*A` of this step, 0 elsewhere.
    jump: Vec<f64>,
    stp: Vec<StpState>,
    params: Vec<StpParams>,
    variant: Vec<StpVariant>,
}

/// Sum of `w[i] * y[i]` with four accumulators (vectorises).
#[inline]
fn dot(w: &[f64], y: &[f64]) -> f64 {
    let n = w.len().min(y.len());
    let (w, y) = (&w[..n], &y[..n]);
    let mut acc = [0.0f64; 4];
    let chunks = n / 4;
    for i in 0..chunks {
        for l in 0..4 {
            acc[l] += w[4 * i + l] * y[4 * i + l];
        }
    }
    let mut tail = 0.0;
    for i in 4 * chunks..n {
        tail += w[i] * y[i];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
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
        let per_synapse = net.stp_per_synapse;

        // Channel of each synapse, the runs of each neuron, and the channels
        // each source drives.
        let channel_of = |s: usize| {
            if per_synapse {
                s
            } else {
                net.synapses[s].source
            }
        };
        let n_channels = if per_synapse { n_syn } else { net.n_sources() };
        let mut runs: Vec<Vec<Run>> = Vec::with_capacity(n_neurons);
        for k in 0..n_neurons {
            let mut rk: Vec<Run> = Vec::new();
            for s in net.incoming(k) {
                let c = channel_of(s);
                match rk.last_mut() {
                    Some(r) if r.channel + r.len == c && r.synapse + r.len == s => r.len += 1,
                    _ => rk.push(Run {
                        channel: c,
                        synapse: s,
                        len: 1,
                    }),
                }
            }
            runs.push(rk);
        }
        let mut source_channels: Vec<Vec<usize>> = vec![Vec::new(); net.n_sources()];
        let mut ch_params = Vec::with_capacity(n_channels);
        let mut ch_variant = Vec::with_capacity(n_channels);
        if per_synapse {
            for (s, syn) in net.synapses.iter().enumerate() {
                source_channels[syn.source].push(s);
                ch_params.push(syn.stp);
                ch_variant.push(model::variant_for(mp.stp, net.is_input_source(syn.source)));
            }
        } else {
            for (j, chans) in source_channels.iter_mut().enumerate() {
                chans.push(j);
                ch_params.push(net.source_stp[j]);
                ch_variant.push(model::variant_for(mp.stp, net.is_input_source(j)));
            }
        }
        let mut ch = Channels {
            e: vec![0.0; n_channels],
            f: vec![0.0; n_channels],
            y: vec![0.0; n_channels],
            jump: vec![0.0; n_channels],
            stp: ch_params.iter().map(StpState::new).collect(),
            params: ch_params,
            variant: ch_variant,
        };
        // Which synapses learn (per population switch).
        let learns: Vec<bool> = net
            .synapses
            .iter()
            .map(|s| {
                if net.is_input_source(s.source) {
                    mp.learn_input
                } else {
                    mp.learn_recurrent
                }
            })
            .collect();

        let mut w: Vec<f64> = net.synapses.iter().map(|s| s.w0).collect();
        let mut sq = vec![0.0; n_syn];
        let mut qq = vec![1.0; n_syn];
        let mut bias = vec![0.0; n_neurons];
        let (mut bias_s, mut bias_q) = (vec![0.0; n_neurons], vec![1.0; n_neurons]);
        let mut u = vec![0.0; n_neurons];
        let mut rho = vec![0.0; n_neurons];
        let mut spiked = vec![false; n_neurons];
        let mut spiking: Vec<u32> = Vec::new();
        let mut spike_events: Vec<(u64, u32)> = Vec::new();
        let mut rng = rng::stream(job.seed, Stream::Spikes);
        let mut n_train: u64 = 0;
        let mut rec = Recording::default();
        let plan = job.record;

        let n_steps = job.schedule.n_steps();
        for (pi, phase) in job.schedule.phases.iter().enumerate() {
            if phase.reset {
                ch.e.fill(0.0);
                ch.f.fill(0.0);
                for st in &mut ch.stp {
                    st.reset(phase.start);
                }
            }
            for t in phase.start..phase.end {
                // 1. Unweighted EPSPs.
                for ((y, e), f) in ch.y.iter_mut().zip(&ch.e).zip(&ch.f) {
                    *y = e - f;
                }
                // 2. Potentials.
                for k in 0..n_neurons {
                    let mut acc = bias[k];
                    for r in &runs[k] {
                        acc += dot(
                            &w[r.synapse..r.synapse + r.len],
                            &ch.y[r.channel..r.channel + r.len],
                        );
                    }
                    u[k] = acc;
                }
                // 3. Soft WTA, 4. spikes.
                spiking.clear();
                for c in &net.circuits {
                    let range = c.first_neuron..c.first_neuron + c.k;
                    model::softmax(&u[range.clone()], &mut rho[range]);
                }
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
                        for k in 0..n_neurons {
                            let p =
                                model::spike_probability(mp.r_max_hz * rho[k], mp.dt, mp.spike_law);
                            let z = rng.random::<f64>() < p;
                            spiked[k] = z;
                            if z {
                                spiking.push(k as u32);
                            }
                        }
                    }
                }
                if plan.samples_neurons(pi, t) {
                    rec.neuron_steps.push(t);
                    for &k in &plan.neurons {
                        rec.u.push(u[k]);
                        rec.rho.push(rho[k]);
                    }
                }
                if plan.samples_synapses(t) {
                    rec.synapse_steps.push(t);
                    for &s in &plan.synapses {
                        rec.weight.push(w[s]);
                        rec.epsp.push(ch.y[channel_of(s)]);
                    }
                }
                // 5.-6. Input and network spikes drive the traces with the
                // amplitude from before this step's STP update.
                let inputs = job.input.at(t);
                let sources = inputs
                    .iter()
                    .map(|&c| c as usize)
                    .chain(spiking.iter().map(|&k| net.neuron_source(k as usize)));
                for j in sources.clone() {
                    for &c in &source_channels[j] {
                        ch.jump[c] = ch.stp[c].amplitude(ch.variant[c]);
                    }
                }
                for c in 0..n_channels {
                    ch.e[c] = model::trace_step(ch.e[c], ch.jump[c], mp.kd);
                    ch.f[c] = model::trace_step(ch.f[c], ch.jump[c], mp.kr);
                }
                // 7. Learning, with Y from item 1.
                if phase.train {
                    n_train += 1;
                    for &k in &spiking {
                        let k = k as usize;
                        for r in &runs[k] {
                            for i in 0..r.len {
                                let s = r.synapse + i;
                                if !learns[s] {
                                    continue;
                                }
                                let rate = model::learning_rate(
                                    mp.eta,
                                    sq[s],
                                    qq[s],
                                    mp.variance_tracking,
                                    n_train,
                                );
                                model::stdp_update(
                                    &mut w[s],
                                    &mut sq[s],
                                    &mut qq[s],
                                    ch.y[r.channel + i],
                                    rate,
                                    mp.variance_tracking,
                                );
                            }
                        }
                    }
                    if mp.bias_learning {
                        for k in 0..n_neurons {
                            let rate = model::learning_rate(
                                mp.eta,
                                bias_s[k],
                                bias_q[k],
                                mp.variance_tracking,
                                n_train,
                            );
                            let z = if spiked[k] { 1.0 } else { 0.0 };
                            model::stdp_update(
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
                // 8. STP update of the sources that spiked.
                for j in sources {
                    for &c in &source_channels[j] {
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
