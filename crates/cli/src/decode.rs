//! `latentflow decode`: what the latent did on each trial under a saved model — the posterior
//! (mean, sd, 90% band), the Viterbi path, PSTHs of data and model — as JSON, .npz and figures.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use latentflow::ModelFile;
use latentflow::data::{NpzArray, NpzValues, SpikeData, write_atomic, write_npz_arrays};
use latentflow::likelihood::{BAND, Density, Likelihood, Posterior, ViterbiPath};
use latentflow::spectral::BandedSolver;
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::loglik::default_nv;
use crate::plots::{Band, LinePlot, Points, Series, Style, save_panels};

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

/// One decoded trial.
struct Decoded {
    trial: usize,
    posterior: Posterior,
    viterbi: Option<ViterbiPath>,
}

/// The true latent of one trial, sampled at times.
struct TrueLatent {
    t: Vec<f64>,
    x: Vec<f64>,
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
    let truth = args
        .latent
        .as_deref()
        .map(|p| read_latent(p, data.num_trials()))
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
                .map(|t| accuracy_of(&d.posterior, &t[d.trial]))
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
            "rate": nan_to_null(&psth.rate), "sem": nan_to_null(&psth.sem),
            "trials": psth.trials, "model": predicted,
        },
    });
    let json_path = args.out.join("decode.json");
    write_atomic(&json_path, serde_json::to_string(&doc)?.as_bytes())?;
    write_npz(
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
            .map(|d| trial_panel(d, &data, &model, truth.as_ref().map(|t| &t[d.trial])))
            .collect();
        save_panels(&panels, 2.min(panels.len()), &args.out.join("decode"))?;
    }
    let psth_panels: Vec<LinePlot> = (0..data.num_neurons().min(12))
        .map(|n| {
            let mut plot = LinePlot::new(format!("neuron {n}"), "t (s)", "rate (Hz)");
            let lower = psth.rate[n]
                .iter()
                .zip(&psth.sem[n])
                .map(|(r, s)| r - s.max(0.0))
                .collect();
            let upper = psth.rate[n]
                .iter()
                .zip(&psth.sem[n])
                .map(|(r, s)| r + s.max(0.0))
                .collect();
            plot.bands.push(Band {
                label: String::new(),
                x: psth.times.clone(),
                lower,
                upper,
                colour: 0,
            });
            plot.series.push(Series::new(
                "data (± s.e.m.)",
                psth.times.clone(),
                psth.rate[n].clone(),
            ));
            plot.series.push(
                Series::new("model", psth.times.clone(), predicted[n].clone())
                    .style(Style::colour(1).dashed()),
            );
            plot
        })
        .collect();
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

/// Reads `simulate --latent`'s JSON: one path per trial.
fn read_latent(path: &Path, trials: usize) -> anyhow::Result<Vec<TrueLatent>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let list = doc["trials"].as_array().with_context(|| {
        format!(
            "{}: no 'trials' list (expected `simulate --latent` output)",
            path.display()
        )
    })?;
    if list.len() != trials {
        bail!(
            "{}: {} latent paths for {} trials of data",
            path.display(),
            list.len(),
            trials
        );
    }
    list.iter()
        .enumerate()
        .map(|(k, v)| {
            let floats = |key: &str| -> anyhow::Result<Vec<f64>> {
                v[key]
                    .as_array()
                    .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
                    .with_context(|| {
                        format!(
                            "{}: trial {k}: '{key}' is not a list of numbers",
                            path.display()
                        )
                    })
            };
            let (t, x) = (floats("t")?, floats("x")?);
            if t.len() != x.len() || t.is_empty() || t.windows(2).any(|w| w[1] < w[0]) {
                bail!(
                    "{}: trial {k}: 't' and 'x' must have the same length and 't' must ascend",
                    path.display()
                );
            }
            Ok(TrueLatent { t, x })
        })
        .collect()
}

/// The true latent at `t` (linear between its samples).
fn latent_at(truth: &TrueLatent, t: f64) -> f64 {
    let j = truth.t.partition_point(|&s| s <= t);
    if j == 0 {
        return truth.x[0];
    }
    if j == truth.t.len() {
        return truth.x[j - 1];
    }
    let (t0, t1, x0, x1) = (truth.t[j - 1], truth.t[j], truth.x[j - 1], truth.x[j]);
    if t1 > t0 {
        x0 + (x1 - x0) * (t - t0) / (t1 - t0)
    } else {
        x1
    }
}

