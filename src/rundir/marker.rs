//! The run marker `.seqlearn-nest-run`: written into `DIR.partial/` when the
//! staging directory is created (`"complete": false`) and set to `true` just
//! before the atomic rename to `DIR/`. It is how the tool recognises a
//! directory it wrote (`--force` replaces nothing else) and how the readers
//! refuse an unfinished run (docs/reliability.md).

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::usage;

/// File name of the marker inside a run directory.
pub const MARKER: &str = ".seqlearn-nest-run";

/// Suffix of a staging directory (`DIR.partial`).
pub const PARTIAL_SUFFIX: &str = ".partial";

/// Contents of the marker file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Marker {
    pub tool: String,
    pub version: String,
    pub complete: bool,
}

/// Writes the marker of `dir` (complete or still staging).
pub fn write_marker(dir: &Path, complete: bool) -> Result<()> {
    let m = Marker {
        tool: "seqlearn-nest".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        complete,
    };
    let path = dir.join(MARKER);
    std::fs::write(&path, serde_json::to_string(&m)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The marker of `dir`, `None` when there is none or it is not ours.
pub fn read_marker(dir: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    let m: Marker = serde_json::from_str(&text).ok()?;
    (m.tool == "seqlearn-nest").then_some(m)
}

/// Refuses a staging directory as a run: a name ending in `.partial` or a
/// marker that says the run did not finish. Directories without a marker
/// (written by hand or by older versions) are accepted.
pub fn check_finished(dir: &Path) -> Result<()> {
    let name = dir
        .components()
        .next_back()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let unfinished =
        name.ends_with(PARTIAL_SUFFIX) || read_marker(dir).is_some_and(|m| !m.complete);
    if unfinished {
        return Err(usage!(
            "{} is an unfinished run (a `{PARTIAL_SUFFIX}` staging directory of an interrupted or \
             running `simulate`); pass a finished run directory",
            dir.display()
        ));
    }
    Ok(())
}
