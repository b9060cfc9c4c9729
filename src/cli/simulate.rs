//! `seqlearn-nest simulate`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

use seqlearn_nest::analysis;
use seqlearn_nest::run::{self, Backend, RunOptions};

use super::progress::Terminal;
use super::ConfigArgs;

#[derive(Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Engine: native, nest, or auto (NEST when it loads).
    #[arg(long, default_value = "native", value_parser = backend_parser())]
    backend: Backend,
    /// Threads (NEST local_num_threads: at most one per free core unless
    /// --exact-threads; the native engine is single-threaded).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Use all --threads even when fewer cores are free (by default a NEST
    /// run uses at most one thread per free core; the result is the same).
    #[arg(long)]
    exact_threads: bool,
    /// Run directory to write.
    #[arg(long, short, default_value = "runs/latest")]
    out: PathBuf,
    /// Replace an existing run directory.
    #[arg(long)]
    force: bool,
    /// No progress bar or messages.
    #[arg(long, short)]
    quiet: bool,
    /// Re-simulate a run directory: its config (unless --config), network and input.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// With --replay: run past the end of the replayed input (no input there)
    /// instead of refusing a longer protocol.
    #[arg(long, requires = "replay")]
    extend_replay: bool,
    /// Force the network spikes from a `sender,time_ms` CSV (verification).
    #[arg(long)]
    forced_spikes: Option<PathBuf>,
    /// Skip analyses, plots and the report (CSV recordings only).
    #[arg(long)]
    no_analysis: bool,
}

/// `--backend` values, checked by clap against [`Backend::NAMES`].
pub fn backend_parser() -> impl TypedValueParser<Value = Backend> {
    PossibleValuesParser::new(Backend::NAMES)
        .map(|s| s.parse::<Backend>().expect("a listed backend name"))
}

pub fn run(a: SimulateArgs) -> Result<()> {
    // --config replaces the replayed run's summary.json (which may be absent).
    let fallback = match (&a.replay, &a.config.config) {
        (Some(dir), None) => Some(run::config_of_run(dir)?),
        _ => None,
    };
    let cfg = a.config.load(fallback)?;
    super::check_threads(a.threads)?;
    // under MPI rank 0 speaks for all
    let quiet = a.quiet || !seqlearn_nest::engine::nest::mpi::is_writer();
    let estimate = run::check_budget(&cfg, a.config.max_memory())?;
    if !quiet {
        eprintln!("estimate: {estimate}");
    }
    let opts = RunOptions {
        backend: a.backend,
        threads: a.threads,
        exact_threads: a.exact_threads,
        out: a.out.clone(),
        force: a.force,
        replay: a.replay,
        forced_spikes: a.forced_spikes,
        max_memory: a.config.max_memory(),
        extend_replay: a.extend_replay,
    };
    let no_analysis = a.no_analysis;
    let mut warnings = Vec::new();
    let mut terminal = Terminal::new(quiet);
    let s = run::simulate(cfg, &opts, &mut terminal, &mut |dir, summary| {
        if no_analysis {
            return Ok(());
        }
        let found = analysis::analyse_run(dir, &analysis::AnalysisOptions::default())
            .context("analysing the run")?;
        warnings.clone_from(&found.warnings);
        summary.analysis = Some(serde_json::to_value(&found)?);
        seqlearn_nest::rundir::write_json(&dir.join(seqlearn_nest::rundir::SUMMARY), summary)?;
        analysis::plot::render_plots(dir, None).context("plotting the run")?;
        analysis::report::write_report(dir).context("writing report.html")?;
        Ok(())
    })?;
    drop(terminal);
    if !quiet {
        super::print_warnings(&warnings);
    }
    if !quiet {
        println!(
            "{} backend: {:.1} s simulated in {:.2} s (RTF {:.4}); {} network spikes; run written to {}",
            s.backend,
            s.simulated_ms * 1e-3,
            s.wall_s.simulate,
            s.rtf,
            s.counts.network_spikes,
            a.out.display()
        );
    }
    Ok(())
}