/// Correlation and RMSE of the posterior mean against the true latent, and the fraction of
/// times the true latent lies inside the 90% band.
fn accuracy_of(p: &Posterior, truth: &TrueLatent) -> Value {
    let x: Vec<f64> = p.times.iter().map(|&t| latent_at(truth, t)).collect();
    let n = x.len() as f64;
    let (mx, mm) = (x.iter().sum::<f64>() / n, p.mean.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy, mut se) = (0.0, 0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(&p.mean) {
        sxy += (a - mx) * (b - mm);
        sxx += (a - mx) * (a - mx);
        syy += (b - mm) * (b - mm);
        se += (a - b) * (a - b);
    }
    let inside = x
        .iter()
        .zip(p.lower.iter().zip(&p.upper))
        .filter(|(x, (lo, hi))| *x >= *lo && *x <= *hi)
        .count();
    json!({
        "correlation": sxy / (sxx * syy).sqrt(),
        "rmse": (se / n).sqrt(),
        "coverage": inside as f64 / n,
    })
}

fn nan_to_null(rows: &[Vec<f64>]) -> Value {
    json!(
        rows.iter()
            .map(|r| r
                .iter()
                .map(|v| v.is_finite().then_some(*v))
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()
    )
}

/// The .npz: per decoded trial `t_<k>`, `mean_<k>`, `sd_<k>`, `lower_<k>`, `upper_<k>`
/// (and `density_<k>`, times x nodes, with --density), `viterbi_t_<k>`, `viterbi_x_<k>`;
/// the grid `x`; `psth_t`, `psth_rate`, `psth_sem`, `psth_model` (neurons x windows).
fn write_npz(
    path: &Path,
    decoded: &[Decoded],
    psth: &latentflow::data::Psth,
    predicted: &[Vec<f64>],
    model: &latentflow::likelihood::Model,
) -> anyhow::Result<()> {
    let f64s = |name: String, v: &[f64]| NpzArray::vector(name, NpzValues::F64(v.to_vec()));
    let matrix = |name: &str, rows: &[Vec<f64>]| NpzArray {
        name: name.into(),
        shape: vec![
            rows.len() as u64,
            rows.first().map_or(0, |r| r.len()) as u64,
        ],
        values: NpzValues::F64(rows.concat()),
    };
    let mut arrays = vec![f64s("x".into(), model.grid().x())];
    for d in decoded {
        let (k, p) = (d.trial, &d.posterior);
        arrays.push(f64s(format!("t_{k}"), &p.times));
        arrays.push(f64s(format!("mean_{k}"), &p.mean));
        arrays.push(f64s(format!("sd_{k}"), &p.sd));
        arrays.push(f64s(format!("lower_{k}"), &p.lower));
        arrays.push(f64s(format!("upper_{k}"), &p.upper));
        if !p.density.is_empty() {
            arrays.push(matrix(&format!("density_{k}"), &p.density));
        }
        if let Some(v) = &d.viterbi {
            arrays.push(f64s(format!("viterbi_t_{k}"), &v.times));
            arrays.push(f64s(format!("viterbi_x_{k}"), &v.x));
        }
    }
    arrays.push(f64s("psth_t".into(), &psth.times));
    arrays.push(matrix("psth_rate", &psth.rate));
    arrays.push(matrix("psth_sem", &psth.sem));
    arrays.push(matrix("psth_model", predicted));
    write_npz_arrays(path, &arrays)?;
    Ok(())
}

/// One trial's panel: posterior band and mean, Viterbi path, true latent, spike raster below.
fn trial_panel(
    d: &Decoded,
    data: &SpikeData,
    model: &latentflow::likelihood::Model,
    truth: Option<&TrueLatent>,
) -> LinePlot {
    let grid = model.grid();
    let p = &d.posterior;
    let mut plot = LinePlot::new(format!("trial {}", d.trial), "t (s)", "x");
    plot.bands.push(Band {
        label: "posterior 90%".into(),
        x: p.times.clone(),
        lower: p.lower.clone(),
        upper: p.upper.clone(),
        colour: 0,
    });
    plot.series.push(Series::new(
        "posterior mean",
        p.times.clone(),
        p.mean.clone(),
    ));
    if let Some(v) = &d.viterbi {
        plot.series.push(
            Series::new("Viterbi", v.times.clone(), v.x.clone()).style(Style::colour(1).width(1)),
        );
    }
    if let Some(t) = truth {
        plot.series.push(
            Series::new("true latent", t.t.clone(), t.x.clone())
                .style(Style::colour(2).dashed().width(1)),
        );
    }
    let trial = &data.trials()[d.trial];
    let k = data.num_neurons();
    let row = (grid.xend() - grid.xbegin()) * 0.04;
    let mut spikes = vec![(Vec::new(), Vec::new()); k];
    let mut t = 0.0;
    for (dt, n) in trial.isi().iter().zip(trial.neuron()) {
        t += dt;
        if let Some(n) = n {
            let n = *n as usize;
            spikes[n].0.push(t);
            spikes[n].1.push(grid.xbegin() - row * (n as f64 + 1.0));
        }
    }
    for (n, (x, y)) in spikes.into_iter().enumerate() {
        plot.points.push(Points {
            label: if n == 0 {
                "spikes (a row per neuron)".into()
            } else {
                String::new()
            },
            x,
            y,
            colour: 3,
            radius: 1,
        });
    }
    plot.y_range = Some((grid.xbegin() - row * (k as f64 + 1.5), grid.xend() + row));
    plot
}
