//! Engines step the model in time. Everything else — network, input, phases,
//! recording selection, output — is shared; an engine gets a [`Job`] and
//! returns an [`Outcome`].

use anyhow::Result;

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
}

/// Progress callback: called with the number of steps done so far.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

/// A way of stepping the model in time.
pub trait Engine {
    fn name(&self) -> &'static str;
    fn run(&mut self, job: &Job, progress: Progress) -> Result<Outcome>;
}
