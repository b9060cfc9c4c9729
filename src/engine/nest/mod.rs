//! The NEST backend: maps a [`Job`] onto the `seqlearnmodule` extension
//! module (cpp/) through the kernel wrapper in `crate::engine::nest::driver`. The network,
//! input trains, phases and recording plan are the core's; this file only
//! translates them into NEST nodes and connections and steps the kernel.

use std::collections::HashMap;

use anyhow::{Context, Result};

pub mod driver;

use super::{Engine, Job, Outcome, Progress};
use crate::engine::nest::driver::{
    self as kernel, NestKernel, NeuronDefaults, NeuronSpec, NodeId, SynapseBatch,
};
use crate::model::config::{SpikeLaw, StpVariant};
use crate::model::equations;
use crate::model::input::StepSpikes;
use crate::model::record::Recording;
use crate::usage;

/// Simulated time per `run` call: keeps the progress bar moving and the
/// recorder and trace buffers small without re-preparing the kernel.
const CHUNK_MS: f64 = 1000.0;

pub struct NestEngine {
    kernel: NestKernel,
}

impl NestEngine {
    /// Loads libpython, the NEST kernel and the module (see docs/nest.md).
    pub fn load() -> Result<NestEngine> {
        Ok(NestEngine {
            kernel: NestKernel::load()?,
        })
    }
}

/// Neuron trace samples in the plan's layout, appended chunk by chunk.
struct NeuronSamples {
    rec: Recording,
}

impl NeuronSamples {
    fn new(job: &Job) -> Self {
        NeuronSamples {
            rec: Recording::reserved_for(job.record, job.schedule),
        }
    }

    /// Takes the samples of the recorded neurons (plan order) since the
    /// last call: the module writes `u` and `rho` straight into the
    /// recording's step-major layout; all neurons sample the same steps
    /// (one interval, switched per phase for all), which it checks.
    fn take(&mut self, k: &mut NestKernel, ids: &[NodeId], dt: f64) -> Result<()> {
        let times = k.take_trace_block(ids, &mut self.rec.u, &mut self.rec.rho)?;
        for time in times {
            let step = (time / dt).round() as u64;
            if let Some(&last) = self.rec.neuron_steps.last() {
                anyhow::ensure!(step > last, "trace sample of step {step} after step {last}");
            }
            self.rec.neuron_steps.push(step);
        }
        Ok(())
    }
}

fn stp_variant(v: StpVariant) -> kernel::StpVariant {
    match v {
        StpVariant::Original => kernel::StpVariant::Original,
        StpVariant::Off => kernel::StpVariant::Off,
        StpVariant::TsodyksMarkram => kernel::StpVariant::TsodyksMarkram,
    }
}

/// NEST seeds are in `[1, 2^31 - 1]`; fold the 64-bit master seed into it.
fn nest_seed(seed: u64) -> u32 {
    ((seed ^ (seed >> 31)) % 0x7fff_fffe + 1) as u32
}

