//! The posterior of the latent on one trial, p(x, t | the trial's spikes), at chosen times
//! (docs/method.md §11): the forward message times the backward message, both kept at every
//! event of the trial.
//!
//! In the dark eigenbasis the forward density is sqrt(peq) U a(t) and the backward function
//! U beta(t) / sqrt(peq), so the posterior on the nodes is (U a(t)) (U beta(t)) / L. Between
//! events both messages only decay: a(t) = exp(-mu (t - t_i)) a(t_i) and
//! beta(t) = exp(-mu (t_{i+1} - t)) beta(t_{i+1}^-). The scale factors of both passes are
//! kept, so the normalisation by the trial's likelihood L is the passes' own (the posterior's
//! integral being 1 at every time is a check of the bookkeeping, not imposed).

use latentflow_data::Trial;
use latentflow_spectral::dense::{Mat, matmul};
use latentflow_spectral::dot;

use crate::kernels::mat_vec;
use crate::passes::{normalise, step_error};
use crate::{Likelihood, LikelihoodError};

/// Lower and upper quantiles of the posterior band: the central 90%.
pub const BAND: (f64, f64) = (0.05, 0.95);

/// Whether [`Likelihood::posterior`] keeps the density at every time (N values per time) or
/// only its summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Density {
    /// Keep the nodal densities in [`Posterior::density`].
    Keep,
    /// Leave [`Posterior::density`] empty.
    Drop,
}

/// The posterior of the latent on one trial at chosen times.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    /// Times (s from the trial start), ascending, in [0, trial duration].
    pub times: Vec<f64>,
    /// p(x_j, t | spikes) on the grid nodes, one row per time (density in x: the quadrature
    /// sum_j w_j p_j is 1 up to round-off); empty with [`Density::Drop`]. The truncated eigenbasis can leave small negative
    /// ripples where the density is near 0.
    pub density: Vec<Vec<f64>>,
    /// Posterior mean of x per time.
    pub mean: Vec<f64>,
    /// Posterior standard deviation of x per time.
    pub sd: Vec<f64>,
    /// The [`BAND`] quantiles per time (negative ripples counted as 0).
    pub lower: Vec<f64>,
    /// See `lower`.
    pub upper: Vec<f64>,
}

/// Forward and backward messages of one trial at its events, with their log scales.
struct Messages {
    /// Event times t_0 = 0 < t_1 < ... < t_S = duration.
    event_times: Vec<f64>,
    /// a(t_i^+) / exp(log_a[i]) for i = 0..=S (after the spike at t_i).
    a: Vec<Vec<f64>>,
    log_a: Vec<f64>,
    /// beta(t_i^-) / exp(log_b[i - 1]) for i = 1..=S (before the spike at t_i), stored at i - 1.
    b: Vec<Vec<f64>>,
    log_b: Vec<f64>,
    /// log of the trial's likelihood in the shifted eigenvalues (the shift cancels).
    log_l: f64,
}

