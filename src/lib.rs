//! seqlearn-nest: the soft-WTA sequence-learning model of Klampfl & Maass (2013).
//!
//! Layers, each using only the ones above it (docs/architecture.md):
//! - [`model`]: parameters, network, input, recording plan, equations;
//! - [`engine`]: the native reference engine and the NEST backend;
//! - [`rundir`]: the run directory (every file, written and read);
//! - [`run`]: one `simulate` run from a config to a run directory;
//! - [`analysis`]: readouts, ordering, assemblies, plots, the report.
//!
//! The command line (clap, printing, `bench`) lives in the binary (`src/cli/`).

pub mod analysis;
pub mod engine;
pub mod error;
pub mod model;
pub mod reproduce;
pub mod run;
pub mod rundir;
