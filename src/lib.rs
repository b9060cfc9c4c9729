//! seqlearn-nest: the soft-WTA sequence-learning model of Klampfl & Maass (2013).
//!
//! The model's parts live in modules named after them and are shared by both
//! engines; the engines (`engine::native`, `engine::nest`) differ only in how
//! they step time.

pub mod analysis;
pub mod bench;
pub mod config;
pub mod engine;
pub mod error;
pub mod input;
pub mod io;
pub mod model;
pub mod nest;
pub mod network;
pub mod plot;
pub mod record;
pub mod report;
pub mod rng;
pub mod run;
pub mod verify;
