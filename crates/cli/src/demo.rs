//! `latentflow demo`: the paper's double well end to end, from a configuration built into the
//! binary — simulate 20,000 spikes, split, fit both halves from cos^2, select, report.

use std::path::PathBuf;

use anyhow::Context;
use latentflow::optim::LearningRates;
use latentflow::synth::{Amount, Potential, SimulationConfig, Simulator, TrialLength};
use serde_json::json;

use crate::init::{BoundaryChoice, InitArgs, ParamChoice, RateChoice};
use crate::rates::StepArgs;
use crate::select::{PipelineArgs, RunTarget, SplitChoice, run_pipeline};

/// Length of the demo's trials (s).
const TRIAL_SECONDS: f64 = 10.0;

/// Arguments of `latentflow demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Output directory.
    #[arg(long, default_value = "out/demo")]
    out: PathBuf,
    /// A small version (coarser grid, fewer modes and iterations) that finishes in about a minute.
    #[arg(long)]
    quick: bool,
    /// Seed of the simulated data.
    #[arg(long, default_value_t = 2020)]
    seed: u64,
    /// Spikes to simulate (about; whole trials of 10 s).
    #[arg(long, default_value_t = 20_000)]
    spikes: u64,
    /// Most iterations per half (default 50,000, or 3,000 with --quick).
    #[arg(long)]
    iterations: Option<u64>,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `latentflow demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let sim = Simulator::new(SimulationConfig::paper())?;
    let data = sim
        .run(
            Amount::Spikes(args.spikes),
            TrialLength::Fixed(TRIAL_SECONDS),
            args.seed,
        )
        .context("simulating the paper's double well")?
        .data;
    // --quick: a coarser grid, fewer modes, and twice the paper's learning rate, so that the
    // same path is traversed in about half the iterations. Rates are per 10,000 spikes.
    let (ne, nv, lr, cap, check_every) = if args.quick {
        (64, 32, 0.01, 3_000, 250)
    } else {
        (256, 64, LearningRates::default().force, 50_000, 500)
    };
    let init_args = InitArgs {
        init: None,
        d: 10.0,
        rate: RateChoice::Paper,
        boundary: BoundaryChoice::Reflecting,
        ne,
        np: 8,
        nv,
        fit: vec![ParamChoice::Force],
        per_condition: Vec::new(),
    };
    let init = init_args.build(&data)?;
    let pipeline = PipelineArgs {
        split: SplitChoice::Alternating,
        iterations: args.iterations.unwrap_or(cap),
        step: StepArgs {
            lr: vec![(ParamChoice::Force, lr)],
            ..StepArgs::default()
        },
        threshold: 0.01,
        threshold_js: 0.002,
        no_early_stop: false,
        margin: 1.0,
        check_every,
        checkpoint_every: 1000,
    };
    let truth = Potential::paper_double_well().peq(init.grid.x(), init.grid.w())?;
    if !args.quiet {
        println!(
            "demo: the paper's double well, {} spikes in {} trials (seed {}), grid {} x {}, {} modes",
            data.num_spikes(),
            data.num_trials(),
            args.seed,
            ne,
            8,
            nv
        );
    }
    let extra = json!({
        "data": {
            "simulated": "paper double well (D = 10, one neuron 100 (x + 1) Hz, reflecting)",
            "seed": args.seed,
            "trial_seconds": TRIAL_SECONDS,
            "trials": data.num_trials(),
            "spikes": data.num_spikes(),
        },
        "ground_truth": crate::report::density_json(&init.grid, &truth),
    });
    let target = RunTarget {
        out: &args.out,
        resume: false,
        quiet: args.quiet,
        truth: Some(&truth),
        truth_p0: None,
        extra,
    };
    let (result, _) = run_pipeline(&data, &init, &pipeline, target)?;
    let w = init.grid.w();
    let kl = &result.feature_consistency;
    let fc = &result.paths[0].models[kl.selected.index1].peq;
    let bg = &result.paths[0].models[result.best_generalization[0].index].peq;
    let distance = |p: &[f64]| latentflow::select::symmetric_kl(w, p, &truth);
    if !args.quiet {
        println!(
            "symmetrised KL to the ground truth (half 1): feature consistency {:.4}, best generalisation {:.4}",
            distance(fc)?,
            distance(bg)?
        );
    }
    Ok(())
}
