//! `latentflow experiment plateau`: the paper's Fig. 3 — on one moderate data sample, training
//! -log L keeps falling along the gradient-descent path while validation -log L stays flat over
//! a long stretch of models that differ in shape, so best generalisation cannot tell them apart.
//!
//! Training and validation data are independent samples of the paper's double well (seeds
//! derived from `--seed` as for the samples of `experiment`). The flat stretch is the run of
//! saved models around the validation minimum whose validation -log L is within `--flat-within`
//! nats of it; three models from it (its first, its middle and its last, by iteration) are
//! drawn over the ground truth.

use std::path::PathBuf;

use anyhow::Context;
use latentflow::data::SpikeData;
use latentflow::optim::SavedModel;
use latentflow::recovery::WELL_PROMINENCE;
use latentflow::select::{find_wells, symmetric_kl};
use latentflow::synth::{Amount, Potential, SimulationConfig, Simulator, TrialLength};
use serde_json::json;

use crate::fit::{FitOptions, run_fit};
use crate::init::{BoundaryChoice, InitArgs, ParamChoice, RateChoice};
use crate::plots::{GREY, Legend, LinePlot, Points, Series, Style, VLine, save_panels};
use crate::rates::StepArgs;
use crate::report::{potential, potential_range, truth_series};
use crate::samples::sample_seed;

