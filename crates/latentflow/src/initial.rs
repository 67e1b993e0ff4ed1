//! Initial models: the paper's ([`paper_initial_model`]), the default start of a fit on any
//! recording ([`DefaultInitial`], what `latentflow select` and the Python package start from),
//! and a starting guess for the tuning curves of a recording whose tuning is unknown
//! ([`initial_tuning`]).
//!
//! Flat rates are a poor start when the rates are fitted: with f_n constant in x the spikes say
//! nothing about x, the posterior of the latent is its prior at every time, and every gradient
//! of -log L (F, Fr and, at the mean rates, C) vanishes — gradient descent would stay there.
//! [`initial_tuning`] starts instead from each neuron's mean rate tilted along a crude latent
//! proxy: the first principal component of the population's binned spike counts.

use std::sync::Arc;

use latentflow_data::SpikeData;
use latentflow_likelihood::{Model, ModelParts};
use latentflow_spectral::{BoundaryMode, Grid, GridSpec};
use latentflow_synth::{Potential, TuningCurve};

use crate::Error;

/// Firing rates of the default initial model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialRates {
    /// [`InitialRates::Paper`] for data of one neuron, [`InitialRates::Mean`] for more.
    #[default]
    Auto,
    /// One neuron, f(x) = max(100 (x + 1), 1) Hz (the paper's ground truth).
    Paper,
    /// Each neuron at its mean rate in the data: constant in x when the rates are held fixed;
    /// tilted by [`initial_tuning`] when they are fitted (flat rates are a stationary point).
    Mean,
}

/// The default initial model of a fit: peq ~ cos^2(pi x / 2) on the grid `spec`, diffusion `d`
/// (1/s), firing rates by `rates`, no separate initial density (p0 = peq).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DefaultInitial {
    /// The grid.
    pub spec: GridSpec,
    /// D (1/s), finite and > 0.
    pub d: f64,
    /// Firing rates.
    pub rates: InitialRates,
    /// Boundary mode.
    pub boundary: BoundaryMode,
}

impl Default for DefaultInitial {
    /// The paper's grid, D = 10 /s, [`InitialRates::Auto`], reflecting ends.
    fn default() -> Self {
        DefaultInitial {
            spec: GridSpec::PAPER,
            d: 10.0,
            rates: InitialRates::Auto,
            boundary: BoundaryMode::Reflecting,
        }
    }
}

impl DefaultInitial {
    /// The initial model for `data`; `fit_rates` says whether the tuning curves (Fr) will be
    /// fitted, which makes [`InitialRates::Mean`] start tilted instead of flat.
    pub fn build(&self, data: &SpikeData, fit_rates: bool) -> Result<Model, Error> {
        let grid = self.spec.build()?;
        let peq = Potential::cos_squared().peq(grid.x(), grid.w())?;
        let rates = match (self.rates, data.num_neurons()) {
            (InitialRates::Auto, 1) | (InitialRates::Paper, _) => {
                vec![TuningCurve::paper().rates_on(grid.x())]
            }
            _ if fit_rates => initial_tuning(data, &grid, &peq),
            _ => mean_rates(data)
                .into_iter()
                .map(|m| vec![m; grid.n()])
                .collect(),
        };
        Ok(Model::new(
            grid,
            ModelParts {
                boundary: self.boundary,
                peq,
                p0: None,
                d: self.d,
                rates,
            },
        )?)
    }
}

/// Each neuron's mean firing rate in `data` (Hz): its spikes over the summed trial time, at
/// least 1e-3 Hz.
pub fn mean_rates(data: &SpikeData) -> Vec<f64> {
    let total_time = data.total_time().max(f64::MIN_POSITIVE);
    let mut spikes = vec![0u64; data.num_neurons()];
    for t in data.trials() {
        for n in t.neuron().iter().flatten() {
            spikes[*n as usize] += 1;
        }
    }
    spikes
        .iter()
        .map(|&s| (s as f64 / total_time).max(1e-3))
        .collect()
}

/// The paper's initial model on `grid`: peq ~ cos^2(pi x / 2), D = 10 /s, one neuron at the
/// paper's rate max(100 (x + 1), 1) Hz, reflecting bounds (`docs/method.md` §7).
pub fn paper_initial_model(grid: &Arc<Grid>) -> Result<Model, Error> {
    Ok(Model::new(
        grid.clone(),
        ModelParts {
            boundary: BoundaryMode::Reflecting,
            peq: Potential::cos_squared().peq(grid.x(), grid.w())?,
            p0: None,
            d: 10.0,
            rates: vec![TuningCurve::paper().rates_on(grid.x())],
        },
    )?)
}

