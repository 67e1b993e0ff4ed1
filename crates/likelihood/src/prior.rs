//! What the model predicts before seeing a trial's spikes (docs/method.md §11): the latent
//! density at time t evolved from p0 by the Fokker–Planck operator (spikes are emissions; they do
//! not move the latent), and the trial-averaged firing rates it implies (the model's PSTH).
//!
//! p(x, t) = sqrt(peq) sum_k psi_k(x) exp(-lambda_k t) <psi_k, p0 / sqrt(peq)>. With absorbing
//! bounds p loses mass as trials end; the predicted rate is that of the trials still running,
//! int f_n p / int p, the quantity a PSTH over running trials estimates.

use latentflow_spectral::dot;

use crate::{Likelihood, LikelihoodError};

impl Likelihood {
    /// The model's firing rate of every neuron at `times` (s from the trial start, finite and
    /// >= 0), averaged over the latent's density without the data: `[neuron][time]`, Hz.
    pub fn predicted_rates(&self, times: &[f64]) -> Result<Vec<Vec<f64>>, LikelihoodError> {
        if let Some(t) = times.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            return Err(LikelihoodError::InvalidRequest(format!(
                "predicted rates need times >= 0 s, got {t}"
            )));
        }
        let grid = self.model.grid();
        let w = grid.w();
        let psi = &self.modes.psi;
        let sqrt_peq: Vec<f64> = self.model.peq().iter().map(|p| p.sqrt()).collect();
        let w_rho0: Vec<f64> = w.iter().zip(&self.rho0).map(|(w, r)| w * r).collect();
        let coef: Vec<f64> = (0..psi.ncols()).map(|k| dot(psi.col(k), &w_rho0)).collect();
        let mut out = vec![Vec::with_capacity(times.len()); self.model.num_neurons()];
        let mut p = vec![0.0; grid.n()];
        for &t in times {
            p.iter_mut().for_each(|v| *v = 0.0);
            for (k, c) in coef.iter().enumerate() {
                let a = c * (-self.modes.lambda[k] * t).exp();
                p.iter_mut().zip(psi.col(k)).for_each(|(v, s)| *v += a * s);
            }
            p.iter_mut().zip(&sqrt_peq).for_each(|(v, s)| *v *= s);
            let mass = grid.integrate(&p);
            for (rates, f) in out.iter_mut().zip(self.model.rates()) {
                let fp: Vec<f64> = f.iter().zip(&p).map(|(f, p)| f * p).collect();
                rates.push(grid.integrate(&fp) / mass);
            }
        }
        Ok(out)
    }
}
