//! `seqlearn-nest grid`: build the network only and show it.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use seqlearn_nest::model::network::Network;

use super::ConfigArgs;

#[derive(Args)]
pub struct GridArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Directory for the network files (optional).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub fn run(a: GridArgs) -> Result<()> {
    let cfg = a.config.load(None)?;
    let estimate = seqlearn_nest::run::check_budget(&cfg, a.config.max_memory())?;
    println!("estimate of a full run: {estimate}");
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
        seqlearn_nest::rundir::write_network(&out, &net, None)?;
        println!("network files written to {}", out.display());
    }
    Ok(())
}
