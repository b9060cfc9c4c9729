//! The parts of a run directory the analyses need, read through the run
//! directory layer (`rundir`), and the run constants with their origin.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::model::config::TargetGrouping;
use crate::model::{budget, ModelParams};
use crate::rundir::{self, schema, ProtocolPhase, Segment, Spikes, Summary};
use crate::usage;

/// Run-level constants used by the analyses, with where each came from.
#[derive(Clone, Debug, Serialize)]
pub struct RunConstants {
    pub dt_ms: f64,
    pub dt_from: String,
    pub tau_decay_ms: f64,
    pub tau_decay_from: String,
}

impl RunConstants {
    /// `dt` and `tau_decay` from the typed summary (`config.model.dt_ms`,
    /// `config.model.tau_decay_ms`). Without summary.json the model's
    /// defaults are used and a warning says so.
    pub fn of(summary: Option<&Summary>, warnings: &mut Vec<String>) -> Result<RunConstants> {
        let Some(s) = summary else {
            let m = ModelParams::default();
            warnings.push(format!(
                "summary.json is absent: the analysis uses the model's defaults dt = {} ms and \
                 tau_decay = {} ms (model.md §2)",
                m.dt_ms, m.tau_decay_ms
            ));
            let from = "default: no summary.json (model.md §2)".to_string();
            return Ok(RunConstants {
                dt_ms: m.dt_ms,
                dt_from: from.clone(),
                tau_decay_ms: m.tau_decay_ms,
                tau_decay_from: from,
            });
        };
        for (key, v) in [
            ("config.model.dt_ms", s.dt_ms()),
            ("config.model.tau_decay_ms", s.tau_decay_ms()),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(usage!("summary.json: `{key}` must be > 0, got {v}"));
            }
        }
        Ok(RunConstants {
            dt_ms: s.dt_ms(),
            dt_from: "summary.json config.model.dt_ms".into(),
            tau_decay_ms: s.tau_decay_ms(),
            tau_decay_from: "summary.json config.model.tau_decay_ms".into(),
        })
    }
}

/// The parts of a run directory the analyses need.
pub struct RunData {
    pub constants: RunConstants,
    pub summary: Option<Summary>,
    pub protocol: Vec<ProtocolPhase>,
    pub segments: Vec<Segment>,
    pub spikes: Spikes,
    pub n_neurons: usize,
    pub n_inputs: usize,
    /// `neuron -> circuit` (empty if neither circuits.csv nor neurons.csv exist).
    pub neuron_circuit: Vec<usize>,
    /// End of the run in ms.
    pub end_ms: f64,
    /// What had to be assumed while loading (no summary.json, ...).
    pub warnings: Vec<String>,
}

impl RunData {
    /// The experiment's target grouping (`[analysis] targets`; merged when
    /// the run has no summary.json).
    pub fn target_grouping(&self) -> TargetGrouping {
        self.summary
            .as_ref()
            .map_or(TargetGrouping::default(), |s| s.config.analysis.targets)
    }

    /// Loads phases, protocol, spikes and the network layout (input spikes are
    /// loaded separately, only where needed).
    pub fn load(dir: &Path) -> Result<Self> {
        let summary = rundir::read_summary_if_present(dir)?;
        let mut warnings = Vec::new();
        let constants = RunConstants::of(summary.as_ref(), &mut warnings)?;
        let protocol = rundir::read_protocol(dir)?;
        let segments = rundir::read_phases(dir)?;
        let spikes = rundir::read_spikes(&dir.join(schema::SPIKES.name), &schema::SPIKES)?;
        let neuron_circuit = neuron_circuits(dir)?;
        let n_neurons = n_neurons_of(
            dir,
            summary.as_ref(),
            &neuron_circuit,
            &spikes,
            &mut warnings,
        )?;
        let n_inputs = n_inputs_of(dir, summary.as_ref(), &mut warnings)?;
        let end_ms = protocol
            .iter()
            .map(|p| p.end_ms)
            .chain(segments.iter().map(|s| s.end_ms))
            .fold(summary.as_ref().map_or(0.0, |s| s.simulated_ms), f64::max);
        Ok(Self {
            constants,
            summary,
            protocol,
            segments,
            spikes,
            n_neurons,
            n_inputs,
            neuron_circuit,
            end_ms,
            warnings,
        })
    }