/// Largest |slope| of ln f_n against the scaled latent t in [-1, 1]: the initial rates vary
/// by at most e^(2 x 1.5) ~ 20 over the domain.
const MAX_TILT: f64 = 1.5;

/// Expected spikes of the whole population per bin of the latent proxy.
const SPIKES_PER_BIN: f64 = 10.0;

/// Initial rates (Hz) on the grid's nodes, one vector per neuron:
/// f_n(x) = m_n exp(beta_n t(x)) / int peq exp(beta_n t), with m_n the neuron's mean rate in
/// `data`, t(x) the position scaled to [-1, 1], and beta_n (|beta_n| <= 1.5) the neuron's
/// log-linear slope against a latent proxy. The proxy: spike counts in bins holding about 10
/// population spikes (10 ms to 0.25 s), standardised per neuron, projected on their first
/// principal component (sign fixed so that its largest loading is positive), and mapped to x
/// through the quantiles of `peq` (the initial density of the latent). The mean rate under
/// `peq` stays m_n. Deterministic; neurons without spikes get the floor rate 1e-3 Hz.
pub fn initial_tuning(data: &SpikeData, grid: &Grid, peq: &[f64]) -> Vec<Vec<f64>> {
    let k = data.num_neurons();
    let total_time = data.total_time().max(f64::MIN_POSITIVE);
    let mean = mean_rates(data);
    let population = data.num_spikes() as f64 / total_time;
    let width = (SPIKES_PER_BIN / population.max(1e-9)).clamp(0.01, 0.25);
    let counts = bin_counts(data, width);
    let slopes = if counts.len() < 4 {
        vec![0.0; k]
    } else {
        let proxy = latent_proxy(&counts, &mean, width, grid, peq);
        (0..k)
            .map(|n| slope(&counts, &proxy, n, mean[n] * width))
            .collect()
    };
    let (x, w) = (grid.x(), grid.w());
    let (mid, half) = (
        0.5 * (grid.xbegin() + grid.xend()),
        0.5 * (grid.xend() - grid.xbegin()),
    );
    (0..k)
        .map(|n| {
            let shape: Vec<f64> = x
                .iter()
                .map(|&xi| (slopes[n] * (xi - mid) / half).exp())
                .collect();
            let norm: f64 = shape
                .iter()
                .zip(w)
                .zip(peq)
                .map(|((s, w), p)| s * w * p)
                .sum();
            shape.iter().map(|s| mean[n] * s / norm).collect()
        })
        .collect()
}

/// Spike counts per bin (rows) and neuron (columns), bins of `width` seconds from each trial's
/// start; a trial's last partial bin is dropped unless it is its only one.
fn bin_counts(data: &SpikeData, width: f64) -> Vec<Vec<f64>> {
    let k = data.num_neurons();
    let mut rows = Vec::new();
    for trial in data.trials() {
        let bins = ((trial.duration() / width).floor() as usize).max(1);
        let first = rows.len();
        rows.extend((0..bins).map(|_| vec![0.0; k]));
        let mut t = 0.0;
        for (dt, n) in trial.isi().iter().zip(trial.neuron()) {
            t += dt;
            if let Some(n) = n {
                let b = ((t / width) as usize).min(bins - 1);
                rows[first + b][*n as usize] += 1.0;
            }
        }
    }
    rows
}

