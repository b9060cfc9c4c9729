//! `seqlearn-nest`: build, run and analyse soft-WTA sequence-learning networks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use seqlearn_nest::analysis;
use seqlearn_nest::config::Config;
use seqlearn_nest::error::is_usage;
use seqlearn_nest::network::Network;
use seqlearn_nest::run::{self, Backend, Overrides, RunOptions};

#[derive(Parser)]
#[command(
    name = "seqlearn-nest",
    version,
    about = "Klampfl & Maass (2013) soft-WTA sequence learning on NEST or the native engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the network, generate the input, run it, write the run directory.
    Simulate(SimulateArgs),
    /// Build the network only: print the circuit sizes and write the network files.
    Grid(GridArgs),
    /// Redraw the plots (and optionally the analyses) of a run directory from its CSVs.
    Plot(PlotArgs),
    /// Run the forced-spike scenarios on the native engine and on NEST and
    /// compare every recorded quantity (exit 0 only within tolerance).
    Verify(VerifyArgs),
    /// Benchmark both engines and a NEST baseline of the same size.
    Bench(seqlearn_nest::bench::BenchArgs),
}

/// Config file plus the common overrides.
#[derive(Args)]
struct ConfigArgs {
    /// Experiment file (TOML); see experiments/. Default: the paper's setup.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Master seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Grid size NxM, e.g. 10x5.
    #[arg(long, value_parser = run::parse_grid)]
    grid: Option<[usize; 2]>,
    #[arg(long)]
    k_min: Option<usize>,
    #[arg(long)]
    k_max: Option<usize>,
    /// Number of input channels.
    #[arg(long)]
    inputs: Option<usize>,
    /// Duration of every training phase (ms).
    #[arg(long)]
    train: Option<f64>,
    /// Duration of every readout-fit and test phase (ms).
    #[arg(long)]
    test: Option<f64>,
}

impl ConfigArgs {
    fn load(&self, fallback: Option<Config>) -> Result<Config> {
        let mut cfg = match (&self.config, fallback) {
            (Some(p), _) => Config::from_file(p)?,
            (None, Some(c)) => c,
            (None, None) => Config::default(),
        };
        Overrides {
            seed: self.seed,
            grid: self.grid,
            k_min: self.k_min,
            k_max: self.k_max,
            inputs: self.inputs,
            train_ms: self.train,
            test_ms: self.test,
        }
        .apply(&mut cfg)?;
        Ok(cfg)
    }
}

#[derive(Args)]
struct SimulateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Engine: native, nest, or auto (NEST when it loads).
    #[arg(long, value_enum, default_value = "native")]
    backend: Backend,
    /// Threads (NEST local_num_threads; the native engine is single-threaded).
    #[arg(long, default_value_t = 1)]
    threads: usize,
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
    /// Force the network spikes from a `sender,time_ms` CSV (verification).
    #[arg(long)]
    forced_spikes: Option<PathBuf>,
    /// Skip analyses, plots and the report (CSV recordings only).
    #[arg(long)]
    no_analysis: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// NEST threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Also write the deviations as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct PlotArgs {
    /// A run directory written by `simulate`.
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

#[derive(Args)]
struct GridArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Directory for the network files (optional).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

fn simulate(a: SimulateArgs) -> Result<()> {
    let fallback = a.replay.as_deref().map(run::config_of_run).transpose()?;
    let cfg = a.config.load(fallback)?;
    if a.threads == 0 {
        return Err(seqlearn_nest::usage!("--threads must be >= 1"));
    }
    let opts = RunOptions {
        backend: a.backend,
        threads: a.threads,
        out: a.out.clone(),
        quiet: a.quiet,
        force: a.force,
        replay: a.replay,
        forced_spikes: a.forced_spikes,
    };
    let no_analysis = a.no_analysis;
    let s = run::simulate(cfg, &opts, &mut |dir, summary| {
        if no_analysis {
            return Ok(());
        }
        let found = analysis::analyse_run(dir, &analysis::AnalysisOptions::default())
            .context("analysing the run")?;
        summary.analysis = Some(serde_json::to_value(&found)?);
        seqlearn_nest::io::write_json(&dir.join("summary.json"), summary)?;
        seqlearn_nest::plot::render_plots(dir, None).context("plotting the run")?;
        seqlearn_nest::report::write_report(dir).context("writing report.html")?;
        Ok(())
    })?;
    if !a.quiet {
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

fn grid(a: GridArgs) -> Result<()> {
    let cfg = a.config.load(None)?;
    let net = Network::build(&cfg)?;
    let [n, m] = net.shape;
    println!("circuit sizes K on the {n} x {m} grid (rows x, columns y):");
    for x in 0..n {
        let row: Vec<String> = (0..m)
            .map(|y| format!("{:3}", net.circuits[x * m + y].k))
            .collect();
        println!("  x={x:<3}{}", row.join(""));
    }
    println!(
        "{} circuits, {} neurons, {} inputs, {} circuit pairs, {} synapses",
        net.circuits.len(),
        net.n_neurons(),
        net.n_inputs,
        net.circuit_pairs.len(),
        net.synapses.len()
    );
    if let Some(out) = a.out {
        std::fs::create_dir_all(&out)
            .map_err(|e| seqlearn_nest::usage!("cannot create {}: {e}", out.display()))?;
        seqlearn_nest::io::write_network(&out, &net, None)?;
        println!("network files written to {}", out.display());
    }
    Ok(())
}

fn verify(a: VerifyArgs) -> Result<()> {
    use seqlearn_nest::verify;
    let mut nest = seqlearn_nest::engine::nest::NestEngine::load()?;
    let mut all = Vec::new();
    println!(
        "{:<22} {:<11} {:>8} {:>12}",
        "scenario", "quantity", "values", "max |dev|"
    );
    for s in verify::scenarios() {
        for d in verify::run_scenario(&s, &mut nest, a.threads)
            .with_context(|| format!("scenario {}", s.name))?
        {
            println!(
                "{:<22} {:<11} {:>8} {:>12.3e}",
                d.scenario, d.quantity, d.values, d.max_abs
            );
            all.push(d);
        }
    }
    if let Some(path) = &a.json {
        seqlearn_nest::io::write_json(path, &all)?;
    }
    let worst = all.iter().map(|d| d.max_abs).fold(0.0, f64::max);
    if worst <= verify::TOLERANCE {
        println!(
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

fn plot(a: PlotArgs) -> Result<()> {
    if !a.run_dir.join("summary.json").is_file() {
        return Err(seqlearn_nest::usage!(
            "{} is not a run directory (no summary.json); pass a directory written by `simulate`",
            a.run_dir.display()
        ));
    }
    if a.analyse {
        analysis::analyse_run(&a.run_dir, &analysis::AnalysisOptions::default())?;
    }
    let files = seqlearn_nest::plot::render_plots(&a.run_dir, a.window)?;
    for f in files {
        println!("{}", f.display());
    }
    let report = seqlearn_nest::report::write_report(&a.run_dir)?;
    println!("{}", report.display());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(a) => simulate(a),
        Command::Grid(a) => grid(a),
        Command::Bench(a) => seqlearn_nest::bench::run(&a),
        Command::Plot(a) => plot(a),
        Command::Verify(a) => verify(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if is_usage(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
