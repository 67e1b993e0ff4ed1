//! `latentflow experiment decision`: recovery on a simulated decision task (docs/method.md
//! §12) — three conditions share one potential, each starts from its own p0, trials end at an
//! absorbing bound (or are censored), five neurons. `select` fits the shared F and a p0 per
//! condition; the result states how close both selections come to the truth.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use latentflow::GridSpec;
use latentflow::likelihood::{GradRequest, Model, ModelParts, ParameterSharing, Sharing};
use latentflow::optim::SavedModel;
use latentflow::select::symmetric_kl;
use latentflow::spectral::{BoundaryMode, Grid};
use latentflow::synth::{
    Amount, InitialState, Potential, SimulationConfig, Simulator, TrialLength, TuningCurve,
};
use serde_json::{Value, json};

use crate::init::InitSetup;
use crate::select::{PipelineArgs, RunTarget, run_pipeline};

/// Centres of the conditions' initial densities.
const STARTS: [f64; 3] = [-0.3, 0.0, 0.3];
/// Standard deviation of each initial density.
const START_WIDTH: f64 = 0.1;
/// D of the truth and of the fit (1/s).
const D: f64 = 1.0;
/// Height of the potential's central barrier and its width.
const BARRIER: (f64, f64) = (2.0, 0.3);
/// Neurons: sigmoid tuning centre and slope (sign = preferred side).
const NEURONS: [(f64, f64); 5] = [
    (-0.6, -6.0),
    (-0.3, 6.0),
    (0.0, -6.0),
    (0.3, 6.0),
    (0.6, -6.0),
];

