//! `latentflow experiment`: the paper's synthetic experiments — N independent samples from a
//! ground truth, each through the whole pipeline — with resume, sharding and a merged summary.
//!
//! Layout of `DIR`: `sample-<k>/` per sample (the pipeline's report and figures, its
//! checkpoints while running, and `result.json`, written last: a sample with a `result.json`
//! is finished and is never redone); `summary.json` and the summary figures, written by the run
//! (unsharded) or by `latentflow experiment merge`. `reselect` selects a finished run again at
//! another threshold.
//!
//! This module parses the arguments and runs the samples; `results` holds a sample's result
//! file and the judgement of its selections, `summary` the merge and the summary figures.

mod compare;
mod decision;
mod reselect;
mod results;
mod summary;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use latentflow::data::SpikeData;
use latentflow::recovery::wells;
use latentflow::synth::{Amount, Potential, SimulationConfig, Simulator, TrialLength};
use rayon::prelude::*;
use serde_json::json;

use crate::init::{BoundaryChoice, InitArgs, ParamChoice, RateChoice};
use crate::samples::sample_seed;
use crate::select::{PipelineArgs, RunTarget, run_pipeline};
use results::{SampleResult, consistency_result, method_result, portable_settings, read_result};
use summary::{merge, summary_line};

/// `latentflow experiment ...`
#[derive(clap::Args, Debug)]
pub struct ExperimentCommand {
    #[command(subcommand)]
    which: Which,
}

#[derive(clap::Subcommand, Debug)]
enum Which {
    /// The paper's double well (ED Fig. 4: 10 samples x 20,000 spikes).
    DoubleWell(ExperimentArgs),
    /// The triple well of docs/method.md §7 (ED Fig. 3: 10 x 200,000; ED Fig. 5: 5 x 30,000).
    TripleWell(ExperimentArgs),
    /// The four well of docs/method.md §7 (ED Fig. 5: 5 x 400,000 and 5 x 200,000).
    FourWell(ExperimentArgs),
    /// Combine the samples found in shard output directories into one summary.
    Merge(MergeArgs),
    /// A finished run's feature-consistency selections at another threshold, from the fit
    /// paths its samples kept (no refitting; a higher threshold needs a run to the cap).
    Reselect(reselect::ReselectArgs),
    /// Compare two runs of the same experiment sample by sample (e.g. two path methods):
    /// M*, the divergence between their selected models, evaluations and wall time.
    Compare(compare::CompareArgs),
    /// Recovery on a simulated decision task: three conditions with one potential and a p0
    /// each, absorbing bounds, five neurons (docs/guide.md, "Several task conditions").
    Decision(decision::DecisionArgs),
    /// The paper's Fig. 3: one fit whose validation -log L is flat over a long stretch of models.
    Plateau(crate::plateau::PlateauArgs),
}

/// A number of samples, 1 to 1,000,000 (for clap).
fn samples_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number from 1 to 1000000 (got {text})"
        )),
    }
}

