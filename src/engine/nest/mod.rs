//! The NEST backend: maps a [`Job`] onto the `seqlearnmodule` extension
//! module (cpp/) through the driver in [`driver`]. The network, input
//! trains, phases and recording plan are the model's; this file only
//! translates them into one network spec, steps the kernel phase by phase
//! and reads the results back.

use std::collections::HashMap;

use anyhow::{Context, Result};

pub mod driver;
pub mod mpi;

use super::kernels;
use super::{Engine, Job, Outcome, Parallel, Progress};
use crate::engine::nest::driver::{
    NestKernel, NetworkSpec, NeuronParams, NeuronSpec, Output, RecordedSlot, Synapses,
};
use crate::model::input::StepSpikes;
use crate::model::network::Network;
use crate::model::record::Recording;
use crate::usage;

/// Steps per `run` call: keeps the progress bar moving and the recorder and
/// trace buffers small without re-preparing the kernel.
const CHUNK_STEPS: u64 = 1000;

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

impl Engine for NestEngine {
    fn name(&self) -> &'static str {
        "nest"
    }

    fn run(&mut self, job: &Job, progress: Progress) -> Result<Outcome> {
        let mp = &job.model;
        if !(mp.learn_input && mp.learn_recurrent) {
            return Err(usage!(
                "model.learn_input/learn_recurrent = false is only supported by the native \
                 engine; use --backend native"
            ));
        }
        let k = &self.kernel;
        let threads = u32::try_from(job.threads).context("too many threads")?;
        k.call(|k| k.reset(threads, nest_seed(job.seed)))?;
        let parallel = parallel(k)?;
        let spec = SpecArrays::new(job);
        k.call(|k| k.build(&spec.spec()))
            .context("building the network in NEST")?;
        // NEST holds the network now: free the arrays (~64 bytes per
        // synapse) before the run, whose peak they would otherwise raise
        drop(spec);
        let mut rec = Recording::reserved_for(job.record, job.schedule);
        let spikes = run_phases(k, job, &mut rec, progress)?;
        let (weights, s, q, bias) = final_state(k, job.network)?;
        synapse_traces(k, job, &mut rec)?;
        Ok(Outcome {
            spikes,
            recording: rec,
            weights,
            s,
            q,
            bias,
            engine_version: "NEST 3.10 + seqlearnmodule".into(),
            parallel,
        })
    }
}

/// The kernel's ranks and threads; every rank builds the same network and
/// NEST keeps each neuron on the rank of its virtual process.
fn parallel(k: &NestKernel) -> Result<Parallel> {
    let p = k.call(|k| k.parallel())?;
    if let Some(l) = mpi::Launch::current() {
        if l.size.is_some_and(|n| n != p.ranks as usize) || l.rank != p.rank as usize {
            anyhow::bail!(
                "the MPI launcher started rank {} of {:?}, but NEST runs as rank {} of {}                  (is the kernel built with the launcher's MPI?)",
                l.rank,
                l.size,
                p.rank,
                p.ranks
            );
        }
    }
    Ok(Parallel {
        ranks: p.ranks as usize,
        threads_per_rank: p.threads as usize,
        virtual_processes: p.vps as usize,
    })
}

/// NEST seeds are in `[1, 2^31 - 1]`; fold the 64-bit master seed into it.
fn nest_seed(seed: u64) -> u32 {
    ((seed ^ (seed >> 31)) % 0x7fff_fffe + 1) as u32
}

/// The arrays a [`NetworkSpec`] borrows.
struct SpecArrays {
    params: NeuronParams,
    neurons: Vec<NeuronSpec>,
    weights: Vec<f64>,
    input_offsets: Vec<usize>,
    input_steps: Vec<u64>,
    /// input synapses, then recurrent ones
    populations: [Population; 2],
    reset_steps: Vec<u64>,
    forced: bool,
    forced_offsets: Vec<usize>,
    forced_steps: Vec<u64>,
    recorded_neurons: Vec<u32>,
    recorded_synapses: Vec<RecordedSlot>,
    synapse_interval: u64,
}

/// One population of synapses (parallel arrays) and its STP variant.
struct Population {
    source: Vec<u32>,
    target: Vec<u32>,
    slot: Vec<u32>,
    u: Vec<f64>,
    d: Vec<f64>,
    f: Vec<f64>,
    variant: kernels::StpVariant,
}

