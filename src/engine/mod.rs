//! Engines step the model in time. Everything else — network, input, phases,
//! recording selection, output — is shared; an engine gets a [`Job`] and
//! returns an [`Outcome`].

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::model::input::{Schedule, StepSpikes};
use crate::model::network::Network;
use crate::model::record::{RecordPlan, Recording};
use crate::model::ModelParams;

pub mod kernels;
pub mod native;
pub mod nest;
pub mod wait_policy;

/// Everything an engine needs for one run.
pub struct Job<'a> {
    pub network: &'a Network,
    pub model: ModelParams,
    /// Input spikes per step, channel ids.
    pub input: &'a StepSpikes,
    pub schedule: &'a Schedule,
    /// Forced network spike trains (verification, replay): the neurons spike
    /// exactly there and never draw.
    pub forced: Option<&'a StepSpikes>,
    pub record: &'a RecordPlan,
    pub seed: u64,
    pub threads: usize,
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// Network spikes per step (neuron ids).
    pub spikes: StepSpikes,
    pub recording: Recording,
    /// Final weights, per synapse in network order.
    pub weights: Vec<f64>,
    /// Final variance-tracking state, per synapse.
    pub s: Vec<f64>,
    pub q: Vec<f64>,
    /// Final biases, per neuron.
    pub bias: Vec<f64>,
    /// Version string of the simulator behind the engine.
    pub engine_version: String,
    /// How the engine ran: MPI ranks, threads per rank, virtual processes.
    pub parallel: Parallel,
}

/// How a run was split (`summary.json` `parallel`). NEST's results depend
/// only on `virtual_processes` (= ranks x threads per rank); the native
/// engine is one process with one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parallel {
    pub ranks: usize,
    pub threads_per_rank: usize,
    pub virtual_processes: usize,
}

impl Default for Parallel {
    /// One process, one thread.
    fn default() -> Self {
        Parallel {
            ranks: 1,
            threads_per_rank: 1,
            virtual_processes: 1,
        }
    }
}

/// Progress callback: called with the number of steps done so far.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

/// A way of stepping the model in time.
pub trait Engine {
    fn name(&self) -> &'static str;
    fn run(&mut self, job: &Job, progress: Progress) -> Result<Outcome>;
}
