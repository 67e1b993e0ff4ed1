//! The true latent of simulated data (`latentflow simulate --latent`) and how well the
//! posterior follows it.

use std::path::Path;

use anyhow::{Context, bail};
use latentflow::likelihood::Posterior;
use serde_json::{Value, json};

/// The true latent of one trial, sampled at times.
pub(super) struct TrueLatent {
    pub(super) t: Vec<f64>,
    pub(super) x: Vec<f64>,
}

/// Reads `simulate --latent`'s JSON: one path per trial.
pub(super) fn read_latent(path: &Path, trials: usize) -> anyhow::Result<Vec<TrueLatent>> {
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
pub(super) fn accuracy_of(p: &Posterior, truth: &TrueLatent) -> Value {
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