impl Population {
    fn new(variant: kernels::StpVariant) -> Population {
        Population {
            source: Vec::new(),
            target: Vec::new(),
            slot: Vec::new(),
            u: Vec::new(),
            d: Vec::new(),
            f: Vec::new(),
            variant,
        }
    }

    fn view(&self) -> Synapses<'_> {
        Synapses {
            source: &self.source,
            target: &self.target,
            slot: &self.slot,
            u: &self.u,
            d: &self.d,
            f: &self.f,
            variant: self.variant,
        }
    }
}

/// `offsets` (`n + 1`) and the steps of per-id event lists.
fn per_id_steps(n: usize, events: impl Iterator<Item = (u64, u32)>) -> (Vec<usize>, Vec<u64>) {
    let mut lists = vec![Vec::new(); n];
    for (t, id) in events {
        lists[id as usize].push(t);
    }
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0);
    let mut steps = Vec::new();
    for l in lists {
        steps.extend(l);
        offsets.push(steps.len());
    }
    (offsets, steps)
}

impl SpecArrays {
    fn new(job: &Job) -> SpecArrays {
        let net = job.network;
        let mp = &job.model;
        let plan = job.record;
        let neurons = (0..net.n_neurons())
            .map(|n| {
                let c = &net.circuits[net.neuron_circuit[n]];
                NeuronSpec {
                    circuit_size: c.k as u32,
                    circuit_index: (n - c.first_neuron) as u32,
                    n_incoming: net.incoming(n).len() as u32,
                    bias: net.bias0[n],
                    trained: net.is_trained(n),
                }
            })
            .collect();
        let (input_offsets, input_steps) = per_id_steps(net.n_inputs, job.input.events());
        let (forced_offsets, forced_steps) = match job.forced {
            Some(f) => per_id_steps(net.n_neurons(), f.events()),
            None => (vec![0; net.n_neurons() + 1], Vec::new()),
        };
        SpecArrays {
            params: NeuronParams {
                r_max: mp.r_max_hz,
                tau_decay: mp.tau_decay_ms,
                tau_rise: mp.tau_rise_ms,
                eta: mp.eta,
                variance_tracking: mp.variance_tracking,
                bias_learning: mp.bias_learning,
                spike_law: mp.spike_law.into(),
            },
            neurons,
            weights: net.synapses.iter().map(|s| s.w0).collect(),
            input_offsets,
            input_steps,
            populations: populations(net, mp.stp.into()),
            reset_steps: job.schedule.reset_steps(),
            forced: job.forced.is_some(),
            forced_offsets,
            forced_steps,
            recorded_neurons: plan.neurons.iter().map(|&k| k as u32).collect(),
            recorded_synapses: plan
                .synapses
                .iter()
                .map(|&s| RecordedSlot {
                    target: net.synapses[s].target as u32,
                    slot: net.slot(s) as u32,
                })
                .collect(),
            synapse_interval: plan.synapse_every,
        }
    }

    fn spec(&self) -> NetworkSpec<'_> {
        NetworkSpec {
            params: self.params,
            neurons: &self.neurons,
            weights: &self.weights,
            input_offsets: &self.input_offsets,
            input_steps: &self.input_steps,
            input_synapses: self.populations[0].view(),
            recurrent_synapses: self.populations[1].view(),
            reset_steps: &self.reset_steps,
            forced: self.forced,
            forced_offsets: &self.forced_offsets,
            forced_steps: &self.forced_steps,
            recorded_neurons: &self.recorded_neurons,
            recorded_synapses: &self.recorded_synapses,
            synapse_interval: self.synapse_interval,
        }
    }
}

/// The synapses in network order, inputs and recurrent ones apart: the
/// textbook STP makes inputs static (kernels::stp_variant_for).
fn populations(net: &Network, stp: kernels::StpVariant) -> [Population; 2] {
    let mut pops = [
        Population::new(kernels::stp_variant_for(stp, true)),
        Population::new(kernels::stp_variant_for(stp, false)),
    ];
    for (s, syn) in net.synapses.iter().enumerate() {
        let p = &mut pops[usize::from(!net.is_input_source(syn.source))];
        p.source.push(syn.source as u32);
        p.target.push(syn.target as u32);
        p.slot.push(net.slot(s) as u32);
        p.u.push(syn.stp.u);
        p.d.push(syn.stp.d);
        p.f.push(syn.stp.f);
    }
    pops
}