impl Engine for NestEngine {
    fn name(&self) -> &'static str {
        "nest"
    }

    fn run(&mut self, job: &Job, progress: Progress) -> Result<Outcome> {
        let net = job.network;
        let mp = job.model;
        let dt = mp.dt_ms;
        if !(mp.learn_input && mp.learn_recurrent) {
            return Err(usage!(
                "model.learn_input/learn_recurrent = false is only supported by the native \
                 engine; use --backend native"
            ));
        }
        let k = &mut self.kernel;
        k.reset(job.threads, nest_seed(job.seed))?;
        k.set_neuron_defaults(&NeuronDefaults {
            r_max: mp.r_max_hz,
            tau_decay: mp.tau_decay_ms,
            tau_rise: mp.tau_rise_ms,
            eta: mp.eta,
            variance_tracking: mp.variance_tracking,
            bias_learning: mp.bias_learning,
            spike_law: match mp.spike_law {
                SpikeLaw::Exponential => kernel::SpikeLaw::Exponential,
                SpikeLaw::Linear => kernel::SpikeLaw::Linear,
            },
        })?;

        // Neurons, with their circuit position and initial weights per slot.
        let specs: Vec<NeuronSpec> = (0..net.n_neurons())
            .map(|n| {
                let c = &net.circuits[net.neuron_circuit[n]];
                NeuronSpec {
                    circuit_size: c.k,
                    circuit_index: n - c.first_neuron,
                    weights: net.synapses[net.incoming(n)].iter().map(|s| s.w0).collect(),
                }
            })
            .collect();
        let ids = k
            .create_neurons(&specs)
            .context("creating the network neurons")?;
        for (&id, &b) in ids.iter().zip(&net.bias0) {
            if b != 0.0 {
                k.set_neuron_f64(id, "bias", b)?;
            }
        }
        for c in &net.circuits {
            k.connect_circuit(&ids[c.first_neuron..c.first_neuron + c.k])?;
        }

        // One spike generator per input channel: one train for all targets.
        let mut trains = vec![Vec::new(); net.n_inputs];
        for (t, ch) in job.input.events() {
            trains[ch as usize].push(t as f64 * dt);
        }
        let gens = k
            .create_inputs(&trains)
            .context("creating the input generators")?;

        // Synapses: input synapses may need another STP variant (textbook: static).
        let node_of = |j: usize| {
            if net.is_input_source(j) {
                gens[j]
            } else {
                ids[j - net.n_inputs]
            }
        };
        let mut input_batch = SynapseBatch::default();
        let mut rec_batch = SynapseBatch::default();
        for (s, syn) in net.synapses.iter().enumerate() {
            let batch = if net.is_input_source(syn.source) {
                &mut input_batch
            } else {
                &mut rec_batch
            };
            batch.push(
                node_of(syn.source),
                ids[syn.target],
                net.slot(s),
                syn.stp.u,
                syn.stp.d,
                syn.stp.f,
            );
        }
        k.connect(
            &input_batch,
            stp_variant(equations::variant_for(mp.stp, true)),
        )
        .context("connecting the input synapses")?;
        k.connect(
            &rec_batch,
            stp_variant(equations::variant_for(mp.stp, false)),
        )
        .context("connecting the recurrent synapses")?;

        let resets: Vec<f64> = job
            .schedule
            .reset_steps()
            .iter()
            .map(|&t| t as f64 * dt)
            .collect();
        k.set_reset_times(&resets)?;

        if let Some(forced) = job.forced {
            let mut per_neuron = vec![Vec::new(); net.n_neurons()];
            for (t, n) in forced.events() {
                per_neuron[n as usize].push(t as f64 * dt);
            }
            for (n, times) in per_neuron.iter().enumerate() {
                k.set_forced_spikes(ids[n], times)?;
            }
        }

        // Recording.
        let plan = job.record;
        k.record_spikes()?;
        let rec_neurons: Vec<NodeId> = plan.neurons.iter().map(|&n| ids[n]).collect();
        let mut slots_of: HashMap<usize, Vec<i64>> = HashMap::new();
        for &s in &plan.synapses {
            slots_of
                .entry(net.synapses[s].target)
                .or_default()
                .push(net.slot(s) as i64);
        }
        let synapse_interval = plan.synapse_every as f64 * dt;
        for (&n, slots) in &slots_of {
            k.set_recorded_slots(ids[n], slots, synapse_interval)?;
        }

        // Step through the phases. NEST refuses to touch recorders inside a
        // Prepare/Run/Cleanup context, so each phase is one context (run in
        // chunks for the progress bar), and the spike recorder is read in
        // between. The neurons record their own traces on the native grid
        // (t % every == 0) in the phases the plan records; those samples are
        // complete when `run` returns and only the neurons hold them, so they
        // are drained after every chunk.
        let neuron_index: HashMap<NodeId, usize> =
            ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        let mut samples = NeuronSamples::new(job);
        let mut spike_events: Vec<(u64, u32)> = Vec::new();
        let neuron_interval = plan.neuron_every as f64 * dt;
        let mut recording = false;
        for (pi, phase) in job.schedule.phases.iter().enumerate() {
            k.set_learning(phase.train)?;
            let record = !rec_neurons.is_empty() && plan.neuron_phases[pi];
            if record != recording {
                k.set_trace_recording(&rec_neurons, record, neuron_interval)?;
                recording = record;
            }
            k.prepare()?;
            let mut t = phase.start;
            while t < phase.end {
                let steps = ((CHUNK_MS / dt) as u64).min(phase.end - t);
                k.run(steps as f64 * dt)?;
                t += steps;
                if record {
                    samples.take(k, &rec_neurons, dt)?;
                }
                progress(t);
            }
            k.cleanup()?;
            let spikes = k.take_spikes()?;
            for (&sender, &time) in spikes.senders.iter().zip(&spikes.times) {
                let n = *neuron_index
                    .get(&sender)
                    .context("NEST reported a spike from an unknown node")?;
                spike_events.push(((time / dt).round() as u64, n as u32));
            }
        }
        let n_steps = job.schedule.n_steps();
        // Final learned state, in network order.
        let mut weights = Vec::with_capacity(net.synapses.len());
        let (mut s, mut q) = (Vec::new(), Vec::new());
        let mut bias = Vec::with_capacity(net.n_neurons());
        for (n, &id) in ids.iter().enumerate() {
            let expect = net.incoming(n).len();
            let w = k.weights(id)?;
            anyhow::ensure!(
                w.len() == expect,
                "node {id}: {} weights, expected {expect}",
                w.len()
            );
            weights.extend(w);
            s.extend(k.neuron_vector(id, "S")?);
            q.extend(k.neuron_vector(id, "Q")?);
            bias.push(k.neuron_scalar(id, "bias")?);
        }
        let mut rec = samples.rec;

        // Synapse traces, from the neurons' slot recordings.
        if !plan.synapses.is_empty() {
            let syn_pos: HashMap<usize, usize> = plan
                .synapses
                .iter()
                .enumerate()
                .map(|(i, &s)| (s, i))
                .collect();
            let n_syn = plan.synapses.len();
            let mut row_of: HashMap<u64, usize> = HashMap::new();
            let mut targets: Vec<usize> = slots_of.keys().copied().collect();
            targets.sort_unstable();
            let mut entries = Vec::new();
            for n in targets {
                let r = k.take_slot_recording(ids[n])?;
                for i in 0..r.times.len() {
                    let s = net.target_offsets[n] + r.slots[i] as usize;
                    entries.push((
                        (r.times[i] / dt).round() as u64,
                        syn_pos[&s],
                        r.weights[i],
                        r.epsps[i],
                    ));
                }
            }
            let mut steps: Vec<u64> = entries.iter().map(|e| e.0).collect();
            steps.sort_unstable();
            steps.dedup();
            for (i, &st) in steps.iter().enumerate() {
                row_of.insert(st, i);
            }
            rec.synapse_steps = steps;
            rec.weight.resize(rec.synapse_steps.len() * n_syn, f64::NAN);
            rec.epsp.resize(rec.synapse_steps.len() * n_syn, f64::NAN);
            for (st, j, w, y) in entries {
                let row = row_of[&st];
                rec.weight[row * n_syn + j] = w;
                rec.epsp[row * n_syn + j] = y;
            }
        }

        Ok(Outcome {
            spikes: StepSpikes::from_events(net.n_neurons(), n_steps, spike_events),
            recording: rec,
            weights,
            s,
            q,
            bias,
            engine_version: "NEST 3.10 + seqlearnmodule".into(),
        })
    }
}
