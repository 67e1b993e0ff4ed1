//! Evaluation over a data set (parallel over trials, fixed reduction order) and the mapping of
//! the per-trial accumulators to gradients of -log L (docs/method.md §4).

use latentflow_data::SpikeData;
use latentflow_spectral::dense::{Mat, matmul};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::accumulate::{IntervalSums, close_pairs};
use crate::passes::TrialGrad;
use crate::{Likelihood, LikelihoodError};

/// Trials per work unit. Units are summed in index order, so the result has the same bits
/// whatever the number of threads.
const TRIALS_PER_UNIT: usize = 4;

/// Which gradients to compute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradRequest {
    /// Driving force F (functional derivative, per node).
    pub force: bool,
    /// D (ordinary derivative).
    pub d: bool,
    /// Initial-density force F0 (non-equilibrium models only).
    pub force0: bool,
    /// Log-derivatives Fr_n of the firing rates (functional, per node and neuron).
    pub fr: bool,
    /// Rate scales C_n = f_n(a) (ordinary derivatives).
    pub c: bool,
}

impl GradRequest {
    /// F only, as in the paper.
    pub const FORCE: GradRequest = GradRequest {
        force: true,
        d: false,
        force0: false,
        fr: false,
        c: false,
    };
    /// Every gradient that applies to the model.
    pub const ALL: GradRequest = GradRequest {
        force: true,
        d: true,
        force0: true,
        fr: true,
        c: true,
    };
    fn any(&self) -> bool {
        self.force || self.d || self.force0 || self.fr || self.c
    }
}

/// Gradients of -log L. F, F0 and Fr are functional derivatives: for F -> F + eps dF (peq
/// renormalised), `d(-log L)/d eps = sum_i w_i force[i] dF[i]`; D and C are ordinary partial
/// derivatives. Entries not requested are `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gradients {
    /// d(-log L)/dF on the nodes.
    pub force: Option<Vec<f64>>,
    /// d(-log L)/dD.
    pub d: Option<f64>,
    /// d(-log L)/dF0 on the nodes.
    pub force0: Option<Vec<f64>>,
    /// d(-log L)/dFr_n on the nodes, per neuron.
    pub fr: Option<Vec<Vec<f64>>>,
    /// d(-log L)/dC_n per neuron.
    pub c: Option<Vec<f64>>,
}

/// Sum of the per-trial accumulators.
pub(crate) struct Totals {
    pub neg_loglik: f64,
    pub trials: usize,
    intervals: IntervalSums,
    g_abs: Mat,
    /// Sum over trials of alpha_last / c_end.
    pub alpha_end: Vec<f64>,
    /// Sum over trials of beta_0.
    pub beta0: Vec<f64>,
}

impl Totals {
    fn new(m: usize, k: usize, close: usize) -> Self {
        Totals {
            neg_loglik: 0.0,
            trials: 0,
            intervals: IntervalSums::new(m, k, close),
            g_abs: Mat::zeros(m, m),
            alpha_end: vec![0.0; m],
            beta0: vec![0.0; m],
        }
    }
    fn add_trial(&mut self, t: TrialGrad) {
        self.neg_loglik += t.neg_loglik;
        self.trials += 1;
        self.intervals.add(&t.intervals);
        if let Some(g) = &t.g_abs {
            add_into(&mut self.g_abs, g);
        }
        add_vec(&mut self.alpha_end, &t.alpha_end);
        add_vec(&mut self.beta0, &t.beta0);
    }
    fn add(&mut self, o: Totals) {
        self.neg_loglik += o.neg_loglik;
        self.trials += o.trials;
        self.intervals.add(&o.intervals);
        add_into(&mut self.g_abs, &o.g_abs);
        add_vec(&mut self.alpha_end, &o.alpha_end);
        add_vec(&mut self.beta0, &o.beta0);
    }
}