/// The protocol: each phase is one Prepare/Run/Cleanup context (NEST only
/// empties recorders outside one), run in chunks; the learning flag and the
/// trace recording are set between phases. The neurons record their own
/// traces on the native grid (`t % every == 0`) in the phases the plan
/// records; those samples are complete when `run` returns and only the
/// neurons hold them, so they are drained after every chunk. Returns the
/// network spikes.
fn run_phases(
    k: &NestKernel,
    job: &Job,
    rec: &mut Recording,
    progress: Progress,
) -> Result<StepSpikes> {
    let plan = job.record;
    let mut spike_events: Vec<(u64, u32)> = Vec::new();
    let mut recording = false;
    for (pi, phase) in job.schedule.phases.iter().enumerate() {
        k.call(|k| k.set_learning(phase.train))?;
        let record = !plan.neurons.is_empty() && plan.neuron_phases[pi];
        if record != recording {
            k.call(|k| k.set_trace_recording(record, plan.neuron_every))?;
            recording = record;
        }
        k.call(|k| k.prepare())?;
        let mut t = phase.start;
        while t < phase.end {
            let steps = CHUNK_STEPS.min(phase.end - t);
            k.call(|k| k.run(steps))?;
            t += steps;
            if record {
                take_traces(k, rec)?;
            }
            progress(t);
        }
        k.call(|k| k.cleanup())?;
        let mut out = Output::default();
        k.take(|k, out| k.take_spikes(out), &mut out)?;
        spike_events.extend(out.spike_steps.into_iter().zip(out.spike_neurons));
    }
    Ok(StepSpikes::from_events(
        job.network.n_neurons(),
        job.schedule.n_steps(),
        spike_events,
    ))
}

/// Appends the recorded neurons' samples since the last call: the driver
/// writes `u` and `rho` in the recording's step-major layout (all recorded
/// neurons sample the same steps, which it checks).
fn take_traces(k: &NestKernel, rec: &mut Recording) -> Result<()> {
    // the reserved buffers travel through the output and back (no copy)
    let mut out = Output {
        u: std::mem::take(&mut rec.u),
        rho: std::mem::take(&mut rec.rho),
        ..Output::default()
    };
    let r = k.take(|k, out| k.take_traces(out), &mut out);
    rec.u = out.u;
    rec.rho = out.rho;
    r.context("reading the trace recording")?;
    for step in out.trace_steps {
        if let Some(&last) = rec.neuron_steps.last() {
            anyhow::ensure!(step > last, "trace sample of step {step} after step {last}");
        }
        rec.neuron_steps.push(step);
    }
    Ok(())
}

/// The learned state, in network order: weights, `S`, `Q`, biases.
type LearnedState = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

fn final_state(k: &NestKernel, net: &Network) -> Result<LearnedState> {
    let n = net.synapses.len();
    let (mut w, mut s, mut q) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut bias = vec![0.0; net.n_neurons()];
    k.call(|k| k.final_state(&mut w, &mut s, &mut q, &mut bias))
        .context("reading the learned state")?;
    Ok((w, s, q, bias))
}

/// Synapse traces from the neurons' slot recordings, read after the run:
/// one row per sampled step, one column per recorded synapse.
fn synapse_traces(k: &NestKernel, job: &Job, rec: &mut Recording) -> Result<()> {
    let n_syn = job.record.synapses.len();
    if n_syn == 0 {
        return Ok(());
    }
    let mut out = Output::default();
    k.take(|k, out| k.take_synapse_traces(out), &mut out)?;
    let mut steps = out.synapse_steps.clone();
    steps.sort_unstable();
    steps.dedup();
    let row_of: HashMap<u64, usize> = steps.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    rec.weight.resize(steps.len() * n_syn, f64::NAN);
    rec.epsp.resize(steps.len() * n_syn, f64::NAN);
    for i in 0..out.synapse_steps.len() {
        let at = row_of[&out.synapse_steps[i]] * n_syn + out.synapses[i] as usize;
        rec.weight[at] = out.weights[i];
        rec.epsp[at] = out.epsps[i];
    }
    rec.synapse_steps = steps;
    Ok(())
}
