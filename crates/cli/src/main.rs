//! The `latentflow` command-line tool.

mod condition_figures;
mod decode;
mod demo;
mod experiment;
mod fit;
mod init;
mod loglik;
mod output;
mod plateau;
mod plots;
mod progress;
mod rates;
mod report;
mod samples;
mod select;
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
    /// The paper's double well end to end: simulate, fit two halves, select, report.
    Demo(demo::DemoArgs),
    /// Split data into halves, fit both, select by feature consistency and best generalisation.
    Select(select::SelectArgs),
    /// The paper's synthetic experiments: many samples through the pipeline, with a summary.
    Experiment(experiment::ExperimentCommand),
    /// Fit a model to training data, validated on held-out data.
    Fit(fit::FitArgs),
    /// What the latent did on each trial under a saved model: posterior, Viterbi path, PSTHs.
    Decode(decode::DecodeArgs),
    /// Evaluate -log L (and gradients) of a saved model on data.
    Loglik(loglik::LoglikArgs),
    /// Simulate spike data from a known potential.
    Simulate(simulate::SimulateArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Select(args) => select::run(args),
        Command::Experiment(args) => experiment::run(args),
        Command::Fit(args) => fit::run(args),
        Command::Decode(args) => decode::run(args),
        Command::Loglik(args) => loglik::run(args),
        Command::Simulate(args) => simulate::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
