//! The run directory (docs/formats.md): every file, written and read.
//!
//! - [`schema`]: the column definitions of every CSV file, used by the
//!   writers, the readers, docs/formats.md and docs/formats.schema.json;
//! - [`Writer`] / [`Reader`]: one CSV file against its schema (the reading
//!   rule: columns by name, extra columns ignored, see [`schema`]);
//! - network files ([`write_network`], [`read_network`] for `--replay`),
//!   input and activity ([`write_input`], [`read_input`], [`read_spikes`],
//!   [`read_phases`], [`read_protocol`]), recordings ([`write_recording`],
//!   [`read_rho_window`]) and [`Summary`] (`summary.json`).
//!
//! The analysis reads the same files through the same functions into the
//! same types; `--replay` converts them onto the step grid of the model.

mod activity;
pub mod marker;
mod network;
mod recording;
pub mod schema;
mod summary;
mod table;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

pub use activity::{
    read_input, read_patterns, read_phases, read_protocol, read_spikes, read_step_spikes,
    write_input, write_spikes, ProtocolPhase, Segment, Spikes,
};
pub use network::{
    read_circuit_pairs, read_circuits, read_network, read_neurons, read_sources, write_network,
    FinalState, Neurons,
};
pub use recording::{read_rho_window, read_rho_window_seeking, write_recording, RhoSamples};
pub use summary::{
    read_summary, read_summary_if_present, Counts, Summary, Versions, WallTimes, SUMMARY,
};
pub use table::{Reader, Row, Writer};

/// A float cell: Rust's shortest round-trip form.
pub(crate) fn fmt_f64(x: f64) -> String {
    format!("{x}")
}

/// A nullable cell: empty for `None`.
pub(crate) fn fmt_opt<T: std::fmt::Display>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// Writes `value` as pretty JSON.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut w = BufWriter::new(
        File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    serde_json::to_writer_pretty(&mut w, value)?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}
