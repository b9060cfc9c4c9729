//! `seqlearn-nest bench`: performance benchmarks (issue 5). Being built.

use anyhow::Result;

/// Command-line arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Simulated seconds per case.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Also write the rows as JSON to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// Runs the benchmark cases and prints the table.
pub fn run(_args: &BenchArgs) -> Result<()> {
    anyhow::bail!("bench is not implemented yet")
}
