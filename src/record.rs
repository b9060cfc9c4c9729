//! What a run records (model.md §7, formats.md "Recordings"): the selection of
//! neurons and synapses and the sampled traces both engines fill in.

use anyhow::Result;
use rand::seq::index::sample;

use crate::config::{Config, Selection, SelectionKeyword};
use crate::input::Schedule;
use crate::network::Network;
use crate::rng::{self, Stream};
use crate::usage;

/// Resolved recording selection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordPlan {
    /// Neuron traces every `neuron_every` steps, in the phases marked in
    /// `neuron_phases` (one flag per protocol phase).
    pub neuron_every: u64,
    pub neuron_phases: Vec<bool>,
    /// Synapse traces every `synapse_every` steps, throughout.
    pub synapse_every: u64,
    /// Recorded neurons, ascending.
    pub neurons: Vec<usize>,
    /// Recorded synapses (ids into `Network::synapses`), ascending.
    pub synapses: Vec<usize>,
}

impl RecordPlan {
    pub fn from_config(cfg: &Config, net: &Network, schedule: &Schedule) -> Result<RecordPlan> {
        let mut rng = rng::stream(cfg.seed, Stream::Recording);
        let mut pick = |sel: &Selection, n: usize, what: &str| -> Result<Vec<usize>> {
            let mut ids = match sel {
                Selection::Keyword(SelectionKeyword::All) => (0..n).collect(),
                Selection::Keyword(SelectionKeyword::None) => Vec::new(),
                Selection::Random { random } => sample(&mut rng, n, (*random).min(n)).into_vec(),
                Selection::List(ids) => {
                    if let Some(bad) = ids.iter().find(|&&i| i >= n) {
                        return Err(usage!(
                            "config key `record.{what}`: id {bad} does not exist \
                             (there are {n}; ids are 0-based)"
                        ));
                    }
                    ids.clone()
                }
            };
            ids.sort_unstable();
            ids.dedup();
            Ok(ids)
        };
        let neurons = pick(&cfg.record.neurons, net.n_neurons(), "neurons")?;
        let synapses = pick(&cfg.record.synapses, net.synapses.len(), "synapses")?;
        let steps = |ms: f64| (ms / cfg.model.dt_ms).round() as u64;
        Ok(RecordPlan {
            neuron_every: steps(cfg.record.dt_rec_ms),
            neuron_phases: schedule
                .phases
                .iter()
                .map(|p| cfg.record.phases.contains(&p.role))
                .collect(),
            synapse_every: steps(cfg.record.dt_rec_synapses_ms),
            neurons,
            synapses,
        })
    }

    /// True when neuron traces are sampled at step `t` of protocol phase `phase`.
    #[inline]
    pub fn samples_neurons(&self, phase: usize, t: u64) -> bool {
        !self.neurons.is_empty() && self.neuron_phases[phase] && t % self.neuron_every == 0
    }

    /// True when synapse traces are sampled at step `t`.
    #[inline]
    pub fn samples_synapses(&self, t: u64) -> bool {
        !self.synapses.is_empty() && t % self.synapse_every == 0
    }
}

/// Sampled traces in long form: for every sampled step, one entry per
/// recorded neuron (resp. synapse), in the order of the plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recording {
    pub neuron_steps: Vec<u64>,
    /// `u[i * n_recorded + k]`: sample `i`, `k`-th recorded neuron.
    pub u: Vec<f64>,
    pub rho: Vec<f64>,
    pub synapse_steps: Vec<u64>,
    pub weight: Vec<f64>,
    pub epsp: Vec<f64>,
}
