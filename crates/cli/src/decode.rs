//! `latentflow decode`: what the latent did on each trial under a saved model — the posterior
//! (mean, sd, 90% band), the Viterbi path, PSTHs of data and model — as JSON, .npz and figures.

use std::path::PathBuf;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use latentflow::ModelFile;
use latentflow::data::{SpikeData, write_atomic};
use latentflow::likelihood::{BAND, Density, Likelihood, Posterior, ViterbiPath};
use latentflow::spectral::BandedSolver;
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::loglik::default_nv;
use crate::plots::{LinePlot, save_panels};

/// Arguments of `latentflow decode`.
#[derive(clap::Args, Debug)]
pub struct DecodeArgs {
    /// Model file (JSON, see docs/formats.md), e.g. one `select` wrote.
    #[arg(long)]
    model: PathBuf,
    /// Spike data (.json or .npz).
    #[arg(long)]
    data: PathBuf,
    /// Output directory: decode.json, decode.npz, decode.png/.svg, psth.png/.svg.
    #[arg(long)]
    out: PathBuf,
    /// Time step (s) of the posterior's time grid (from each trial's start to its end).
    #[arg(long, default_value_t = 0.01, value_parser = positive_seconds)]
    dt: f64,
    /// Give the posterior at the trial start, every spike and the trial end instead of a grid.
    #[arg(long)]
    at_spikes: bool,
    /// Trials to decode (0-based, comma separated; default: all).
    #[arg(long, value_delimiter = ',')]
    trials: Option<Vec<usize>>,
    /// Decode only the trials of this task condition (with `--trials`: those of the listed
    /// trials), e.g. with the model `select` wrote for that condition.
    #[arg(long)]
    condition: Option<u32>,
    /// How many of the decoded trials the figure shows.
    #[arg(long, default_value_t = 4)]
    figure_trials: usize,
    /// The true latent paths (the JSON `latentflow simulate --latent` writes), drawn in the
    /// figure and compared with the posterior mean (correlation, RMSE, band coverage).
    #[arg(long)]
    latent: Option<PathBuf>,
    /// Skip the Viterbi path (it costs O(N^2 Nv) per spike on an N-node grid).
    #[arg(long)]
    no_viterbi: bool,
    /// Also write the posterior densities on the grid nodes (trials x times x nodes) to the .npz.
    #[arg(long)]
    density: bool,
    /// PSTH window (s) and its step (s).
    #[arg(long, default_value_t = 0.1, value_parser = positive_seconds)]
    psth_window: f64,
    #[arg(long, default_value_t = 0.02, value_parser = positive_seconds)]
    psth_step: f64,
    /// Eigenmodes kept (default: 64, or all for absorbing boundaries).
    #[arg(long)]
    nv: Option<usize>,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("{v} must be a positive number of seconds"))
    }
}

mod figures;
mod files;
mod truth;

/// One decoded trial.
struct Decoded {
    trial: usize,
    posterior: Posterior,
    viterbi: Option<ViterbiPath>,
}