/// Arguments of `latentflow experiment plateau`.
#[derive(clap::Args, Debug)]
pub struct PlateauArgs {
    /// Spikes in the training sample (the validation sample is as large).
    #[arg(long, default_value_t = 10_000)]
    spikes: u64,
    /// Seed; training data use the seed of sample 0, validation data that of sample 1.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Gradient-descent iterations.
    #[arg(long, default_value_t = 20_000)]
    iterations: u64,
    #[command(flatten)]
    step: StepArgs,
    /// Models within this many nats of the validation minimum form the flat stretch.
    #[arg(long, default_value_t = 1.0)]
    flat_within: f64,
    /// Trial length of the simulated data (s).
    #[arg(long, default_value_t = 10.0)]
    trial_seconds: f64,
    /// Elements of the grid on [-1, 1].
    #[arg(long, default_value_t = 256)]
    ne: usize,
    /// Eigenmodes kept.
    #[arg(long, default_value_t = 64)]
    nv: usize,
    /// Checkpoint every this many iterations (into OUT/fit.ckpt).
    #[arg(long, default_value_t = 1000)]
    checkpoint_every: u64,
    /// Continue from OUT/fit.ckpt.
    #[arg(long)]
    resume: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `latentflow experiment plateau`.
pub fn run(args: PlateauArgs) -> anyhow::Result<()> {
    if args.flat_within.is_nan() || args.flat_within <= 0.0 {
        anyhow::bail!("--flat-within must be positive, got {}", args.flat_within);
    }
    let start = std::time::Instant::now();
    let truth = Potential::paper_double_well();
    let simulate = |k: usize| -> anyhow::Result<SpikeData> {
        let config = SimulationConfig {
            potential: truth.clone(),
            ..SimulationConfig::paper()
        };
        Ok(Simulator::new(config)?
            .run(
                Amount::Spikes(args.spikes),
                TrialLength::Fixed(args.trial_seconds),
                sample_seed(args.seed, k),
            )?
            .data)
    };
    let (train, validation) = (simulate(0)?, simulate(1)?);
    let spikes = [train.num_spikes(), validation.num_spikes()];
    let setup = InitArgs {
        init: None,
        d: 10.0,
        rate: RateChoice::Paper,
        boundary: BoundaryChoice::Reflecting,
        ne: args.ne,
        np: 8,
        nv: args.nv,
        fit: vec![ParamChoice::Force],
        per_condition: Vec::new(),
    }
    .build(&train)?;
    crate::output::prepare(&args.out)?;
    let options = FitOptions {
        iterations: args.iterations,
        step: args.step.clone(),
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
        quiet: args.quiet,
    };
    let fit = run_fit(&setup, train, Some(validation), &options, &args.out)?;
    let models = &fit.path().models;
    let val = |m: &SavedModel| m.record.validation_neg_loglik.unwrap_or(f64::INFINITY);
    let best = (0..models.len())
        .min_by(|&a, &b| val(&models[a]).total_cmp(&val(&models[b])))
        .context("the fit saved no model")?;
    let flat = |i: usize| val(&models[i]) <= val(&models[best]) + args.flat_within;
    let first = (0..=best)
        .rev()
        .take_while(|&i| flat(i))
        .last()
        .unwrap_or(best);
    let last = (best..models.len())
        .take_while(|&i| flat(i))
        .last()
        .unwrap_or(best);
    // The middle of the stretch on the log-iteration axis the figure uses.
    let mid_it = ((models[first].record.iteration.max(1) as f64)
        * (models[last].record.iteration.max(1) as f64))
        .sqrt();
    let mid = (first..=last)
        .min_by(|&a, &b| {
            let d = |i: usize| {
                ((models[i].record.iteration.max(1) as f64) / mid_it)
                    .ln()
                    .abs()
            };
            d(a).total_cmp(&d(b))
        })
        .unwrap_or(best);
    let grid = &setup.grid;
    let true_peq = truth.peq(grid.x(), grid.w())?;
    let shown = [first, mid, last];
    let mut described = Vec::new();
    for &i in &shown {
        let m = &models[i];
        described.push(json!({
            "iteration": m.record.iteration,
            "train_neg_loglik": m.record.train_neg_loglik,
            "validation_neg_loglik": m.record.validation_neg_loglik,
            "feature_complexity": m.record.feature_complexity,
            "kl_to_truth": symmetric_kl(grid.w(), &m.peq, &true_peq)?,
            "wells": find_wells(grid.x(), &m.peq, WELL_PROMINENCE)?,
            "peq": m.peq,
        }));
    }
    figure(models, best, &shown, grid.x(), &true_peq, &args)?;
    let report = json!({
        "format": "latentflow-plateau",
        "version": 1,
        "spikes": { "training": spikes[0], "validation": spikes[1] },
        "seed": args.seed,
        "iterations": args.iterations,
        "learning_rates": args.step.learning_rates(),
        "grid": { "ne": args.ne, "np": 8, "nv": args.nv },
        "flat_within": args.flat_within,
        "well_prominence": WELL_PROMINENCE,
        "x": grid.x(),
        "w": grid.w(),
        "ground_truth_peq": true_peq,
        "validation_minimum": {
            "iteration": models[best].record.iteration,
            "validation_neg_loglik": val(&models[best]),
        },
        "flat_stretch": {
            "first_iteration": models[first].record.iteration,
            "last_iteration": models[last].record.iteration,
            "feature_complexity": [
                models[first].record.feature_complexity,
                models[last].record.feature_complexity,
            ],
            "train_neg_loglik_drop":
                models[first].record.train_neg_loglik - models[last].record.train_neg_loglik,
        },
        "models": described,
        "seconds": start.elapsed().as_secs_f64(),
    });
    let file = args.out.join("plateau.json");
    latentflow::data::write_atomic(&file, serde_json::to_string_pretty(&report)?.as_bytes())
        .with_context(|| format!("writing {}", file.display()))?;
    if !args.quiet {
        println!(
            "validation -log L within {} nats of its minimum (iteration {}) from iteration {} to {}, \
             feature complexity {:.2} to {:.2}, while training -log L fell by {:.1}; figure in {}",
            args.flat_within,
            models[best].record.iteration,
            models[first].record.iteration,
            models[last].record.iteration,
            models[first].record.feature_complexity,
            models[last].record.feature_complexity,
            models[first].record.train_neg_loglik - models[last].record.train_neg_loglik,
            args.out.join("plateau.png").display()
        );
    }
    Ok(())
}

/// `plateau.png/.svg`: both -log L curves (relative to their values at the validation minimum)
/// with the flat stretch marked, and the three models over the ground truth.
fn figure(
    models: &[SavedModel],
    best: usize,
    shown: &[usize; 3],
    x: &[f64],
    truth: &[f64],
    args: &PlateauArgs,
) -> anyhow::Result<()> {
    let it: Vec<f64> = models
        .iter()
        .map(|m| (m.record.iteration as f64).max(1.0))
        .collect();
    let at_best = &models[best].record;
    let v0 = at_best.validation_neg_loglik.unwrap_or(f64::NAN);
    let train: Vec<f64> = models
        .iter()
        .map(|m| m.record.train_neg_loglik - at_best.train_neg_loglik)
        .collect();
    let v: Vec<f64> = models
        .iter()
        .map(|m| m.record.validation_neg_loglik.unwrap_or(f64::NAN) - v0)
        .collect();
    let mut curves = LinePlot::new(
        "Training and validation along the fit",
        "iteration",
        "-log L - (-log L at the validation minimum)",
    );
    curves.log_x = true;
    curves.legend = Legend::UpperRight;
    curves
        .series
        .push(Series::new("training", it.clone(), train.clone()).style(Style::colour(0)));
    curves
        .series
        .push(Series::new("validation", it.clone(), v.clone()).style(Style::colour(1)));
    for (label, i) in [("flat stretch", shown[0]), ("", shown[2])] {
        curves.vlines.push(VLine {
            x: it[i],
            label: label.into(),
            style: Style::colour(GREY).dashed(),
        });
    }
    // Zoom on the flat stretch: the first iterations' -log L is far above it.
    let lo = shown[0];
    let window: Vec<f64> = v[lo..]
        .iter()
        .chain(&train[lo..])
        .copied()
        .filter(|y| y.is_finite())
        .collect();
    let (ymin, ymax) = window
        .iter()
        .fold((0.0f64, args.flat_within), |(a, b), &y| {
            (a.min(y), b.max(y))
        });
    let pad = 0.1 * (ymax - ymin);
    curves.y_range = Some((ymin - pad, ymax + 4.0 * pad));
    let colours = [2, 4, 3];
    let mut pot = LinePlot::new("Three models from the flat stretch", "x", "Phi = -ln peq");
    pot.legend = Legend::UpperLeft;
    pot.y_range = potential_range(&[], Some(truth));
    pot.series.push(truth_series(x, truth));
    for (&i, &c) in shown.iter().zip(&colours) {
        let m = &models[i];
        curves.points.push(Points::marker(it[i], v[i], c, 6));
        pot.series.push(
            Series::new(
                format!(
                    "iteration {} (M = {:.2})",
                    m.record.iteration, m.record.feature_complexity
                ),
                x.to_vec(),
                potential(&m.peq),
            )
            .style(Style::colour(c)),
        );
    }
    save_panels(&[curves, pot], 2, &args.out.join("plateau"))?;
    Ok(())
}