/// The first principal component's score of each bin, mapped to x by the quantiles of `peq`.
fn latent_proxy(
    counts: &[Vec<f64>],
    mean: &[f64],
    width: f64,
    grid: &Grid,
    peq: &[f64],
) -> Vec<f64> {
    let k = mean.len();
    let z: Vec<Vec<f64>> = counts
        .iter()
        .map(|row| {
            row.iter()
                .zip(mean)
                .map(|(c, m)| (c - m * width) / (m * width).sqrt())
                .collect()
        })
        .collect();
    let mut cov = vec![vec![0.0; k]; k];
    for row in &z {
        for i in 0..k {
            for j in 0..k {
                cov[i][j] += row[i] * row[j];
            }
        }
    }
    // Power iteration from a fixed start: the leading eigenvector of the covariance.
    let mut v: Vec<f64> = (0..k).map(|i| 1.0 + i as f64 / k as f64).collect();
    for _ in 0..200 {
        let next: Vec<f64> = cov
            .iter()
            .map(|r| r.iter().zip(&v).map(|(a, b)| a * b).sum())
            .collect();
        let norm = next.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm == 0.0 {
            break;
        }
        v = next.iter().map(|a| a / norm).collect();
    }
    let largest = v
        .iter()
        .copied()
        .fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
    if largest < 0.0 {
        v.iter_mut().for_each(|a| *a = -*a);
    }
    let score: Vec<f64> = z
        .iter()
        .map(|row| row.iter().zip(&v).map(|(a, b)| a * b).sum())
        .collect();
    // Rank -> quantile u in (0, 1) -> x with int_a^x peq = u (ties keep their order).
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let cdf = cumulative(grid, peq);
    let mut x = vec![0.0; score.len()];
    for (rank, &b) in order.iter().enumerate() {
        let u = (rank as f64 + 0.5) / score.len() as f64;
        x[b] = quantile(grid.x(), &cdf, u);
    }
    x
}

/// Trapezoid-free cumulative mass of `peq` at the nodes (quadrature weights summed).
fn cumulative(grid: &Grid, peq: &[f64]) -> Vec<f64> {
    let total: f64 = grid.w().iter().zip(peq).map(|(w, p)| w * p).sum();
    let mut acc = 0.0;
    grid.w()
        .iter()
        .zip(peq)
        .map(|(w, p)| {
            acc += w * p / total;
            acc
        })
        .collect()
}

/// The x at which the cumulative mass reaches `u` (linear between nodes).
fn quantile(x: &[f64], cdf: &[f64], u: f64) -> f64 {
    let i = cdf.partition_point(|&c| c < u);
    if i == 0 {
        return x[0];
    }
    if i >= x.len() {
        return x[x.len() - 1];
    }
    let (c0, c1) = (cdf[i - 1], cdf[i]);
    let s = if c1 > c0 { (u - c0) / (c1 - c0) } else { 0.0 };
    x[i - 1] + s * (x[i] - x[i - 1])
}

/// Slope of ln f_n against the scaled proxy t: the linear-response estimate
/// cov(c_n, x) / (expected count x var(x)), in units of the domain half-width, clamped.
fn slope(counts: &[Vec<f64>], proxy: &[f64], n: usize, expected: f64) -> f64 {
    let b = proxy.len() as f64;
    let mx = proxy.iter().sum::<f64>() / b;
    let (mut cov, mut var) = (0.0, 0.0);
    for (row, &x) in counts.iter().zip(proxy) {
        cov += (row[n] - expected) * (x - mx);
        var += (x - mx) * (x - mx);
    }
    if var <= 0.0 || expected <= 0.0 {
        return 0.0;
    }
    (cov / (expected * var)).clamp(-MAX_TILT, MAX_TILT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latentflow_data::Trial;

    /// Two neurons driven in opposite directions by a slow alternation get slopes of opposite
    /// signs; the mean rates under peq are kept.
    #[test]
    fn opposite_neurons_get_opposite_tilts_and_keep_their_means() {
        let grid = Grid::new(-1.0, 1.0, 8, 6).unwrap();
        let peq: Vec<f64> = vec![0.5; grid.n()];
        let mut trials = Vec::new();
        for t in 0..10 {
            // 1 s trial: neuron 0 fires in the first half, neuron 1 in the second (or swapped).
            let (a, b) = if t % 2 == 0 { (0, 1) } else { (1, 0) };
            let mut isi = Vec::new();
            let mut neuron = Vec::new();
            for i in 0..40 {
                isi.push(0.025);
                neuron.push(Some(if i < 20 { a } else { b }));
            }
            isi.push(0.0);
            neuron.push(None);
            trials.push(Trial::new(isi, neuron).unwrap());
        }
        let data = SpikeData::new(2, trials).unwrap();
        let rates = initial_tuning(&data, &grid, &peq);
        let slope = |r: &Vec<f64>| r[r.len() - 1] - r[0];
        assert!(slope(&rates[0]) * slope(&rates[1]) < 0.0, "{rates:?}");
        for r in &rates {
            let m: f64 = r.iter().zip(grid.w()).map(|(r, w)| r * w * 0.5).sum();
            assert!((m - 20.0).abs() < 1e-9, "mean rate {m}");
        }
    }
}
