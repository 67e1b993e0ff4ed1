//! `latentflow experiment`: the paper's synthetic experiments — N independent samples from a
//! ground truth, each through the whole pipeline — with resume, sharding and a merged summary.
//!
//! Layout of `DIR`: `sample-<k>/` per sample (the pipeline's report and figures, its
//! checkpoints while running, and `result.json`, written last: a sample with a `result.json`
//! is finished and is never redone); `summary.json` and the summary figures, written by the run
//! (unsharded) or by `latentflow experiment merge`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use latentflow::data::SpikeData;
use latentflow::recovery::{RECOVERY_KL, Recovery, WELL_PROMINENCE, wells};
use latentflow::spectral::Grid;
use latentflow::synth::{Amount, Potential, SimulationConfig, Simulator, TrialLength};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::init::{BoundaryChoice, InitArgs, ParamChoice, RateChoice};
use crate::plots::{GREY, HLine, LinePlot, Points, Series, Style, save_panels};
use crate::report::{potential, potential_range, truth_series};
use crate::samples::sample_seed;
use crate::select::{PipelineArgs, run_pipeline};

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
    /// The paper's Fig. 3: one fit whose validation -log L is flat over a long stretch of models.
    Plateau(crate::plateau::PlateauArgs),
}

/// Arguments of one experiment.
#[derive(clap::Args, Debug, Clone)]
pub struct ExperimentArgs {
    /// Number of independent data samples.
    #[arg(long, default_value_t = 10)]
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

/// What one method selected in one sample.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MethodResult {
    /// M* (feature consistency) or the feature complexity of the chosen model (best
    /// generalisation).
    pub feature_complexity: f64,
    /// Iterations of the chosen models in half 1 and half 2.
    pub iteration: [u64; 2],
    /// Nodes.
    pub x: Vec<f64>,
    /// Quadrature weights.
    pub w: Vec<f64>,
    /// Selected density of half 1 on the nodes.
    pub peq: Vec<f64>,
    /// Selected density of half 2.
    pub peq_half2: Vec<f64>,
    /// Symmetrised KL to the ground truth, halves 1 and 2.
    pub kl_to_truth: [f64; 2],
    /// Well positions (prominence >= [`WELL_PROMINENCE`]), halves 1 and 2.
    pub wells: [Vec<f64>; 2],
    /// Half 1 recovers the truth (KL < [`RECOVERY_KL`] and the true number of wells).
    pub recovered: bool,
    /// The curve behind the choice: (feature complexity, divergence) for feature consistency,
    /// (iteration, validation -log L of half 1) for best generalisation.
    pub curve: [Vec<Option<f64>>; 2],
}

/// `DIR/sample-<k>/result.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SampleResult {
    /// `"latentflow-experiment-sample"`.
    pub format: String,
    /// 1.
    pub version: u32,
    /// double-well, triple-well or four-well.
    pub experiment: String,
    /// Sample index.
    pub sample: usize,
    /// Seed of its data.
    pub seed: u64,
    /// Spikes and trials simulated.
    pub spikes: usize,
    /// Trials simulated.
    pub trials: usize,
    /// The pipeline settings, without `checkpoint_dir` (a path in the output directory).
    pub settings: Value,
    /// Iterations each half ran, and whether the stopping rule ended them before the cap.
    pub iterations: u64,
    /// See `iterations`.
    pub stopped_early: bool,
    /// Wells of the ground truth.
    pub true_wells: Vec<f64>,
    /// Feature consistency (symmetrised KL).
    pub feature_consistency: MethodResult,
    /// Best generalisation.
    pub best_generalization: MethodResult,
    /// Wall time of this sample (s); not part of the summary.
    pub seconds: f64,
}

/// Runs the chosen subcommand.
pub fn run(cmd: ExperimentCommand) -> anyhow::Result<()> {
    match cmd.which {
        Which::DoubleWell(a) => run_experiment("double-well", Potential::paper_double_well(), a),
        Which::TripleWell(a) => run_experiment("triple-well", Potential::triple_well(), a),
        Which::FourWell(a) => run_experiment("four-well", Potential::four_well(), a),
        Which::Plateau(a) => crate::plateau::run(a),
        Which::Merge(m) => {
            let out = m.out.clone().unwrap_or_else(|| m.dirs[0].clone());
            let summary = merge(&m.dirs, &out)?;
            println!("{}", summary_line(&summary));
            Ok(())
        }
    }
}

