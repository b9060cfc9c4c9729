//! The native reference engine: model.md §2 step by step, single-threaded,
//! with same-step soft-WTA normalisation. Every equation is a kernel of
//! `cpp/kernels/seqlearn_kernels.h` (the NEST module's too), called through
//! [`crate::engine::kernels`]; this file holds the state, the order of the
//! stages and the engine's own speed tricks.
//!
//! EPSP traces and STP state live per *channel*: one per source (the
//! original: all outgoing synapses of a source share them) or one per
//! synapse (`stp_draw = "per_synapse"`), see [`wiring`].
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
//! - **Vectorised kernels.** The soft WTA and the spike law take one `exp`
//!   per neuron, STDP two per synapse of a spiking neuron: the kernels use a
//!   polynomial `exp` within 2 ulp of libm's, four lanes at a time with
//!   AVX2 and FMA when the CPU has them (the scalar path gives the same
//!   bits). The STP updates (a few per step) and the bias keep libm's `exp`.
//! - **Coarse kernel calls.** One call per array and step (potentials,
//!   soft WTA, spike law, traces, STP of the step's spiking channels) or per
//!   spiking neuron (STDP): about a dozen calls per step.
//! - Spike draws stay one uniform per neuron per step from the `Spikes`
//!   stream, in neuron order (filled in one block: the same `u64` sequence),
//!   so the draw sequence does not depend on any of this.

use std::time::Instant;

use anyhow::Result;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::kernels::{self, CodePath, Rates, SpikeLawParams, StpParams, StpState, StpVariant};
use super::{Engine, Job, Outcome, Progress};
use crate::model::input::StepSpikes;
use crate::model::network::Network;
use crate::model::record::Recording;
use crate::model::rng::{self, Stream};

mod wiring;

use wiring::Wiring;

pub struct NativeEngine;

impl Engine for NativeEngine {
    fn name(&self) -> &'static str {
        "native"
    }

    fn run(&mut self, job: &Job, progress: Progress) -> Result<Outcome> {
        Ok(run_sim(job, progress, None)?.0)
    }
}

/// The stages of a step (model.md §2), in the order [`Sim::step`] runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Potentials,
    SoftWta,
    Spikes,
    Record,
    Learn,
    Sources,
    Traces,
    Stp,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Potentials,
        Stage::SoftWta,
        Stage::Spikes,
        Stage::Record,
        Stage::Learn,
        Stage::Sources,
        Stage::Traces,
        Stage::Stp,
    ];

    /// The stage's name, with the model.md §2 items it computes.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Potentials => "potentials (items 1-2)",
            Stage::SoftWta => "soft-WTA (item 3)",
            Stage::Spikes => "spike draws (item 4)",
            Stage::Record => "recording",
            Stage::Learn => "STDP + bias learning (item 7)",
            Stage::Sources => "spiking sources, jump scatter (item 5)",
            Stage::Traces => "traces (item 6)",
            Stage::Stp => "STP (item 8)",
        }
    }
}

/// Where a native run's time went: wall seconds per stage, and the work
/// that scales with spikes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageProfile {
    /// Wall seconds per stage, indexed like [`Stage::ALL`].
    pub seconds: [f64; Stage::ALL.len()],
    pub steps: u64,
    /// Synapses updated by STDP (the learned in-degree of every spike).
    pub stdp_synapses: u64,
    /// Jump additions: the fan-out of every spiking source.
    pub deliveries: u64,
}

/// Runs `job` like [`NativeEngine`] and times every stage of every step
/// (two clock reads per stage, ~2-3 % of a paper-scale step); the outcome is
/// the same (`bench` case `native-stages`, docs/benchmarks.md).
pub fn run_profiled(job: &Job, progress: Progress) -> Result<(Outcome, StageProfile)> {
    let (outcome, profile) = run_sim(job, progress, Some(StageProfile::default()))?;
    Ok((outcome, profile.unwrap_or_default()))
}

fn run_sim(
    job: &Job,
    progress: Progress,
    profile: Option<StageProfile>,
) -> Result<(Outcome, Option<StageProfile>)> {
    let mut sim = Sim::new(job);
    sim.profile = profile;
    for (pi, phase) in job.schedule.phases.iter().enumerate() {
        if phase.reset {
            sim.reset(phase.start);
        }
        for t in phase.start..phase.end {
            sim.step(pi, phase.train, t);
            if t % 1000 == 999 {
                sim.check_finite(t)?;
                progress(t + 1);
            }
        }
    }
    sim.check_finite(job.schedule.n_steps().saturating_sub(1))?;
    progress(job.schedule.n_steps());
    Ok(sim.finish())
}

