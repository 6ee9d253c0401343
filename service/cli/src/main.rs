//! `hypha`: the command-line tool.

mod inspect;
mod sim;

use clap::{Parser, Subcommand};

/// Hypha overlay mesh.
#[derive(Parser)]
#[command(name = "hypha", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show a node id's overlay address and /64 (no daemon needed).
    Inspect(inspect::Args),
    /// Run the deterministic many-node simulator.
    Sim(sim::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Inspect(a) => inspect::run(a),
        Cmd::Sim(a) => sim::run(a),
    };
    if let Err(e) = result {
        eprintln!("hypha: {e:#}");
        std::process::exit(1);
    }
}
