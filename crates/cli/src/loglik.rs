//! `latentflow loglik`: evaluate a saved model on data.

use std::path::PathBuf;

use anyhow::Context;
use latentflow::ModelFile;
use latentflow::data::SpikeData;
use latentflow::likelihood::{GradRequest, Likelihood};
use latentflow::spectral::{BandedSolver, DenseSolver, EigenSolver};
use serde_json::json;

/// Arguments of `latentflow loglik`.
#[derive(clap::Args, Debug)]
pub struct LoglikArgs {
    /// Model file (JSON, see docs/formats.md).
    #[arg(long)]
    model: PathBuf,
    /// Spike data (.json or .npz).
    #[arg(long)]
    data: PathBuf,
    /// Also compute the gradients of -log L (every one that applies to the model).
    #[arg(long)]
    grad: bool,
    /// Eigenmodes kept (default: 64, or all for absorbing boundaries).
    #[arg(long)]
    nv: Option<usize>,
    /// Use the dense reference eigen solver instead of the banded one.
    #[arg(long)]
    dense: bool,
    /// Write the JSON here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `nv` if given, else 64 modes (at most N - 2) with reflecting bounds and all N - 2 with
/// absorbing ones.
pub fn default_nv(model: &latentflow::likelihood::Model, nv: Option<usize>) -> usize {
    let max = model.grid().n() - 2;
    nv.unwrap_or(match model.boundary() {
        latentflow::spectral::BoundaryMode::Reflecting => 64.min(max),
        latentflow::spectral::BoundaryMode::Absorbing => max,
    })
}

/// Runs `latentflow loglik`.
pub fn run(args: LoglikArgs) -> anyhow::Result<()> {
    let model = ModelFile::read(&args.model)?;
    // The library's errors name the file; a context here would name it twice.
    let data = SpikeData::read(&args.data)?;
    let nv = default_nv(&model, args.nv);
    let solver: Box<dyn EigenSolver> = if args.dense {
        Box::new(DenseSolver)
    } else {
        Box::new(BandedSolver::default())
    };
    let lik = Likelihood::new(&model, nv, solver.as_ref())
        .with_context(|| format!("setting up the model {}", args.model.display()))?;
    let context = || {
        format!(
            "evaluating {} on {}",
            args.model.display(),
            args.data.display()
        )
    };
    let mut out = json!({
        "model": args.model.display().to_string(),
        "data": args.data.display().to_string(),
        "nv": nv,
        "trials": data.num_trials(),
        "spikes": data.num_spikes(),
    });
    if args.grad {
        let request = GradRequest {
            force: true,
            d: true,
            force0: model.p0().is_some(),
            fr: model.rates().iter().all(|r| r.iter().all(|v| *v > 0.0)),
            c: model.rates().iter().all(|r| r[0] > 0.0),
        };
        let (nll, grad) = lik
            .neg_loglik_and_grad(&data, request)
            .with_context(context)?;
        out["neg_loglik"] = json!(nll);
        out["grad"] = serde_json::to_value(&grad)?;
    } else {
        out["neg_loglik"] = json!(lik.neg_loglik(&data).with_context(context)?);
    }
    let text = serde_json::to_string_pretty(&out)?;
    match &args.out {
        // Atomically (temporary file, then rename): a failed write leaves no truncated file.
        Some(path) => latentflow::data::write_atomic(path, text.as_bytes())?,
        None => println!("{text}"),
    }
    Ok(())
}