/// Runs one stage, timing it when a profile is taken.
#[inline(always)]
fn timed(profile: &mut Option<StageProfile>, stage: Stage, f: impl FnOnce()) {
    match profile {
        None => f(),
        Some(p) => {
            let t0 = Instant::now();
            f();
            p.seconds[stage as usize] += t0.elapsed().as_secs_f64();
        }
    }
}

/// Per-channel state.
struct Channels {
    /// The traces `(e, f)`, interleaved `[e0, f0, e1, f1, ..]`: one gather
    /// fetches both.
    ef: Vec<f64>,
    /// Jump `y*A` of this step, 0 elsewhere.
    jump: Vec<f64>,
    stp: Vec<StpState>,
    params: Vec<StpParams>,
    variant: Vec<StpVariant>,
}

impl Channels {
    fn new(net: &Network, wiring: &Wiring, stp: StpVariant) -> Channels {
        let param = |p: &crate::model::network::StpParams| StpParams {
            u: p.u,
            d: p.d,
            f: p.f,
        };
        let (params, variant): (Vec<StpParams>, Vec<StpVariant>) = if net.stp_per_synapse {
            net.synapses
                .iter()
                .map(|s| {
                    let v = kernels::stp_variant_for(stp, net.is_input_source(s.source));
                    (param(&s.stp), v)
                })
                .unzip()
        } else {
            (0..net.n_sources())
                .map(|j| {
                    let v = kernels::stp_variant_for(stp, net.is_input_source(j));
                    (param(&net.source_stp[j]), v)
                })
                .unzip()
        };
        let n = wiring.n_channels;
        Channels {
            ef: vec![0.0; 2 * n],
            jump: vec![0.0; n],
            stp: params.iter().map(|p| kernels::stp_initial(p.u)).collect(),
            params,
            variant,
        }
    }
}

/// Per-neuron state.
struct Neurons {
    bias: Vec<f64>,
    bias_s: Vec<f64>,
    bias_q: Vec<f64>,
    /// Weighted trace sums `E_k`, `F_k` and this step's jumps `J_k`.
    e_sum: Vec<f64>,
    f_sum: Vec<f64>,
    jump_sum: Vec<f64>,
    u: Vec<f64>,
    rho: Vec<f64>,
    spiked: Vec<bool>,
    /// This step's spiking neurons, ascending: `spiking[..n_spiking]`.
    spiking: Vec<u32>,
    n_spiking: usize,
}

/// Per-synapse state, in network order.
struct Synapses {
    w: Vec<f64>,
    s: Vec<f64>,
    q: Vec<f64>,
}

/// Buffers reused every step.
struct Scratch {
    /// One value per neuron (soft-WTA shifts, spike-law arguments).
    per_neuron: Vec<f64>,
    draws: Vec<u64>,
    /// The gathered traces of one spiking neuron's synapses.
    ef: Vec<f64>,
    /// The traces of the recorded synapses.
    rec_ef: Vec<f64>,
    /// This step's spiking sources (input channels, then neurons) and
    /// their channels.
    sources: Vec<usize>,
    channels: Vec<u32>,
}

/// Which neurons learn (`network.train_fraction`): per neuron, and as
/// maximal runs of consecutive learners, so that bias learning stays one
/// kernel call per run (one run `0..n` when every circuit learns).
struct Learners {
    per_neuron: Vec<bool>,
    runs: Vec<std::ops::Range<usize>>,
}

impl Learners {
    fn new(net: &Network) -> Learners {
        let per_neuron: Vec<bool> = (0..net.n_neurons()).map(|k| net.is_trained(k)).collect();
        let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
        for k in (0..per_neuron.len()).filter(|&k| per_neuron[k]) {
            match runs.last_mut() {
                Some(r) if r.end == k => r.end = k + 1,
                _ => runs.push(k..k + 1),
            }
        }
        Learners { per_neuron, runs }
    }
}