impl Likelihood {
    /// The posterior of the latent on `trial` (index `index`, for error messages) at `times`
    /// (s from the trial start, ascending, within [0, duration]); at a spike time, the state
    /// just after the spike (the latent is continuous, so both sides agree up to truncation).
    ///
    /// Works for both boundary modes and any p0. For an absorbed trial, the last time's density
    /// is weighted by the flux into the bounds (where the latent was when absorbed).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use latentflow_data::Trial;
    /// use latentflow_likelihood::{Density, Likelihood, Model, ModelParts, peq_from_force};
    /// use latentflow_spectral::{BandedSolver, BoundaryMode, Grid};
    ///
    /// let grid = Arc::new(Grid::new(-1.0, 1.0, 8, 6)?);
    /// let force: Vec<f64> = grid.x().iter().map(|x| -4.0 * x).collect();
    /// let rate: Vec<f64> = grid.x().iter().map(|x| 50.0 * (x + 1.0) + 1.0).collect();
    /// let model = Model::new(grid.clone(), ModelParts {
    ///     boundary: BoundaryMode::Reflecting, peq: peq_from_force(&grid, &force)?, p0: None,
    ///     d: 2.0, rates: vec![rate],
    /// })?;
    /// let lik = Likelihood::new(&model, 16, &BandedSolver::default())?;
    /// // Three quick spikes of the neuron that fires at high x, then 0.2 s of silence.
    /// let trial = Trial::new(vec![0.01, 0.01, 0.01, 0.2], vec![Some(0), Some(0), Some(0), None])?;
    /// let post = lik.posterior(0, &trial, &[0.0, 0.03, 0.23], Density::Keep)?;
    /// assert!((grid.integrate(&post.density[1]) - 1.0).abs() < 1e-9);
    /// // The latent was higher during the spikes than after the long silence.
    /// assert!(post.mean[1] > post.mean[2] && post.lower[1] < post.mean[1] && post.mean[1] < post.upper[1]);
    /// let path = lik.viterbi(0, &trial)?;
    /// assert_eq!(path.x.len(), 5); // the start and each of the four events
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn posterior(
        &self,
        index: usize,
        trial: &Trial,
        times: &[f64],
        keep: Density,
    ) -> Result<Posterior, LikelihoodError> {
        check_times(index, trial, times)?;
        let msg = self.messages(index, trial)?;
        let u = self.dark_modes_on_nodes();
        let grid = self.model.grid();
        let (x, w) = (grid.x(), grid.w());
        let shift = self.mu_min();
        let s = trial.isi().len();
        let mut out = Posterior {
            times: times.to_vec(),
            density: Vec::new(),
            mean: Vec::with_capacity(times.len()),
            sd: Vec::with_capacity(times.len()),
            lower: Vec::with_capacity(times.len()),
            upper: Vec::with_capacity(times.len()),
        };
        let mut ua = vec![0.0; x.len()];
        let mut ub = vec![0.0; x.len()];
        for &t in times {
            // Interval i holds t: t_{i-1} <= t < t_i (the end of the trial belongs to the last).
            let i = msg.event_times[1..].partition_point(|&e| e <= t).min(s - 1);
            let (start, end) = (msg.event_times[i], msg.event_times[i + 1]);
            let (a, b, scale) = if t < end {
                let decay = |v: &[f64], dt: f64| -> Vec<f64> {
                    v.iter()
                        .zip(&self.mu)
                        .map(|(v, m)| v * (-(m - shift) * dt.max(0.0)).exp())
                        .collect()
                };
                (
                    decay(&msg.a[i], t - start),
                    decay(&msg.b[i], end - t),
                    msg.log_a[i] + msg.log_b[i],
                )
            } else {
                // The trial's end: after its last event, against the end message.
                let b_end = self.end_message(trial);
                (msg.a[s].clone(), b_end, msg.log_a[s])
            };
            mat_vec(&u, &a, &mut ua);
            mat_vec(&u, &b, &mut ub);
            let factor = (scale - msg.log_l).exp();
            let p: Vec<f64> = ua.iter().zip(&ub).map(|(a, b)| a * b * factor).collect();
            let (mean, sd) = moments(x, w, &p);
            out.lower.push(quantile(x, w, &p, BAND.0));
            out.upper.push(quantile(x, w, &p, BAND.1));
            out.mean.push(mean);
            out.sd.push(sd);
            if keep == Density::Keep {
                out.density.push(p);
            }
        }
        Ok(out)
    }

    /// The dark eigenfunctions on the nodes, U = Psi Q (N x Nv).
    pub(crate) fn dark_modes_on_nodes(&self) -> Mat {
        let psi = &self.modes.psi;
        let mut u = Mat::zeros(psi.nrows(), self.q.ncols());
        matmul(&mut u, psi, false, &self.q, false, 1.0, 0.0);
        u
    }

    /// The backward message at the trial's end: b, or A b for an absorbed trial.
    fn end_message(&self, trial: &Trial) -> Vec<f64> {
        match self.applies_absorption(trial) {
            Some(abs) => {
                let mut v = vec![0.0; self.b.len()];
                mat_vec(abs, &self.b, &mut v);
                v
            }
            None => self.b.clone(),
        }
    }

