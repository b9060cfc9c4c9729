//! `summary.json`: one typed document, written by `simulate` and read back
//! by `--replay` (its config) and by the analysis (the documented keys
//! `config.model.dt_ms`, `config.model.tau_decay_ms`,
//! `config.network.n_inputs`, `counts.neurons`, `simulated_ms`; see
//! docs/formats.md).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::engine::Parallel;
use crate::model::config::Config;
use crate::usage;

/// File name of the summary inside a run directory.
pub const SUMMARY: &str = "summary.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WallTimes {
    pub build: f64,
    pub simulate: f64,
    pub write: f64,
    pub total: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    pub circuits: usize,
    pub neurons: usize,
    pub synapses: usize,
    pub input_spikes: usize,
    pub network_spikes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Versions {
    pub seqlearn_nest: String,
    pub engine: String,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// The fully resolved config of the run.
    pub config: Config,
    pub seed: u64,
    /// `native` or `nest`.
    pub backend: String,
    pub threads: usize,
    /// MPI ranks, threads per rank and virtual processes (absent in
    /// summaries written before MPI support: one process).
    #[serde(default)]
    pub parallel: Parallel,
    pub versions: Versions,
    /// The replayed run directory, if any.
    pub replay: Option<PathBuf>,
    /// The forced-spike file, if any.
    pub forced_spikes: Option<PathBuf>,
    pub simulated_ms: f64,
    pub wall_s: WallTimes,
    /// Simulate wall time / simulated time.
    pub rtf: f64,
    pub counts: Counts,
    /// The analysis summary, filled by the analysis step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<serde_json::Value>,
}

impl Summary {
    /// Simulation step (ms): `config.model.dt_ms`.
    pub fn dt_ms(&self) -> f64 {
        self.config.model.dt_ms
    }

    /// Trace decay time constant (ms): `config.model.tau_decay_ms`.
    pub fn tau_decay_ms(&self) -> f64 {
        self.config.model.tau_decay_ms
    }

    /// Number of input channels: `config.network.n_inputs`.
    pub fn n_inputs(&self) -> usize {
        self.config.network.n_inputs
    }
}

/// Reads `dir/summary.json`; its absence is an error that says what needs it.
pub fn read_summary(dir: &Path) -> Result<Summary> {
    let path = dir.join(SUMMARY);
    let text = crate::error::read_regular(&path).map_err(|e| {
        usage!(
            "cannot read {}: {e}; a run directory written by `simulate` has one (with \
             --replay, pass --config to replace it)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        usage!(
            "{}: invalid JSON or not a seqlearn-nest summary: {e} (see docs/formats.md)",
            path.display()
        )
    })
}

/// `dir/summary.json` if the file exists.
pub fn read_summary_if_present(dir: &Path) -> Result<Option<Summary>> {
    if dir.join(SUMMARY).exists() {
        read_summary(dir).map(Some)
    } else {
        Ok(None)
    }
}