fn add_into(a: &mut Mat, b: &Mat) {
    add_vec(a.as_mut_slice(), b.as_slice());
}
fn add_vec(a: &mut [f64], b: &[f64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

impl Likelihood {
    /// Where model and data meet: every -log L and gradient entry point calls this before any
    /// work. The neuron counts must be equal (neuron k of the data is neuron k of the model,
    /// so a count that differs means the model was fitted to other data), and censored trials
    /// need absorbing boundaries (censoring means "the trial ended before absorption", which a
    /// reflecting model cannot express).
    fn check_data(&self, data: &SpikeData) -> Result<(), LikelihoodError> {
        let (ours, theirs) = (self.spike_ops.len(), data.num_neurons());
        if ours != theirs {
            return Err(LikelihoodError::DataModelMismatch(format!(
                "the data have {theirs} neuron{}, the model has firing rates for {ours} (the counts must be equal)",
                if theirs == 1 { "" } else { "s" }
            )));
        }
        if self.absorption.is_none()
            && let Some(k) = data.trials().iter().position(|t| t.censored())
        {
            return Err(LikelihoodError::DataModelMismatch(format!(
                "trial {k} is marked censored, but censoring needs absorbing boundaries and the model's are reflecting"
            )));
        }
        Ok(())
    }

    /// -log L of the data (forward passes only; no backward pass).
    pub fn neg_loglik(&self, data: &SpikeData) -> Result<f64, LikelihoodError> {
        self.check_data(data)?;
        let per_trial: Vec<f64> = data
            .trials()
            .par_iter()
            .enumerate()
            .map(|(i, t)| self.trial_neg_loglik(i, t))
            .collect::<Result<_, _>>()?;
        Ok(per_trial.iter().sum())
    }

    /// -log L of each trial (forward passes only).
    pub fn neg_loglik_per_trial(&self, data: &SpikeData) -> Result<Vec<f64>, LikelihoodError> {
        self.check_data(data)?;
        data.trials()
            .par_iter()
            .enumerate()
            .map(|(i, t)| self.trial_neg_loglik(i, t))
            .collect()
    }

    /// -log L and the requested gradients.
    pub fn neg_loglik_and_grad(
        &self,
        data: &SpikeData,
        request: GradRequest,
    ) -> Result<(f64, Gradients), LikelihoodError> {
        if !request.any() {
            return Ok((self.neg_loglik(data)?, Gradients::default()));
        }
        self.check_request(request)?;
        let (total, close) = self.totals(data)?;
        let neg_loglik = total.neg_loglik;
        Ok((neg_loglik, self.assemble(total, &close, request)))
    }

    /// Refuses gradients the model cannot give.
    pub(crate) fn check_request(&self, request: GradRequest) -> Result<(), LikelihoodError> {
        if request.force0 && self.model.p0().is_none() {
            return Err(LikelihoodError::InvalidRequest(
                "the F0 gradient needs a non-equilibrium model (p0 given)".into(),
            ));
        }
        if request.c
            && let Some(n) = self.model.rates().iter().position(|r| r[0] <= 0.0)
        {
            return Err(LikelihoodError::InvalidRequest(format!(
                "the C gradient needs f_n(a) > 0, but neuron {n} has rate 0 at the left end"
            )));
        }
        Ok(())
    }

    /// Forward and backward passes of every trial, their accumulators summed in trial order;
    /// also the close pairs of dark eigenvalues they were summed with.
    pub(crate) fn totals(
        &self,
        data: &SpikeData,
    ) -> Result<(Totals, Vec<(usize, usize)>), LikelihoodError> {
        self.check_data(data)?;
        let (m, k) = (self.nv(), self.spike_ops.len());
        let trials = data.trials();
        let intervals: usize = trials.iter().map(|t| t.isi().len()).sum();
        let duration: f64 = trials.iter().map(|t| t.duration()).sum();
        let close = close_pairs(&self.mu, duration / intervals.max(1) as f64);
        let units: Vec<Totals> = trials
            .par_chunks(TRIALS_PER_UNIT)
            .enumerate()
            .map(|(u, chunk)| {
                let mut t = Totals::new(m, k, close.len());
                for (j, trial) in chunk.iter().enumerate() {
                    t.add_trial(self.trial_grad(u * TRIALS_PER_UNIT + j, trial, &close)?);
                }
                Ok(t)
            })
            .collect::<Result<_, LikelihoodError>>()?;
        let mut total = Totals::new(m, k, close.len());
        for u in units {
            total.add(u);
        }
        Ok((total, close))
    }

    /// Maps the summed accumulators to nodal gradients.
    pub(crate) fn assemble(
        &self,
        t: Totals,
        close: &[(usize, usize)],
        request: GradRequest,
    ) -> Gradients {
        let model = &self.model;
        let grid = model.grid();
        let (n, m) = (grid.n(), self.nv());
        let peq = model.peq();
        let sqrt_peq: Vec<f64> = peq.iter().map(|p| p.sqrt()).collect();
        let phi = &self.modes.phi;
        let trials = t.trials as f64;

        let (g_intervals, g_spikes) = t.intervals.finish(&self.mu, close, &self.spike_ops);
        // G = G_intervals - G_abs, mapped to the H0 basis: G0 = Q G Q^T.
        let mut g = g_intervals.clone();
        add_vec(
            g.as_mut_slice(),
            &t.g_abs.as_slice().iter().map(|v| -v).collect::<Vec<_>>(),
        );
        let g0 = self.rotate_back(&g);
        let mut out = Gradients::default();

        if request.d {
            // H0 is D times an operator without D: its eigenvectors do not depend on D and
            // dH0/dD = diag(lambda) / D in their basis, so d(-log L)/dD = tr(G0 diag(lambda)) / D.
            let lambda = &self.modes.lambda;
            out.d = Some((0..m).map(|k| g0.get(k, k) * lambda[k]).sum::<f64>() / model.d());
        }
        if request.force {
            let mut dphi = Mat::zeros(n, m);
            for k in 0..m {
                grid.derivative_into(phi.col(k), dphi.col_mut(k));
            }
            let mut sym = g0.clone();
            for j in 0..m {
                for i in 0..m {
                    sym.set(i, j, g0.get(i, j) + g0.get(j, i));
                }
            }
            let gamma = row_dots(&mat_mul(&dphi, &sym), phi);
            let u_alpha = self.on_nodes(&t.alpha_end);
            let u_beta = self.on_nodes(&t.beta0);
            let integrand: Vec<f64> = match model.p0() {
                None => (0..n)
                    .map(|i| trials * peq[i] - 0.5 * sqrt_peq[i] * (u_alpha[i] + u_beta[i]))
                    .collect(),
                Some(_) => (0..n)
                    .map(|i| 0.5 * (self.rho0[i] * u_beta[i] - sqrt_peq[i] * u_alpha[i]))
                    .collect(),
            };
            let big_b = grid.antiderivative(&integrand);
            let d = model.d();
            out.force = Some(
                (0..n)
                    .map(|i| -0.5 * d * peq[i] * gamma[i] - big_b[i])
                    .collect(),
            );
        }
        if request.force0 {
            let u_beta = self.on_nodes(&t.beta0);
            let integrand: Vec<f64> = (0..n)
                .map(|i| self.rho0[i] * (trials * sqrt_peq[i] - u_beta[i]))
                .collect();
            out.force0 = Some(grid.antiderivative(&integrand).iter().map(|v| -v).collect());
        }
        if request.fr || request.c {
            let gf0 = self.rotate_back(&g_intervals);
            let common = row_dots(&mat_mul(phi, &gf0), phi);
            let mut fr = Vec::new();
            let mut c = Vec::new();
            for (rate, g1) in model.rates().iter().zip(&g_spikes) {
                let g10 = self.rotate_back(g1);
                let own = row_dots(&mat_mul(phi, &g10), phi);
                let integrand: Vec<f64> = (0..n)
                    .map(|i| rate[i] * peq[i] * (common[i] - own[i]))
                    .collect();
                let c2 = grid.antiderivative(&integrand);
                let end = c2[n - 1];
                fr.push(c2.iter().map(|v| end - v).collect());
                c.push(end / rate[0]);
            }
            if request.fr {
                out.fr = Some(fr);
            }
            if request.c {
                out.c = Some(c);
            }
        }
        out
    }

    /// Q X Q^T.
    fn rotate_back(&self, x: &Mat) -> Mat {
        let qx = mat_mul(&self.q, x);
        let m = self.nv();
        let mut out = Mat::zeros(m, m);
        matmul(&mut out, &qx, false, &self.q, true, 1.0, 0.0);
        out
    }
}

fn mat_mul(a: &Mat, b: &Mat) -> Mat {
    let mut out = Mat::zeros(a.nrows(), b.ncols());
    matmul(&mut out, a, false, b, false, 1.0, 0.0);
    out
}

/// Row-wise dot products of two N x m matrices.
fn row_dots(a: &Mat, b: &Mat) -> Vec<f64> {
    let mut out = vec![0.0; a.nrows()];
    for k in 0..a.ncols() {
        out.iter_mut()
            .zip(a.col(k).iter().zip(b.col(k)))
            .for_each(|(o, (x, y))| *o += x * y);
    }
    out
}
