//! What a run records (model.md §7, formats.md "Recordings"): the selection of
//! neurons and synapses and the sampled traces both engines fill in.

use anyhow::Result;
use rand::seq::index::sample;

use crate::model::config::{Config, Selection, SelectionKeyword};
use crate::model::input::Schedule;
use crate::model::network::Network;
use crate::model::rng::{self, Stream};
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
                .zip(&cfg.phases)
                .map(|(p, pc)| {
                    pc.record_neurons
                        .unwrap_or(cfg.record.phases.contains(&p.role))
                })
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

impl Recording {
    /// Empty buffers reserved for everything `plan` samples over `schedule`,
    /// so that an engine appends without reallocating; the large ones get
    /// transparent huge pages and are mapped in one call (filling them page
    /// by page would take one page fault per 4 KiB, which in a VM cost
    /// ≈1.5 µs per step at 100 recorded neurons, 15 % of a native step).
    pub fn reserved_for(plan: &RecordPlan, schedule: &Schedule) -> Recording {
        let mut neuron_samples = 0usize;
        let mut synapse_samples = 0usize;
        for (pi, p) in schedule.phases.iter().enumerate() {
            if !plan.neurons.is_empty() && plan.neuron_phases[pi] {
                neuron_samples += count_multiples(p.start, p.end, plan.neuron_every);
            }
            if !plan.synapses.is_empty() {
                synapse_samples += count_multiples(p.start, p.end, plan.synapse_every);
            }
        }
        let rec = Recording {
            neuron_steps: Vec::with_capacity(neuron_samples),
            u: Vec::with_capacity(neuron_samples * plan.neurons.len()),
            rho: Vec::with_capacity(neuron_samples * plan.neurons.len()),
            synapse_steps: Vec::with_capacity(synapse_samples),
            weight: Vec::with_capacity(synapse_samples * plan.synapses.len()),
            epsp: Vec::with_capacity(synapse_samples * plan.synapses.len()),
        };
        for v in [&rec.u, &rec.rho, &rec.weight, &rec.epsp] {
            advise_huge_pages(v);
        }
        rec
    }
}

/// Multiples of `every` in `[a, b)`.
fn count_multiples(a: u64, b: u64, every: u64) -> usize {
    if every == 0 || b <= a {
        return 0;
    }
    (b.div_ceil(every) - a.div_ceil(every)) as usize
}

/// Transparent huge pages for a large buffer, and its pages mapped in one
/// call. Advice only: nothing changes if the kernel refuses (old kernels
/// lack MADV_POPULATE_WRITE).
fn advise_huge_pages(v: &Vec<f64>) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        const HUGE: usize = 2 << 20;
        let bytes = v.capacity() * std::mem::size_of::<f64>();
        if bytes < HUGE {
            return;
        }
        let start = v.as_ptr() as usize;
        let end = start + bytes;
        let (lo, hi) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        let (plo, phi) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
        // SAFETY: both ranges lie inside the vector's allocation; neither
        // advice changes its contents (populating maps zero pages or keeps
        // the existing ones).
        unsafe {
            if hi > lo {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
            }
            if phi > plo {
                libc::madvise(
                    plo as *mut libc::c_void,
                    phi - plo,
                    libc::MADV_POPULATE_WRITE,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_multiples_counts() {
        assert_eq!(count_multiples(0, 10, 1), 10);
        assert_eq!(count_multiples(0, 10, 3), 4); // 0 3 6 9
        assert_eq!(count_multiples(1, 10, 3), 3);
        assert_eq!(count_multiples(5, 5, 1), 0);
        assert_eq!(count_multiples(5, 9, 0), 0);
    }
}