fn run_experiment(name: &str, truth: Potential, args: ExperimentArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
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
    }
    .build(&data)?;
    let grid = init.grid.clone();
    let true_peq = truth.peq(grid.x(), grid.w())?;
    let extra = json!({ "data": { "experiment": name, "sample": k, "seed": seed } });
    // Unfinished samples continue from their checkpoints.
    let (result, _) = run_pipeline(
        &data,
        &init,
        &args.pipeline,
        &dir,
        true,
        true,
        Some(&true_peq),
        extra,
    )?;
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
    let kl = &result.feature_consistency;
    let [p1, p2] = &result.paths;
    let fc = judge(
        [
            &p1.models[kl.selected.index1].peq,
            &p2.models[kl.selected.index2].peq,
        ],
        kl.m_star,
        [kl.selected.iteration1, kl.selected.iteration2],
        [
            kl.axis.iter().map(|&a| Some(a)).collect(),
            kl.divergence.clone(),
        ],
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

/// The pipeline settings without `checkpoint_dir`: that path names the output directory, and
/// the results (and the summary built from them) must not depend on where a shard wrote them.
fn portable_settings(mut settings: Value) -> Value {
    if let Value::Object(map) = &mut settings {
        map.remove("checkpoint_dir");
    }
    settings
}

#[allow(clippy::type_complexity)]
fn method_result(
    grid: &Grid,
    truth: &[f64],
    true_wells: usize,
    peqs: [&[f64]; 2],
    feature_complexity: f64,
    iteration: [u64; 2],
    curve: [Vec<Option<f64>>; 2],
) -> anyhow::Result<MethodResult> {
    let [half1, half2] = [
        Recovery::new(grid, peqs[0], truth)?,
        Recovery::new(grid, peqs[1], truth)?,
    ];
    Ok(MethodResult {
        feature_complexity,
        iteration,
        x: grid.x().to_vec(),
        w: grid.w().to_vec(),
        peq: peqs[0].to_vec(),
        peq_half2: peqs[1].to_vec(),
        recovered: half1.recovers(true_wells),
        kl_to_truth: [half1.kl_to_truth, half2.kl_to_truth],
        wells: [half1.wells, half2.wells],
        curve,
    })
}

fn read_result(path: &Path) -> anyhow::Result<SampleResult> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let r: SampleResult = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a sample result", path.display()))?;
    if r.format != "latentflow-experiment-sample" || r.version != 1 {
        bail!("{}: not a version-1 sample result", path.display());
    }
    Ok(r)
}

/// Reads every `sample-*/result.json` under `dirs`, writes `out/summary.json` and the summary
/// figures, and returns the summary. The summary depends only on the sample results (no
/// timings), so merged shards give the same file as one unsharded run.
pub fn merge(dirs: &[PathBuf], out: &Path) -> anyhow::Result<Value> {
    let mut results: Vec<SampleResult> = Vec::new();
    for dir in dirs {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        for e in entries {
            let e = e?;
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("sample-") && e.path().join("result.json").exists() {
                let r = read_result(&e.path().join("result.json"))?;
                if !results.iter().any(|x| x.sample == r.sample) {
                    results.push(r);
                }
            }
        }
    }
    if results.is_empty() {
        bail!("no finished samples (sample-*/result.json) in {dirs:?}");
    }
    results.sort_by_key(|r| r.sample);
    if let Some(r) = results
        .iter()
        .find(|r| r.experiment != results[0].experiment)
    {
        bail!(
            "sample {} is from {}, not {}",
            r.sample,
            r.experiment,
            results[0].experiment
        );
    }
    let method = |m: fn(&SampleResult) -> &MethodResult| {
        let n = results.iter().filter(|r| m(r).recovered).count();
        json!({
            "recovered": n,
            "failed": results.len() - n,
            "kl_to_truth": results.iter().map(|r| m(r).kl_to_truth[0]).collect::<Vec<_>>(),
            "wells": results.iter().map(|r| m(r).wells[0].len()).collect::<Vec<_>>(),
        })
    };
    let per_sample: Vec<Value> = results
        .iter()
        .map(|r| {
            let m = |m: &MethodResult| {
                json!({
                    "feature_complexity": m.feature_complexity,
                    "iteration": m.iteration,
                    "kl_to_truth": m.kl_to_truth,
                    "wells": m.wells,
                    "recovered": m.recovered,
                })
            };
            json!({
                "sample": r.sample, "seed": r.seed, "spikes": r.spikes, "trials": r.trials,
                "iterations": r.iterations, "stopped_early": r.stopped_early,
                "feature_consistency": m(&r.feature_consistency),
                "best_generalization": m(&r.best_generalization),
            })
        })
        .collect();
    let summary = json!({
        "format": "latentflow-experiment-summary",
        "version": 1,
        "experiment": results[0].experiment,
        "samples": results.len(),
        "true_wells": results[0].true_wells,
        "well_prominence": WELL_PROMINENCE,
        "recovery_kl": RECOVERY_KL,
        "settings": portable_settings(results[0].settings.clone()),
        "feature_consistency": method(|r| &r.feature_consistency),
        "best_generalization": method(|r| &r.best_generalization),
        "per_sample": per_sample,
    });
    summary_figures(&results, out)?;
    let file = out.join("summary.json");
    latentflow::data::write_atomic(&file, serde_json::to_string_pretty(&summary)?.as_bytes())?;
    Ok(summary)
}

