//! The model layer: what is simulated, independent of any engine
//! (model.md §1–§6 and the parameters of the run).
//!
//! - [`params`]: the model's parameters (names, units, defaults, ranges),
//!   the `[model]` section and the NEST module's defaults;
//! - [`config`]: the experiment file (TOML), defaults, validation;
//! - [`network`]: grid, circuit sizes, circuit pairs, wiring, STP draws,
//!   initial weights (§1, §4);
//! - [`input`]: input generators, the phase protocol and the segment log
//!   (§5, §6);
//! - [`record`]: what to record, and the recording an engine fills;
//! - [`rng`]: the documented random streams;
//! - [`equations`]: the step equations (§2–§4) in their readable form — the
//!   specification and test oracle of the production kernels.

pub mod budget;
pub mod config;
pub mod equations;
pub mod generators;
pub mod input;
pub mod network;
pub mod params;
pub mod record;
pub mod rng;

pub use params::ModelParams;
