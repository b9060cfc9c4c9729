//! `seqlearn-nest reproduce`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use seqlearn_nest::reproduce::{self, Observer, ReproduceOptions};
use seqlearn_nest::run::Backend;

use super::simulate::backend_parser;

#[derive(Args)]
pub struct ReproduceArgs {
    /// Only these experiments (comma-separated), e.g. xor,multi. Default: all.
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// Seeds per experiment (the preset's seed, +1, +2, ...).
    #[arg(long, default_value_t = 3)]
    seeds: usize,
    /// Engine of every run.
    #[arg(long, default_value = "native", value_parser = backend_parser())]
    backend: Backend,
    /// Runs in parallel (child processes). Default: the number of cores.
    #[arg(long)]
    jobs: Option<usize>,
    /// Output directory (kept between invocations: finished runs are reused).
    #[arg(long, short, default_value = "runs/reproduction")]
    out: PathBuf,
    /// Multiply every phase duration by this factor in (0, 1] (quick checks).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// No progress messages.
    #[arg(long, short)]
    quiet: bool,
}

struct Stderr {
    quiet: bool,
}

impl Observer for Stderr {
    fn note(&self, message: &str) {
        if !self.quiet {
            eprintln!("reproduce: {message}");
        }
    }
}

pub fn run(a: ReproduceArgs) -> Result<()> {
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let opts = ReproduceOptions {
        only: a.only,
        seeds: a.seeds,
        backend: a.backend,
        jobs,
        out: a.out.clone(),
        exe: std::env::current_exe().context("locating the seqlearn-nest executable")?,
        scale: a.scale,
    };
    let t0 = std::time::Instant::now();
    let rep = reproduce::reproduce(&opts, &Stderr { quiet: a.quiet })?;
    if !a.quiet {
        println!(
            "{} rows from {} experiment(s) in {:.1} s; wrote {} and {}",
            rep.rows.len(),
            rep.experiments.len(),
            t0.elapsed().as_secs_f64(),
            a.out.join("reproduction.json").display(),
            a.out.join("reproduction.html").display()
        );
    }
    if !rep.failed.is_empty() {
        anyhow::bail!(
            "{} run(s) failed:\n  {}",
            rep.failed.len(),
            rep.failed.join("\n  ")
        );
    }
    Ok(())
}
