//! The command-line layer: argument parsing (clap), printing, exit codes.
//! Nothing in the library imports it; each subcommand is one file here.

mod bench;
mod grid;
mod plot;
mod progress;
mod reproduce;
mod simulate;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use seqlearn_nest::error::is_usage;
use seqlearn_nest::model::config::Config;
use seqlearn_nest::run::Overrides;

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
    Simulate(simulate::SimulateArgs),
    /// Build the network only: print the circuit sizes and write the network files.
    Grid(grid::GridArgs),
    /// Redraw the plots (and optionally the analyses) of a run directory from its CSVs.
    Plot(plot::PlotArgs),
    /// Run the forced-spike scenarios on the native engine and on NEST and
    /// compare every recorded quantity (exit 0 only within tolerance).
    Verify(verify::VerifyArgs),
    /// Benchmark both engines and a NEST baseline of the same size.
    Bench(bench::BenchArgs),
    /// Run the original experiments (experiments/*.toml) for several seeds in
    /// parallel; write reproduction.json and reproduction.html (resumable).
    Reproduce(reproduce::ReproduceArgs),
}

/// Config file plus the common overrides.
#[derive(Args)]
pub struct ConfigArgs {
    /// Experiment file (TOML); see experiments/. Default: the paper's setup.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Master seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Grid size NxM, e.g. 10x5.
    #[arg(long, value_parser = parse_grid)]
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
    /// Refuse runs whose estimate exceeds this much memory, e.g. 512M, 8G
    /// (default: the machine's available memory).
    #[arg(long, value_parser = parse_memory)]
    max_memory: Option<f64>,
}

/// Parses `4096`, `512K`, `512M`, `8G`, `1T` (bytes, binary units).
fn parse_memory(s: &str) -> Result<f64, String> {
    let err = || format!("`{s}` is not a memory size; write e.g. 512M or 8G");
    let t = s.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let scale = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0f64.powi(4),
        _ => return Err(err()),
    };
    let v: f64 = num.trim().parse().map_err(|_| err())?;
    if !(v.is_finite() && v > 0.0) {
        return Err(err());
    }
    Ok(v * scale)
}

impl ConfigArgs {
    /// The config file (or `fallback`, or the defaults) with the overrides applied.
    /// `--max-memory` in bytes.
    pub fn max_memory(&self) -> Option<f64> {
        self.max_memory
    }

    pub fn load(&self, fallback: Option<Config>) -> Result<Config> {
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

/// Parses `10x5`.
pub fn parse_grid(s: &str) -> Result<[usize; 2], String> {
    seqlearn_nest::run::parse_grid(s)
}

/// `--threads`: 1 ..= 1024 (NEST's `local_num_threads` is an int).
pub fn check_threads(threads: usize) -> Result<()> {
    if !(1..=1024).contains(&threads) {
        return Err(seqlearn_nest::usage!(
            "--threads must lie in [1, 1024], got {threads}"
        ));
    }
    Ok(())
}

/// The analysis warnings, on stderr.
pub fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: analysis: {w}");
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(a) => simulate::run(a),
        Command::Grid(a) => grid::run(a),
        Command::Bench(a) => bench::run(&a),
        Command::Plot(a) => plot::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Reproduce(a) => reproduce::run(a),
    };
    let code: u8 = match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            if is_usage(&e) {
                2
            } else {
                1
            }
        }
    };
    // An MPI NEST must be finalised before the process exits (else mpirun
    // fails the job); on an error it is aborted, which ends the other ranks
    // instead of leaving them waiting in a collective.
    if let Err(e) = seqlearn_nest::engine::nest::driver::shutdown(i32::from(code)) {
        eprintln!("error: shutting NEST down: {e:#}");
        return ExitCode::FAILURE;
    }
    ExitCode::from(code)
}