/// Arguments of one experiment.
#[derive(clap::Args, Debug, Clone)]
pub struct ExperimentArgs {
    /// Number of independent data samples.
    #[arg(long, default_value_t = 10, value_parser = samples_count)]
    samples: usize,
    /// Spikes per sample (about: whole trials).
    #[arg(long, default_value_t = 20_000)]
    spikes: u64,
    /// Seed; sample k uses a seed derived from it and k.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Run only shard I of M (1-based), e.g. `--shard 2/4`: the samples k with k mod M = I - 1.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Trial length of the simulated data (s).
    #[arg(long, default_value_t = 10.0)]
    trial_seconds: f64,
    /// Elements of the grid on [-1, 1].
    #[arg(long, default_value_t = 256)]
    ne: usize,
    /// GLL nodes per element.
    #[arg(long, default_value_t = 8)]
    np: usize,
    /// Eigenmodes kept.
    #[arg(long, default_value_t = 64)]
    nv: usize,
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Arguments of `latentflow experiment merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Shard output directories (they may all be the same directory).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where the summary goes (default: the first directory).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, m) = s.split_once('/').ok_or("expected I/M, e.g. 1/4")?;
    let i: usize = i
        .trim()
        .parse()
        .map_err(|_| format!("shard index {i:?} is not a number"))?;
    let m: usize = m
        .trim()
        .parse()
        .map_err(|_| format!("shard count {m:?} is not a number"))?;
    if m == 0 || i == 0 || i > m {
        return Err(format!("shard {i}/{m}: need 1 <= I <= M"));
    }
    Ok((i, m))
}

/// Runs the chosen subcommand.
pub fn run(cmd: ExperimentCommand) -> anyhow::Result<()> {
    match cmd.which {
        Which::DoubleWell(a) => run_experiment("double-well", a),
        Which::TripleWell(a) => run_experiment("triple-well", a),
        Which::FourWell(a) => run_experiment("four-well", a),
        Which::Plateau(a) => crate::plateau::run(a),
        Which::Decision(a) => decision::run(a),
        Which::Compare(a) => compare::run(a),
        Which::Reselect(a) => reselect::run(a),
        Which::Merge(m) => {
            let out = m.out.clone().unwrap_or_else(|| m.dirs[0].clone());
            let summary = merge(&m.dirs, &out)?;
            println!("{}", summary_line(&summary));
            Ok(())
        }
    }
}

/// The ground truth of an experiment, by its name (as in the results).
fn truth(name: &str) -> anyhow::Result<Potential> {
    Ok(match name {
        "double-well" => Potential::paper_double_well(),
        "triple-well" => Potential::triple_well(),
        "four-well" => Potential::four_well(),
        other => anyhow::bail!("unknown experiment {other:?}"),
    })
}

fn run_experiment(name: &str, args: ExperimentArgs) -> anyhow::Result<()> {
    let truth = truth(name)?;
    let start = Instant::now();
    crate::output::prepare(&args.out)?;
    let mine: Vec<usize> = (0..args.samples)
        .filter(|k| args.shard.is_none_or(|(i, m)| k % m == i - 1))
        .collect();
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(mine.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} samples {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(name.to_string());
    let outcomes: Vec<anyhow::Result<()>> = mine
        .par_iter()
        .map(|&k| {
            let r = run_sample(name, &truth, &args, k);
            bar.inc(1);
            r.with_context(|| format!("sample {k}"))
        })
        .collect();
    bar.finish();
    for o in outcomes {
        o?;
    }
    if args.shard.is_none() {
        let summary = merge(std::slice::from_ref(&args.out), &args.out)?;
        if !args.quiet {
            println!("{}", summary_line(&summary));
        }
    } else if !args.quiet {
        println!(
            "shard done ({} samples); combine with `latentflow experiment merge {}`",
            mine.len(),
            args.out.display()
        );
    }
    if !args.quiet {
        println!(
            "{:.0} s; results in {}",
            start.elapsed().as_secs_f64(),
            args.out.display()
        );
    }
    Ok(())
}

fn sample_dir(out: &Path, k: usize) -> PathBuf {
    out.join(format!("sample-{k}"))
}

fn run_sample(
    name: &str,
    truth: &Potential,
    args: &ExperimentArgs,
    k: usize,
) -> anyhow::Result<()> {
    let dir = sample_dir(&args.out, k);
    let result_file = dir.join("result.json");
    if read_result(&result_file).is_ok() {
        return Ok(());
    }
    let sample_start = Instant::now();
    let seed = sample_seed(args.seed, k);
    let config = SimulationConfig {
        potential: truth.clone(),
        ..SimulationConfig::paper()
    };
    let data: SpikeData = Simulator::new(config)?
        .run(
            Amount::Spikes(args.spikes),
            TrialLength::Fixed(args.trial_seconds),
            seed,
        )?
        .data;
    let init = InitArgs {
        init: None,
        d: 10.0,
        rate: RateChoice::Paper,
        boundary: BoundaryChoice::Reflecting,
        ne: args.ne,
        np: args.np,
        nv: args.nv,
        fit: vec![ParamChoice::Force],
        per_condition: Vec::new(),
    }
    .build(&data)?;
    let grid = init.grid.clone();
    let true_peq = truth.peq(grid.x(), grid.w())?;
    let extra = json!({ "data": { "experiment": name, "sample": k, "seed": seed } });
    let mut pipeline = args.pipeline.clone();
    pipeline.step.v1_sign_term = pipeline.step.v1_sign_term.map(|s| sample_seed(s, k));
    // Unfinished samples continue from their checkpoints.
    let target = RunTarget {
        out: &dir,
        resume: true,
        quiet: true,
        truth: Some(&true_peq),
        truth_p0: None,
        extra,
    };
    let (result, _) = run_pipeline(&data, &init, &pipeline, target)?;
    let true_wells = wells(&grid, &true_peq)?;
    let judge = |peqs: [&[f64]; 2], fc: f64, iteration: [u64; 2], curve: [Vec<Option<f64>>; 2]| {
        method_result(
            &grid,
            &true_peq,
            true_wells.len(),
            peqs,
            fc,
            iteration,
            curve,
        )
    };
    let [p1, p2] = &result.paths;
    let fc = consistency_result(
        &grid,
        &true_peq,
        true_wells.len(),
        [p1, p2],
        &result.feature_consistency,
    )?;
    let bg = &result.best_generalization;
    let bg = judge(
        [&p1.models[bg[0].index].peq, &p2.models[bg[1].index].peq],
        bg[0].feature_complexity,
        [bg[0].iteration, bg[1].iteration],
        [
            p1.models
                .iter()
                .map(|m| Some(m.record.iteration as f64))
                .collect(),
            p1.models
                .iter()
                .map(|m| m.record.validation_neg_loglik)
                .collect(),
        ],
    )?;
    let sample = SampleResult {
        format: "latentflow-experiment-sample".into(),
        version: 1,
        experiment: name.into(),
        sample: k,
        seed,
        spikes: data.num_spikes(),
        trials: data.num_trials(),
        settings: portable_settings(serde_json::to_value(&result.config)?),
        iterations: result.iterations,
        stopped_early: result.stopped_early,
        true_wells,
        feature_consistency: fc,
        best_generalization: bg,
        seconds: sample_start.elapsed().as_secs_f64(),
    };
    latentflow::data::write_atomic(
        &result_file,
        serde_json::to_string_pretty(&sample)?.as_bytes(),
    )?;
    // The checkpoints are not needed once the result is written.
    std::fs::remove_dir_all(dir.join("checkpoints")).ok();
    Ok(())
}
