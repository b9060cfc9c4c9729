//! `seqlearn-nest verify`: forced-spike scenarios on both engines.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use seqlearn_nest::engine::nest::NestEngine;
use seqlearn_nest::run::verify;

#[derive(Args)]
pub struct VerifyArgs {
    /// NEST threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Also write the deviations as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(a: VerifyArgs) -> Result<()> {
    super::check_threads(a.threads)?;
    let mut nest = NestEngine::load()?;
    let mut all = Vec::new();
    // under MPI every rank runs (and checks) the scenarios; rank 0 prints
    let say = seqlearn_nest::engine::nest::mpi::is_writer();
    macro_rules! say {
        ($($t:tt)*) => {
            if say {
                println!($($t)*);
            }
        };
    }
    say!(
        "{:<22} {:<11} {:>8} {:>12}",
        "scenario",
        "quantity",
        "values",
        "max |dev|"
    );
    for s in verify::scenarios() {
        for d in verify::run_scenario(&s, &mut nest, a.threads)
            .with_context(|| format!("scenario {}", s.name))?
        {
            say!(
                "{:<22} {:<11} {:>8} {:>12.3e}",
                d.scenario,
                d.quantity,
                d.values,
                d.max_abs
            );
            all.push(d);
        }
    }
    if let (true, Some(path)) = (say, &a.json) {
        seqlearn_nest::rundir::write_json(path, &all)?;
    }
    let worst = all.iter().map(|d| d.max_abs).fold(0.0, f64::max);
    if worst <= verify::TOLERANCE {
        say!(
            "verify: NEST and native agree within {:e} (largest deviation {worst:.3e})",
            verify::TOLERANCE
        );
        Ok(())
    } else {
        anyhow::bail!(
            "NEST and native differ by up to {worst:.3e} (tolerance {:e}); see the table above",
            verify::TOLERANCE
        )
    }
}
