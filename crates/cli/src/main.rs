//! The `latentflow` command-line tool.

mod plots;
mod simulate;

use clap::{Parser, Subcommand};

/// Discover latent dynamics in spike trains and select the model that deserves interpretation.
#[derive(Parser, Debug)]
#[command(name = "latentflow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate spike data from a known potential.
    Simulate(simulate::SimulateArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(args) => simulate::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
