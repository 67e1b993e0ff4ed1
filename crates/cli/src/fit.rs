//! `latentflow fit`: fit a model to training data, validated on held-out data.

use std::path::{Path, PathBuf};

use anyhow::Context;
use latentflow::data::SpikeData;
use latentflow::optim::{CheckpointConfig, Fit, FitConfig, SpikeProblem};

use crate::progress::ProgressObserver;
use latentflow::spectral::BandedSolver;
use serde_json::json;

use crate::init::{InitArgs, InitSetup};
use crate::rates::StepArgs;
use crate::report;

/// Arguments of `latentflow fit`.
#[derive(clap::Args, Debug)]
pub struct FitArgs {
    /// Training spike data (.json or .npz).
    #[arg(long)]
    data: PathBuf,
    /// Held-out spike data for the validation -log L (.json or .npz).
    #[arg(long)]
    validation: Option<PathBuf>,
    /// Output directory (fit_path.json, summary.json, final_model.json, plots).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    init: InitArgs,
    /// Gradient-descent iterations.
    #[arg(long, default_value_t = 2000, value_parser = crate::select::count)]
    iterations: u64,
    #[command(flatten)]
    step: StepArgs,
    /// Checkpoint every this many iterations (into OUT/fit.ckpt); a rerun with --resume continues.
    #[arg(long, default_value_t = 500, value_parser = crate::select::count)]
    checkpoint_every: u64,
    /// Continue from OUT/fit.ckpt.
    #[arg(long)]
    resume: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// How a single fit runs (shared by `fit` and `experiment plateau`).
pub struct FitOptions {
    /// Gradient-descent iterations.
    pub iterations: u64,
    /// Learning rates and update rule.
    pub step: StepArgs,
    /// Checkpoint period (iterations), into `OUT/fit.ckpt`.
    pub checkpoint_every: u64,
    /// Continue from `OUT/fit.ckpt`.
    pub resume: bool,
    /// No progress bar.
    pub quiet: bool,
}

/// Fits `setup`'s model to `train` (validated on `validation`), checkpointing into
/// `out/fit.ckpt`; whatever happens, the path so far is written to `out/fit_path.json`.
pub fn run_fit(
    setup: &InitSetup,
    train: SpikeData,
    validation: Option<SpikeData>,
    options: &FitOptions,
    out: &Path,
) -> anyhow::Result<Fit<SpikeProblem>> {
    let checkpoint = out.join("fit.ckpt");
    let config = FitConfig {
        checkpoint: Some(CheckpointConfig {
            path: checkpoint.clone(),
            every: options.checkpoint_every,
        }),
        ..options.step.fit_config(options.iterations, setup.fit)?
    };
    let problem_conditions = train.num_conditions();
    let problem = SpikeProblem::new(
        setup.grid.clone(),
        setup.model.boundary(),
        train,
        validation,
        setup.nv,
        Box::new(BandedSolver::default()),
    );
    let mut fit = if options.resume {
        let fit = Fit::resume(problem, config, &checkpoint)?;
        if let Some(note) = fit.resume_note() {
            eprintln!("note: {note}");
        }
        fit
    } else {
        let params = setup.params(problem_conditions)?;
        Fit::new(
            problem,
            params,
            config,
            setup.spec,
            setup.model.boundary(),
            setup.nv,
        )?
    };
    let mut bar = (!options.quiet).then(|| ProgressObserver::new("fit", options.iterations));
    let mut observers: Vec<&mut dyn latentflow::optim::Observer> = Vec::new();
    if let Some(b) = bar.as_mut() {
        observers.push(b);
    }
    let outcome = fit.run(&mut observers);
    crate::report::step_warning(fit.path(), "fit");
    let path_file = out.join("fit_path.json");
    fit.path().write_json(&path_file)?;
    outcome.with_context(|| {
        format!(
            "fit stopped; the path so far is in {} and the last good checkpoint in {}",
            path_file.display(),
            checkpoint.display()
        )
    })?;
    Ok(fit)
}

/// Runs `latentflow fit`.
pub fn run(args: FitArgs) -> anyhow::Result<()> {
    let read = |p: &PathBuf| SpikeData::read(p);
    let train = read(&args.data)?;
    let validation = args.validation.as_ref().map(read).transpose()?;
    if let (Some(v), Some(path)) = (&validation, &args.validation)
        && v.num_neurons() != train.num_neurons()
    {
        anyhow::bail!(
            "{}: the validation data have {} neurons, the training data ({}) {}",
            path.display(),
            v.num_neurons(),
            args.data.display(),
            train.num_neurons()
        );
    }
    let setup = args.init.build(&train)?;
    crate::output::prepare(&args.out)?;
    let start = std::time::Instant::now();
    let options = FitOptions {
        iterations: args.iterations,
        step: args.step,
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
        quiet: args.quiet,
    };
    let fit = run_fit(&setup, train, validation, &options, &args.out)?;
    let path = fit.path();
    let last = path.records.last().context("the fit ran no iteration")?;
    // The parameters after the last update (the path keeps models on its save schedule).
    crate::select::write_models(
        &fit.state().params,
        &setup.grid,
        setup.model.boundary(),
        &args.out,
        "final_model",
    )?;
    let summary = json!({
        "iterations": path.records.len(),
        "seconds": start.elapsed().as_secs_f64(),
        "last_iteration": last,
        "best_validation": path.records.iter()
            .filter_map(|r| r.validation_neg_loglik.map(|v| (r.iteration, v)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, v)| json!({"iteration": i, "validation_neg_loglik": v})),
        "version": env!("CARGO_PKG_VERSION"),
    });
    latentflow::data::write_atomic(
        &args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    report::fit_plots(&setup.grid, path, None, &args.out)?;
    println!(
        "fitted {} iterations in {:.1} s; results in {}",
        path.records.len(),
        start.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}