fn summary_line(s: &Value) -> String {
    format!(
        "{} samples of {}: feature consistency recovered the truth in {}, best generalisation in {}",
        s["samples"],
        s["experiment"],
        s["feature_consistency"]["recovered"],
        s["best_generalization"]["recovered"]
    )
}

/// Figures in the style of the paper's Extended Data: every sample's selected potential over
/// the ground truth (one panel per method), the divergence curves with M*, the validation
/// curves with their minima.
fn summary_figures(results: &[SampleResult], out: &Path) -> anyhow::Result<()> {
    let first = &results[0].feature_consistency;
    let x = first.x.clone();
    let grid_truth = |r: &SampleResult| -> anyhow::Result<Vec<f64>> {
        let potential = match r.experiment.as_str() {
            "triple-well" => Potential::triple_well(),
            "four-well" => Potential::four_well(),
            _ => Potential::paper_double_well(),
        };
        Ok(potential.peq(&r.feature_consistency.x, &r.feature_consistency.w)?)
    };
    let truth = grid_truth(&results[0])?;
    let potentials = |title: &str, m: fn(&SampleResult) -> &MethodResult| {
        let mut p = LinePlot::new(title, "x", "Phi = -ln peq");
        p.y_range = potential_range(&[], Some(&truth));
        p.series.push(truth_series(&x, &truth));
        for (i, r) in results.iter().enumerate() {
            let colour = if i % 10 == GREY { 9 } else { i % 10 };
            p.series.push(
                Series::new(
                    format!("sample {}", r.sample),
                    x.clone(),
                    potential(&m(r).peq),
                )
                .style(Style::colour(colour).width(1)),
            );
        }
        p
    };
    save_panels(
        &[
            potentials("Feature consistency", |r| &r.feature_consistency),
            potentials("Best generalisation", |r| &r.best_generalization),
        ],
        2,
        &out.join("summary_potentials"),
    )?;
    let mut div = LinePlot::new(
        "Divergence between the halves",
        "feature complexity",
        "symmetrised KL",
    );
    let mut val = LinePlot::new(
        "Validation (half 1)",
        "iteration",
        "-log L - (-log L at iteration 0)",
    );
    val.log_x = true;
    for (i, r) in results.iter().enumerate() {
        let colour = if i % 10 == GREY { 9 } else { i % 10 };
        let fc = &r.feature_consistency;
        let unwrap =
            |v: &Vec<Option<f64>>| v.iter().map(|d| d.unwrap_or(f64::NAN)).collect::<Vec<_>>();
        let axis = unwrap(&fc.curve[0]);
        let d = unwrap(&fc.curve[1]);
        let at = axis.iter().position(|&a| a == fc.feature_complexity);
        div.series.push(
            Series::new(format!("sample {}", r.sample), axis.clone(), d.clone())
                .style(Style::colour(colour).width(1)),
        );
        if let Some(j) = at {
            div.points.push(Points::marker(axis[j], d[j], colour, 4));
        }
        let bg = &r.best_generalization;
        let it: Vec<f64> = unwrap(&bg.curve[0])
            .into_iter()
            .map(|i| i.max(1.0))
            .collect();
        let v = unwrap(&bg.curve[1]);
        let v0 = v.first().copied().unwrap_or(0.0);
        let v: Vec<f64> = v.iter().map(|y| y - v0).collect();
        if let Some(j) = it
            .iter()
            .position(|&i| i == (bg.iteration[0] as f64).max(1.0))
        {
            val.points.push(Points::marker(it[j], v[j], colour, 4));
        }
        val.series.push(
            Series::new(format!("sample {}", r.sample), it, v)
                .style(Style::colour(colour).width(1)),
        );
    }
    if let Some(t) = results[0].settings["consistency_kl"]["threshold"].as_f64() {
        div.hlines.push(HLine {
            y: t,
            label: format!("threshold {t}"),
            style: Style::colour(GREY).dashed(),
        });
    }
    save_panels(&[div, val], 2, &out.join("summary_curves"))?;
    Ok(())
}
