//! `seqlearn-nest plot`: redraw a run directory's plots and report.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use seqlearn_nest::analysis;

#[derive(Args)]
pub struct PlotArgs {
    /// A run directory written by `simulate` (or converted into its format).
    run_dir: PathBuf,
    /// Time window START:END in ms for the rasters and traces.
    #[arg(long, value_parser = parse_window)]
    window: Option<(f64, f64)>,
    /// Recompute the analyses (readouts, ordering, assemblies) first.
    #[arg(long)]
    analyse: bool,
}

fn parse_window(s: &str) -> Result<(f64, f64), String> {
    let err = || format!("`{s}` is not a window; write START:END in ms, e.g. 100000:103000");
    let (a, b) = s.split_once(':').ok_or_else(err)?;
    let a: f64 = a.trim().parse().map_err(|_| err())?;
    let b: f64 = b.trim().parse().map_err(|_| err())?;
    if !(a.is_finite() && b.is_finite() && a < b && a >= 0.0) {
        return Err(err());
    }
    Ok((a, b))
}

pub fn run(a: PlotArgs) -> Result<()> {
    if !a.run_dir.is_dir() {
        return Err(seqlearn_nest::usage!(
            "{} is not a directory; pass a run directory (docs/formats.md)",
            a.run_dir.display()
        ));
    }
    seqlearn_nest::rundir::marker::check_finished(&a.run_dir)?;
    let spikes = a.run_dir.join(seqlearn_nest::rundir::schema::SPIKES.name);
    if !spikes.is_file() {
        return Err(seqlearn_nest::usage!(
            "{} is missing: the rasters and analyses need the network spikes (every run \
             written by `simulate` has it; see docs/formats.md)",
            spikes.display()
        ));
    }
    // (write_report would analyse a run without analysis.json; doing it here
    // shows the warnings)
    if a.analyse || !a.run_dir.join("analysis.json").exists() {
        let found = analysis::analyse_run(&a.run_dir, &analysis::AnalysisOptions::default())?;
        super::print_warnings(&found.warnings);
    }
    let files = analysis::plot::render_plots(&a.run_dir, a.window)?;
    for f in files {
        println!("{}", f.display());
    }
    let report = analysis::report::write_report(&a.run_dir)?;
    println!("{}", report.display());
    Ok(())
}
