//! The NEST backend: maps a [`Job`](super::Job) onto the `seqlearnmodule`
//! extension module through `crate::nest`.

use anyhow::{bail, Result};

use super::{Engine, Job, Outcome, Progress};

pub struct NestEngine;

impl NestEngine {
    pub fn load() -> Result<NestEngine> {
        bail!("the NEST backend is not wired up in this build yet")
    }
}

impl Engine for NestEngine {
    fn name(&self) -> &'static str {
        "nest"
    }

    fn run(&mut self, _job: &Job, _progress: Progress) -> Result<Outcome> {
        bail!("the NEST backend is not wired up in this build yet")
    }
}