/// Runs `latentflow decode`.
pub fn run(args: DecodeArgs) -> anyhow::Result<()> {
    let model = ModelFile::read(&args.model)?;
    let data = SpikeData::read(&args.data)?;
    if data.num_neurons() > model.num_neurons() {
        bail!(
            "{}: the data have {} neurons, the model {} ({})",
            args.data.display(),
            data.num_neurons(),
            model.num_neurons(),
            args.model.display()
        );
    }
    let chosen: Vec<usize> = match &args.trials {
        Some(list) => {
            if let Some(&bad) = list.iter().find(|&&k| k >= data.num_trials()) {
                bail!(
                    "--trials: trial {bad} does not exist ({} has {} trials, numbered from 0)",
                    args.data.display(),
                    data.num_trials()
                );
            }
            list.clone()
        }
        None => (0..data.num_trials()).collect(),
    };
    let chosen: Vec<usize> = match args.condition {
        None => chosen,
        Some(c) => {
            let mine: Vec<usize> = chosen
                .into_iter()
                .filter(|&k| data.trials()[k].condition() == c)
                .collect();
            if mine.is_empty() {
                bail!(
                    "--condition {c}: no trial to decode has it ({} has {} conditions, numbered from 0)",
                    args.data.display(),
                    data.num_conditions()
                );
            }
            mine
        }
    };
    let truth = args
        .latent
        .as_deref()
        .map(|p| truth::read_latent(p, data.num_trials()))
        .transpose()?;
    let times_of = |k: usize| -> anyhow::Result<Vec<f64>> {
        let trial = &data.trials()[k];
        let duration = trial.duration();
        if args.at_spikes {
            let mut t = vec![0.0];
            let mut acc = 0.0;
            for dt in trial.isi() {
                acc += dt;
                t.push(acc.min(duration));
            }
            return Ok(t);
        }
        let steps = (duration / args.dt).floor();
        if steps > 1e7 {
            bail!(
                "--dt {} s gives {steps} times on trial {k} ({duration} s); choose a larger step",
                args.dt
            );
        }
        let mut t: Vec<f64> = (0..=steps as usize).map(|i| i as f64 * args.dt).collect();
        if duration - t[t.len() - 1] > 1e-9 * duration {
            t.push(duration);
        }
        Ok(t)
    };
    let grid_times: Vec<Vec<f64>> = chosen
        .iter()
        .map(|&k| times_of(k))
        .collect::<Result<_, _>>()?;
    crate::output::prepare(&args.out)?;

    let nv = default_nv(&model, args.nv);
    let lik = Likelihood::new(&model, nv, &BandedSolver::default())
        .with_context(|| format!("setting up the model {}", args.model.display()))?;
    let bar = ProgressBar::new(chosen.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("decoding [{bar:30}] {pos}/{len} trials (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let keep = if args.density {
        Density::Keep
    } else {
        Density::Drop
    };
    let decoded: Vec<Decoded> = chosen
        .par_iter()
        .zip(&grid_times)
        .map(|(&k, times)| -> anyhow::Result<Decoded> {
            let trial = &data.trials()[k];
            let posterior = lik.posterior(k, trial, times, keep)?;
            let viterbi = (!args.no_viterbi)
                .then(|| lik.viterbi(k, trial))
                .transpose()?;
            bar.inc(1);
            Ok(Decoded {
                trial: k,
                posterior,
                viterbi,
            })
        })
        .collect::<Result<_, _>>()
        .with_context(|| format!("decoding {}", args.data.display()))?;
    bar.finish_and_clear();

    let psth = data.psth(args.psth_window, args.psth_step)?;
    let predicted = lik.predicted_rates(&psth.times)?;
    let accuracy: Vec<Option<Value>> = decoded
        .iter()
        .map(|d| {
            truth
                .as_ref()
                .map(|t| truth::accuracy_of(&d.posterior, &t[d.trial]))
        })
        .collect();

    // JSON: summaries per trial, PSTHs, accuracy against the truth when given.
    let trials_json: Vec<Value> = decoded
        .iter()
        .zip(&accuracy)
        .map(|(d, acc)| {
            let p = &d.posterior;
            let mut v = json!({
                "trial": d.trial,
                "times": p.times, "mean": p.mean, "sd": p.sd, "lower": p.lower, "upper": p.upper,
            });
            if let Some(path) = &d.viterbi {
                v["viterbi"] = json!({"times": path.times, "x": path.x, "states": path.states});
            }
            if let Some(acc) = acc {
                v["accuracy"] = acc.clone();
            }
            v
        })
        .collect();
    let doc = json!({
        "format": "latentflow-decode",
        "version": 1,
        "model": args.model.display().to_string(),
        "data": args.data.display().to_string(),
        "nv": nv,
        "band": [BAND.0, BAND.1],
        "trials": trials_json,
        "psth": {
            "window": args.psth_window, "step": args.psth_step, "times": psth.times,
            "rate": files::nan_to_null(&psth.rate), "sem": files::nan_to_null(&psth.sem),
            "trials": psth.trials, "model": predicted,
        },
    });
    let json_path = args.out.join("decode.json");
    write_atomic(&json_path, serde_json::to_string(&doc)?.as_bytes())?;
    files::write_npz(
        &args.out.join("decode.npz"),
        &decoded,
        &psth,
        &predicted,
        &model,
    )?;

    let shown: Vec<&Decoded> = decoded.iter().take(args.figure_trials).collect();
    if !shown.is_empty() {
        let panels: Vec<LinePlot> = shown
            .iter()
            .map(|d| figures::trial_panel(d, &data, &model, truth.as_ref().map(|t| &t[d.trial])))
            .collect();
        save_panels(&panels, 2.min(panels.len()), &args.out.join("decode"))?;
    }
    let psth_panels = figures::psth_panels(&psth, &predicted);
    save_panels(
        &psth_panels,
        3.min(psth_panels.len()),
        &args.out.join("psth"),
    )?;

    let mut line = format!(
        "decoded {} trials of {} under {} -> {}",
        decoded.len(),
        args.data.display(),
        args.model.display(),
        args.out.display()
    );
    if truth.is_some() {
        let vals = |key: &str| -> Vec<f64> {
            accuracy
                .iter()
                .flatten()
                .filter_map(|a| a[key].as_f64())
                .collect()
        };
        let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
        line.push_str(&format!(
            "; posterior mean vs true latent: correlation {:.3}, RMSE {:.3}, 90% band coverage {:.3} (means over trials)",
            mean(vals("correlation")),
            mean(vals("rmse")),
            mean(vals("coverage"))
        ));
    }
    println!("{line}");
    Ok(())
}