    /// Both passes of one trial, keeping the messages at every event (eigenvalues shifted by
    /// their minimum, as in the likelihood's passes).
    fn messages(&self, index: usize, trial: &Trial) -> Result<Messages, LikelihoodError> {
        let shift = self.mu_min();
        let decays =
            |dt: f64| -> Vec<f64> { self.mu.iter().map(|m| (-(m - shift) * dt).exp()).collect() };
        let isi = trial.isi();
        let neurons = trial.neuron();
        let s = isi.len();
        let mut event_times = Vec::with_capacity(s + 1);
        event_times.push(0.0);
        let mut t = 0.0;
        for dt in isi {
            t += dt;
            event_times.push(t);
        }
        let m = self.nv();
        let mut tmp = vec![0.0; m];

        let mut a_all = Vec::with_capacity(s + 1);
        let mut log_a = Vec::with_capacity(s + 1);
        let mut a = self.alpha0.clone();
        let mut la = self.c0.ln();
        a_all.push(a.clone());
        log_a.push(la);
        for (i, (&dt, &neuron)) in isi.iter().zip(neurons).enumerate() {
            a.iter_mut().zip(decays(dt)).for_each(|(v, e)| *v *= e);
            if let Some(n) = neuron {
                mat_vec(self.spike_op(index, i, n)?, &a, &mut tmp);
                std::mem::swap(&mut a, &mut tmp);
            }
            la += normalise(&mut a).map_err(|_| step_error(index, i, neuron))?;
            a_all.push(a.clone());
            log_a.push(la);
        }

        let mut beta = self.end_message(trial);
        let c_end = dot(&beta, &a);
        if !(c_end.is_finite() && c_end > 0.0) {
            return Err(LikelihoodError::NonPositiveNormaliser {
                trial: index,
                value: c_end,
            });
        }
        let log_l = la + c_end.ln();

        let mut b_all = vec![Vec::new(); s];
        let mut log_b = vec![0.0; s];
        let mut lb = 0.0;
        for i in (0..s).rev() {
            if let Some(n) = neurons[i] {
                mat_vec(self.spike_op(index, i, n)?, &beta, &mut tmp);
                std::mem::swap(&mut beta, &mut tmp);
            }
            lb += normalise(&mut beta).map_err(|_| LikelihoodError::NonPositiveNormaliser {
                trial: index,
                value: 0.0,
            })?;
            b_all[i] = beta.clone();
            log_b[i] = lb;
            beta.iter_mut()
                .zip(decays(isi[i]))
                .for_each(|(v, e)| *v *= e);
        }
        Ok(Messages {
            event_times,
            a: a_all,
            log_a,
            b: b_all,
            log_b,
            log_l,
        })
    }
}

/// Checks that `times` ascend within [0, duration].
fn check_times(index: usize, trial: &Trial, times: &[f64]) -> Result<(), LikelihoodError> {
    let duration = trial.duration();
    if trial.isi().is_empty() {
        return Err(LikelihoodError::InvalidRequest(format!(
            "trial {index} has no events to decode"
        )));
    }
    for (k, &t) in times.iter().enumerate() {
        if !(t.is_finite() && (0.0..=duration).contains(&t)) {
            return Err(LikelihoodError::InvalidRequest(format!(
                "trial {index}: decoding time {t} s is outside the trial [0, {duration}] s"
            )));
        }
        if k > 0 && t < times[k - 1] {
            return Err(LikelihoodError::InvalidRequest(format!(
                "trial {index}: decoding times must ascend ({} s before {t} s)",
                times[k - 1]
            )));
        }
    }
    Ok(())
}

/// Mean and standard deviation of x under the nodal density `p` (quadrature weights `w`).
fn moments(x: &[f64], w: &[f64], p: &[f64]) -> (f64, f64) {
    let mass: f64 = w.iter().zip(p).map(|(w, p)| w * p).sum();
    let mean = x
        .iter()
        .zip(w)
        .zip(p)
        .map(|((x, w), p)| x * w * p)
        .sum::<f64>()
        / mass;
    let var = x
        .iter()
        .zip(w)
        .zip(p)
        .map(|((x, w), p)| (x - mean) * (x - mean) * w * p)
        .sum::<f64>()
        / mass;
    (mean, var.max(0.0).sqrt())
}

/// The `q` quantile of x under the nodal density `p`: node j carries the mass w_j max(p_j, 0),
/// half of it counted below x_j; linear between nodes.
fn quantile(x: &[f64], w: &[f64], p: &[f64], q: f64) -> f64 {
    let mass: Vec<f64> = w.iter().zip(p).map(|(w, p)| w * p.max(0.0)).collect();
    let total: f64 = mass.iter().sum();
    let target = q * total;
    let mut below = 0.0;
    let mut prev = (x[0], 0.0);
    for (xj, mj) in x.iter().zip(&mass) {
        let at = below + mj / 2.0;
        if at >= target {
            let (x0, f0) = prev;
            return if at > f0 {
                x0 + (xj - x0) * (target - f0) / (at - f0)
            } else {
                *xj
            };
        }
        below += mj;
        prev = (*xj, at);
    }
    x[x.len() - 1]
}