    /// Steps at whose start the traces are reset (protocol phases with reset).
    pub fn reset_steps(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .protocol
            .iter()
            .filter(|p| p.reset)
            .map(|p| super::traces::step_of(p.start_ms, self.constants.dt_ms))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Most neurons or input channels inferred from the largest id in a spike
/// table alone (without network files or summary.json).
const MAX_INFERRED: usize = 1 << 20;

/// `neuron -> circuit` from circuits.csv, else neurons.csv, else empty.
fn neuron_circuits(dir: &Path) -> Result<Vec<usize>> {
    if dir.join(schema::CIRCUITS.name).exists() {
        let mut out = Vec::new();
        for (i, c) in rundir::read_circuits(dir)?.iter().enumerate() {
            if c.first_neuron.saturating_add(c.k) > budget::MAX_IDS {
                return Err(usage!(
                    "{}: circuit {i} spans neurons {}..{}+{}, beyond the {} neurons this tool \
                     supports",
                    dir.join(schema::CIRCUITS.name).display(),
                    c.first_neuron,
                    c.first_neuron,
                    c.k,
                    budget::MAX_IDS
                ));
            }
            out.resize(out.len().max(c.first_neuron + c.k), usize::MAX);
            out[c.first_neuron..c.first_neuron + c.k].fill(i);
        }
        return Ok(out);
    }
    if dir.join(schema::NEURONS.name).exists() {
        return Ok(rundir::read_neurons(dir)?.circuit);
    }
    Ok(Vec::new())
}

/// Number of network neurons: the network files, else `counts.neurons` of
/// summary.json, else the largest sender + 1 (with a warning). The two
/// sources must agree; no spike may come from a neuron beyond them.
fn n_neurons_of(
    dir: &Path,
    summary: Option<&Summary>,
    neuron_circuit: &[usize],
    spikes: &Spikes,
    warnings: &mut Vec<String>,
) -> Result<usize> {
    let from_files = (!neuron_circuit.is_empty()).then_some(neuron_circuit.len());
    let from_summary = summary.map(|s| s.counts.neurons);
    let n = match (from_files, from_summary) {
        (Some(a), Some(b)) if a != b => {
            return Err(usage!(
                "{}: the network files have {a} neurons, but summary.json counts.neurons = {b}",
                dir.display()
            ))
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            let n = spikes.max_id().map_or(0, |m| m as usize + 1);
            warnings.push(format!(
                "no circuits.csv, neurons.csv or summary.json: {n} neurons assumed from the \
                 largest sender in spikes.csv"
            ));
            n
        }
    };
    if n > budget::MAX_IDS || (from_files.is_none() && from_summary.is_none() && n > MAX_INFERRED) {
        return Err(usage!(
            "{}: {n} neurons (from {}) is more than this tool supports ({} with the network \
             files or summary.json, {MAX_INFERRED} inferred from spikes.csv alone)",
            dir.display(),
            if from_files.is_some() {
                "the network files"
            } else if from_summary.is_some() {
                "summary.json counts.neurons"
            } else {
                "the largest sender in spikes.csv"
            },
            budget::MAX_IDS
        ));
    }
    if let Some(m) = spikes.max_id().filter(|&m| m as usize >= n) {
        return Err(usage!(
            "{}: sender {m} does not exist (the run has {n} neurons)",
            dir.join(schema::SPIKES.name).display()
        ));
    }
    Ok(n)
}

/// Number of input channels: `config.network.n_inputs` of summary.json,
/// else the `input` rows of sources.csv, else the largest channel of
/// input_spikes.csv and patterns.csv + 1 (with a warning).
pub fn n_inputs_of(
    dir: &Path,
    summary: Option<&Summary>,
    warnings: &mut Vec<String>,
) -> Result<usize> {
    if let Some(s) = summary {
        if s.n_inputs() > budget::MAX_IDS {
            return Err(usage!(
                "{}: config.network.n_inputs = {} is more than the {} this tool supports",
                dir.join(rundir::SUMMARY).display(),
                s.n_inputs(),
                budget::MAX_IDS
            ));
        }
        return Ok(s.n_inputs());
    }
    if dir.join(schema::SOURCES.name).exists() {
        return Ok(rundir::read_sources(dir)?.1);
    }
    let mut max = 0usize;
    if dir.join(schema::PATTERNS.name).exists() {
        for p in rundir::read_patterns(dir)? {
            for (_, ch) in p {
                max = max.max(ch as usize + 1);
            }
        }
    }
    let path = dir.join(schema::INPUT_SPIKES.name);
    if path.exists() {
        let sp = rundir::read_spikes(&path, &schema::INPUT_SPIKES)?;
        max = max.max(sp.max_id().map_or(0, |m| m as usize + 1));
    }
    if max > MAX_INFERRED {
        return Err(usage!(
            "{}: no summary.json or sources.csv, and the largest channel in input_spikes.csv / \
             patterns.csv means {max} input channels, more than the {MAX_INFERRED} this tool \
             infers; add summary.json or sources.csv",
            dir.display()
        ));
    }
    warnings.push(format!(
        "no summary.json or sources.csv: {max} input channels assumed from the largest channel \
         in input_spikes.csv and patterns.csv"
    ));
    Ok(max)
}