/// Arguments of `latentflow experiment decision`.
#[derive(clap::Args, Debug, Clone)]
pub struct DecisionArgs {
    /// Output directory: data.json, the select report and figures, result.json.
    #[arg(long)]
    out: PathBuf,
    /// Trials per condition.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    trials: u64,
    /// Longest trial (s): a trial not absorbed by then is censored.
    #[arg(long, default_value_t = 5.0)]
    max_seconds: f64,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Elements of the grid on [-1, 1].
    #[arg(long, default_value_t = 64)]
    ne: usize,
    /// GLL nodes per element.
    #[arg(long, default_value_t = 8)]
    np: usize,
    /// Eigenmodes kept.
    #[arg(long, default_value_t = 64)]
    nv: usize,
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

/// The shared potential: a barrier between the two decision bounds.
fn potential() -> Potential {
    let (height, width) = BARRIER;
    Potential::from_fn(move |x| height * (-x * x / (2.0 * width * width)).exp())
}

fn rate(n: usize, x: f64) -> f64 {
    let (centre, slope) = NEURONS[n];
    5.0 + 40.0 / (1.0 + (-slope * (x - centre)).exp())
}

fn start_density(centre: f64) -> Potential {
    Potential::from_fn(move |x| (x - centre) * (x - centre) / (2.0 * START_WIDTH * START_WIDTH))
}

/// The initial model: a flat potential (F = 0), a broad p0 ~ cos^2(pi x / 2), the true D and
/// tuning.
fn initial_model(grid: &Arc<Grid>) -> anyhow::Result<Model> {
    Ok(Model::new(
        grid.clone(),
        ModelParts {
            boundary: BoundaryMode::Absorbing,
            peq: Potential::uniform().peq(grid.x(), grid.w())?,
            p0: Some(Potential::cos_squared().peq(grid.x(), grid.w())?),
            d: D,
            rates: (0..NEURONS.len())
                .map(|n| grid.x().iter().map(|&x| rate(n, x)).collect())
                .collect(),
        },
    )?)
}

/// Mean and standard deviation of a density on the grid.
fn moments(grid: &Grid, p: &[f64]) -> (f64, f64) {
    let (x, w) = (grid.x(), grid.w());
    let mean: f64 = (0..x.len()).map(|i| w[i] * p[i] * x[i]).sum();
    let var: f64 = (0..x.len())
        .map(|i| w[i] * p[i] * (x[i] - mean).powi(2))
        .sum();
    (mean, var.sqrt())
}

/// How one selected model compares with the truth: KL of peq and of each condition's p0, and
/// each p0's mean and sd.
fn judge(
    grid: &Arc<Grid>,
    saved: &SavedModel,
    true_peq: &[f64],
    true_p0: &[Vec<f64>],
) -> anyhow::Result<Value> {
    let models = saved.params.to_models(grid, BoundaryMode::Absorbing)?;
    let w = grid.w();
    let peq_kl = symmetric_kl(w, models.models()[0].peq(), true_peq)?;
    let mut conditions = Vec::new();
    for (m, truth) in models.models().iter().zip(true_p0) {
        let p0 = m.p0().context("a selected model without p0")?;
        let (mean, sd) = moments(grid, p0);
        conditions.push(json!({
            "p0_kl_to_truth": symmetric_kl(w, p0, truth)?,
            "p0_mean": mean,
            "p0_sd": sd,
        }));
    }
    Ok(json!({
        "iteration": saved.record.iteration,
        "feature_complexity": saved.record.feature_complexity,
        "peq_kl_to_truth": peq_kl,
        "conditions": conditions,
    }))
}

/// Runs the experiment.
pub fn run(args: DecisionArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    if !(args.max_seconds.is_finite() && args.max_seconds > 0.0) {
        anyhow::bail!("--max-seconds {}: must be finite and > 0", args.max_seconds);
    }
    crate::output::prepare(&args.out)?;
    let sims = STARTS
        .iter()
        .map(|&c| {
            Simulator::new(SimulationConfig {
                potential: potential(),
                initial: InitialState::Density {
                    potential: start_density(c),
                },
                d: D,
                boundary: BoundaryMode::Absorbing,
                xbegin: -1.0,
                xend: 1.0,
                neurons: (0..NEURONS.len())
                    .map(|n| TuningCurve::from_fn(move |x| rate(n, x)))
                    .collect(),
                dt: 1e-4,
                latent_stride: None,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let data = Simulator::run_conditions(
        &sims,
        Amount::Trials(args.trials),
        TrialLength::Fixed(args.max_seconds),
        args.seed,
    )?
    .data;
    data.write(args.out.join("data.json"))?;
    let censored = data.trials().iter().filter(|t| t.censored()).count();
    let spec = GridSpec {
        xbegin: -1.0,
        xend: 1.0,
        ne: args.ne,
        np: args.np,
    };
    let grid = spec.build()?;
    if args.nv == 0 || args.nv > grid.n() - 2 {
        anyhow::bail!("--nv {}: choose 1 to {}", args.nv, grid.n() - 2);
    }
    let true_peq = potential().peq(grid.x(), grid.w())?;
    let true_p0: Vec<Vec<f64>> = STARTS
        .iter()
        .map(|&c| start_density(c).peq(grid.x(), grid.w()))
        .collect::<Result<_, _>>()?;
    let init = InitSetup {
        grid: grid.clone(),
        spec,
        model: initial_model(&grid)?,
        nv: args.nv,
        fit: GradRequest {
            force: true,
            force0: true,
            ..GradRequest::default()
        },
        sharing: ParameterSharing {
            force0: Sharing::PerCondition,
            ..ParameterSharing::default()
        },
    };
    let target = RunTarget {
        out: &args.out,
        resume: false,
        quiet: args.quiet,
        truth: Some(&true_peq),
        truth_p0: Some(&true_p0),
        extra: json!({ "data": { "experiment": "decision", "seed": args.seed } }),
    };
    let (result, _) = run_pipeline(&data, &init, &args.pipeline, target)?;
    let fc = &result.feature_consistency.selected;
    let bg = &result.best_generalization;
    let pick = |half: usize, index: usize| &result.paths[half].models[index];
    let outcome = json!({
        "format": "latentflow-decision-experiment",
        "version": 1,
        "truth": {
            "potential": format!("{} exp(-x^2 / (2 {}^2))", BARRIER.0, BARRIER.1),
            "d": D,
            "p0_means": STARTS,
            "p0_sd": START_WIDTH,
            "neurons": NEURONS.iter().map(|(c, s)| json!({"centre": c, "slope": s})).collect::<Vec<_>>(),
        },
        "trials_per_condition": args.trials,
        "trials": data.num_trials(),
        "censored_trials": censored,
        "spikes": data.num_spikes(),
        "iterations": result.iterations,
        "stopped_early": result.stopped_early,
        "orientation": result.orientation,
        "feature_consistency": {
            "m_star": result.feature_consistency.m_star,
            "half1": judge(&grid, pick(0, fc.index1), &true_peq, &true_p0)?,
            "half2": judge(&grid, pick(1, fc.index2), &true_peq, &true_p0)?,
        },
        "best_generalization": {
            "half1": judge(&grid, pick(0, bg[0].index), &true_peq, &true_p0)?,
            "half2": judge(&grid, pick(1, bg[1].index), &true_peq, &true_p0)?,
        },
        "seconds": start.elapsed().as_secs_f64(),
    });
    latentflow::data::write_atomic(
        &args.out.join("result.json"),
        serde_json::to_string_pretty(&outcome)?.as_bytes(),
    )?;
    println!(
        "decision task: {} trials ({} censored), {} spikes; result in {}",
        data.num_trials(),
        censored,
        data.num_spikes(),
        args.out.join("result.json").display()
    );
    Ok(())
}