/// One run of the native engine.
struct Sim<'a> {
    job: &'a Job<'a>,
    net: &'a Network,
    wiring: Wiring,
    ch: Channels,
    neurons: Neurons,
    syn: Synapses,
    scratch: Scratch,
    circuit_sizes: Vec<u32>,
    learners: Learners,
    law: SpikeLawParams,
    rng: ChaCha8Rng,
    n_train: u64,
    rec: Recording,
    spike_events: Vec<(u64, u32)>,
    /// STDP synapse updates and jump additions so far (for the profile).
    stdp_synapses: u64,
    deliveries: u64,
    profile: Option<StageProfile>,
}

impl<'a> Sim<'a> {
    fn new(job: &'a Job<'a>) -> Sim<'a> {
        let net = job.network;
        let mp = &job.model;
        let n = net.n_neurons();
        let wiring = Wiring::new(net);
        let ch = Channels::new(net, &wiring, mp.stp.into());
        let scratch = Scratch {
            per_neuron: vec![0.0; n],
            draws: vec![0; n],
            ef: vec![0.0; 2 * wiring.max_in],
            rec_ef: Vec::with_capacity(2 * job.record.synapses.len()),
            sources: Vec::new(),
            channels: Vec::new(),
        };
        Sim {
            job,
            net,
            ch,
            neurons: Neurons {
                bias: net.bias0.clone(),
                bias_s: vec![0.0; n],
                bias_q: vec![1.0; n],
                e_sum: vec![0.0; n],
                f_sum: vec![0.0; n],
                jump_sum: vec![0.0; n],
                u: vec![0.0; n],
                rho: vec![0.0; n],
                spiked: vec![false; n],
                spiking: vec![0; n],
                n_spiking: 0,
            },
            syn: Synapses {
                w: net.synapses.iter().map(|s| s.w0).collect(),
                s: vec![0.0; net.synapses.len()],
                q: vec![1.0; net.synapses.len()],
            },
            scratch,
            circuit_sizes: net.circuits.iter().map(|c| c.k as u32).collect(),
            learners: Learners::new(net),
            law: SpikeLawParams {
                r_max_hz: mp.r_max_hz,
                dt_ms: mp.dt_ms,
                law: mp.spike_law.into(),
            },
            rng: rng::stream(job.seed, Stream::Spikes),
            n_train: 0,
            rec: Recording::reserved_for(job.record, job.schedule),
            spike_events: Vec::new(),
            wiring,
            stdp_synapses: 0,
            deliveries: 0,
            profile: None,
        }
    }

    /// One step `t` of protocol phase `phase` (model.md §2).
    fn step(&mut self, phase: usize, train: bool, t: u64) {
        let mut p = self.profile.take();
        timed(&mut p, Stage::Potentials, || self.potentials());
        timed(&mut p, Stage::SoftWta, || self.soft_wta());
        timed(&mut p, Stage::Spikes, || self.spikes(t));
        timed(&mut p, Stage::Record, || self.record(phase, t));
        if train {
            timed(&mut p, Stage::Learn, || self.learn());
        }
        timed(&mut p, Stage::Sources, || self.spiking_sources(t));
        timed(&mut p, Stage::Traces, || self.traces());
        timed(&mut p, Stage::Stp, || self.stp(t));
        self.profile = p;
    }

    /// The numerical guard (docs/reliability.md), once per 1000-step chunk:
    /// stops with exit 2 at the first non-finite potential, bias or weight,
    /// naming the neuron, the time and the parameters that drive it (NEST's
    /// models raise the same error).
    fn check_finite(&self, t: u64) -> Result<()> {
        let ms = (t + 1) as f64 * self.job.model.dt_ms;
        let nr = &self.neurons;
        let bad_neuron =
            (0..nr.u.len()).find(|&k| !(nr.u[k].is_finite() && nr.bias[k].is_finite()));
        if let Some(k) = bad_neuron {
            return Err(crate::usage!(
                "native engine: the state of neuron {k} became non-finite (u = {}, bias = {}) by \
                 t = {ms} ms; the update diverged: check model.eta, model.tau_rise_ms, \
                 model.tau_decay_ms and the replayed weights/STP parameters (synapses.csv, \
                 sources.csv)",
                nr.u[k],
                nr.bias[k]
            ));
        }
        if let Some(i) = self.syn.w.iter().position(|w| !w.is_finite()) {
            return Err(crate::usage!(
                "native engine: the weight of synapse {i} (to neuron {}) became non-finite by \
                 t = {ms} ms; the update diverged: check model.eta and the replayed w_initial \
                 (synapses.csv)",
                self.net.synapses[i].target
            ));
        }
        Ok(())
    }

    /// §6: the reset at the start of a test phase in step `t0`.
    fn reset(&mut self, t0: u64) {
        kernels::reset_traces(&mut self.ch.ef);
        kernels::reset_traces(&mut self.neurons.e_sum);
        kernels::reset_traces(&mut self.neurons.f_sum);
        kernels::stp_resets(&mut self.ch.stp, t0 as i64);
    }

    /// Items 1-2: `u = b + sum w Y` from the kept sums `E`, `F` (the EPSPs
    /// `Y = e - f` themselves are formed where they are read: learning and
    /// recording).
    fn potentials(&mut self) {
        let nr = &mut self.neurons;
        kernels::potentials(&nr.bias, &nr.e_sum, &nr.f_sum, &mut nr.u);
    }

    /// Item 3: the soft WTA of every circuit (shift by the maximum).
    fn soft_wta(&mut self) {
        let nr = &mut self.neurons;
        kernels::soft_wta_max_shift(
            &nr.u,
            &mut nr.rho,
            &mut self.scratch.per_neuron,
            &self.circuit_sizes,
            CodePath::Best,
        );
    }

    /// Item 4: the step's spikes, forced or drawn.
    fn spikes(&mut self, t: u64) {
        let nr = &mut self.neurons;
        match self.job.forced {
            Some(forced) => {
                nr.spiked.fill(false);
                nr.n_spiking = 0;
                if t < forced.n_steps() {
                    for &k in forced.at(t) {
                        nr.spiked[k as usize] = true;
                        nr.spiking[nr.n_spiking] = k;
                        nr.n_spiking += 1;
                    }
                }
            }
            None => {
                // One uniform per neuron in neuron order, as
                // `rng.random::<f64>()` makes it (kernels::uniform_of_bits);
                // the block fill yields the same u64 sequence as one
                // next_u64 per neuron.
                self.rng.fill(&mut self.scratch.draws[..]);
                nr.n_spiking = kernels::spike_draws(
                    &nr.rho,
                    &self.scratch.draws,
                    &self.law,
                    &mut self.scratch.per_neuron,
                    &mut nr.spiked,
                    &mut nr.spiking,
                    CodePath::Best,
                );
            }
        }
    }

    /// The recording plan's samples of step `t`: `u`, `rho` of the recorded
    /// neurons, weight and `Y` of the recorded synapses.
    fn record(&mut self, phase: usize, t: u64) {
        let plan = self.job.record;
        let rec = &mut self.rec;
        if plan.samples_neurons(phase, t) {
            rec.neuron_steps.push(t);
            rec.u
                .extend(plan.neurons.iter().map(|&k| self.neurons.u[k]));
            rec.rho
                .extend(plan.neurons.iter().map(|&k| self.neurons.rho[k]));
        }
        if plan.samples_synapses(t) {
            rec.synapse_steps.push(t);
            rec.weight
                .extend(plan.synapses.iter().map(|&s| self.syn.w[s]));
            let ef = &mut self.scratch.rec_ef;
            ef.clear();
            for &s in &plan.synapses {
                let c = self.wiring.channel_of(self.net, s);
                ef.extend_from_slice(&self.ch.ef[2 * c..2 * c + 2]);
            }
            let start = rec.epsp.len();
            rec.epsp.resize(start + plan.synapses.len(), 0.0);
            kernels::epsps_of_pairs(ef, &mut rec.epsp[start..]);
        }
    }

    /// Item 7 (§3): STDP of the spiking neurons' synapses and bias learning,
    /// with `Y` of item 1, for the neurons of trained circuits. It only needs this step's traces, so it runs
    /// before their update (item 6): a weight change `dw` moves `E` and `F`
    /// by `dw` times the current traces, and the jumps are then scattered
    /// with the new weights; `E` and `F` stay `sum w e`, `sum w f`.
    fn learn(&mut self) {
        let mp = &self.job.model;
        self.n_train += 1;
        let rates: Rates = kernels::rates_of(mp.eta, mp.variance_tracking, self.n_train);
        let nr = &mut self.neurons;
        for &k in &nr.spiking[..nr.n_spiking] {
            let k = k as usize;
            if !self.learners.per_neuron[k] {
                continue;
            }
            let inc = self.net.incoming(k);
            let lo = inc.start;
            let (a, b) = match (mp.learn_input, mp.learn_recurrent) {
                (true, true) => (inc.start, inc.end),
                (true, false) => (inc.start, self.wiring.split[k]),
                (false, true) => (self.wiring.split[k], inc.end),
                (false, false) => continue,
            };
            if a == b {
                continue;
            }
            self.stdp_synapses += (b - a) as u64;
            let ef = &mut self.scratch.ef[..2 * inc.len()];
            self.wiring.gather(k, lo, &self.ch.ef, ef);
            let d = kernels::stdp_update_pairs(
                &mut self.syn.w[a..b],
                &mut self.syn.s[a..b],
                &mut self.syn.q[a..b],
                &ef[2 * (a - lo)..2 * (b - lo)],
                &rates,
                CodePath::Best,
            );
            nr.e_sum[k] += d.de;
            nr.f_sum[k] += d.df;
        }
        if mp.bias_learning {
            for r in &self.learners.runs {
                kernels::bias_updates(
                    &mut nr.bias[r.clone()],
                    &mut nr.bias_s[r.clone()],
                    &mut nr.bias_q[r.clone()],
                    &nr.spiked[r.clone()],
                    &rates,
                );
            }
        }
    }

    /// Item 5: this step's spiking sources (input spikes, then network
    /// spikes) and their channels; each channel's jump is its amplitude
    /// from before this step's STP update, scattered along its outgoing
    /// synapses into `J`.
    fn spiking_sources(&mut self, t: u64) {
        let sc = &mut self.scratch;
        sc.sources.clear();
        sc.sources
            .extend(self.job.input.at(t).iter().map(|&c| c as usize));
        let nr = &self.neurons;
        sc.sources.extend(
            nr.spiking[..nr.n_spiking]
                .iter()
                .map(|&k| self.net.neuron_source(k as usize)),
        );
        sc.channels.clear();
        for &j in &sc.sources {
            sc.channels.extend_from_slice(self.wiring.channels_of(j));
        }
        kernels::stp_amplitudes(
            &self.ch.stp,
            &self.ch.variant,
            &sc.channels,
            &mut self.ch.jump,
        );
        for &c in &sc.channels {
            self.deliveries += self.wiring.fan_out(c as usize) as u64;
            self.wiring.scatter(
                c as usize,
                &mut self.neurons.jump_sum,
                &self.syn.w,
                self.ch.jump[c as usize],
            );
        }
    }

    /// Item 6: the Euler step of every channel's traces and of the kept
    /// sums with this step's jumps.
    fn traces(&mut self) {
        let mp = &self.job.model;
        kernels::trace_steps_pairs(&mut self.ch.ef, &self.ch.jump, mp.kd(), mp.kr());
        let nr = &mut self.neurons;
        kernels::trace_steps(&mut nr.e_sum, &nr.jump_sum, mp.kd());
        kernels::trace_steps(&mut nr.f_sum, &nr.jump_sum, mp.kr());
        nr.jump_sum.fill(0.0);
    }

    /// Item 8: the STP update of the channels that spiked (the `isi`
    /// counter is each channel's last spike step).
    fn stp(&mut self, t: u64) {
        let ch = &mut self.ch;
        kernels::stp_on_spikes(
            &mut ch.stp,
            &ch.params,
            &ch.variant,
            &self.scratch.channels,
            t as i64,
            self.job.model.dt_ms,
        );
        for &c in &self.scratch.channels {
            ch.jump[c as usize] = 0.0;
        }
        let nr = &self.neurons;
        self.spike_events
            .extend(nr.spiking[..nr.n_spiking].iter().map(|&k| (t, k)));
    }

    fn finish(self) -> (Outcome, Option<StageProfile>) {
        let profile = self.profile.map(|p| StageProfile {
            steps: self.job.schedule.n_steps(),
            stdp_synapses: self.stdp_synapses,
            deliveries: self.deliveries,
            ..p
        });
        let outcome = Outcome {
            spikes: StepSpikes::from_events(
                self.net.n_neurons(),
                self.job.schedule.n_steps(),
                self.spike_events,
            ),
            recording: self.rec,
            weights: self.syn.w,
            s: self.syn.s,
            q: self.syn.q,
            bias: self.neurons.bias,
            engine_version: format!("native {}", env!("CARGO_PKG_VERSION")),
            parallel: crate::engine::Parallel::default(),
        };
        (outcome, profile)
    }
}
