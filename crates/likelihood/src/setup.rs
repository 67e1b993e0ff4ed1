//! Per-model setup: H0 eigenpairs, the dark operator in that basis, spike operators.

use latentflow_spectral::dense::{Mat, matmul, sym_eigen, symmetrize};
use latentflow_spectral::{BoundaryMode, EigenSolver, FokkerPlanck, FpModes};

use crate::kernels::mat_vec;
use crate::{LikelihoodError, Model};
use latentflow_spectral::{dot, norm};

/// Everything -log L needs for one model, computed once and shared by all trials (§3 of the
/// method): the H0 eigenpairs (lambda, phi, psi), the dark operator's eigenvalues `mu` and
/// rotation `Q` (Hd = diag(lambda) + sum_n G_n = Q diag(mu) Q^T with G_n = Psi^T diag(w f_n)
/// Psi), one spike operator S_n = Q^T G_n Q (= U^T diag(w f_n) U for U = Psi Q) per neuron,
/// the initial message a0 = U^T (w p0 / sqrt(peq)) with its norm, the integrator
/// b = U^T (w sqrt(peq)) and, with absorbing boundaries, the flux operator
/// A = Q^T diag(lambda) Q. U itself is never formed: it is only ever applied to vectors.
#[derive(Debug, Clone)]
pub struct Likelihood {
    pub(crate) model: Model,
    pub(crate) modes: FpModes,
    pub(crate) mu: Vec<f64>,
    pub(crate) q: Mat,
    pub(crate) spike_ops: Vec<Mat>,
    /// Unit-norm initial message a0 / |a0|.
    pub(crate) alpha0: Vec<f64>,
    /// |a0|.
    pub(crate) c0: f64,
    pub(crate) b: Vec<f64>,
    pub(crate) absorption: Option<Mat>,
    /// rho0 = p0 / sqrt(peq) on the nodes.
    pub(crate) rho0: Vec<f64>,
}

impl Likelihood {
    /// Sets up `model` with `nv` eigenmodes from `solver`, cold.
    pub fn new(
        model: &Model,
        nv: usize,
        solver: &dyn EigenSolver,
    ) -> Result<Likelihood, LikelihoodError> {
        Self::build(model, nv, solver, None)
    }

    /// Sets up `model` warm-started from the eigenpairs of a nearby model (as in a fit loop:
    /// the previous iteration's [`Likelihood::modes`]); the solver falls back to a cold start
    /// when the warm start does not converge.
    pub fn with_warm_start(
        model: &Model,
        nv: usize,
        solver: &dyn EigenSolver,
        warm: &FpModes,
    ) -> Result<Likelihood, LikelihoodError> {
        Self::build(model, nv, solver, Some(warm))
    }

    fn build(
        model: &Model,
        nv: usize,
        solver: &dyn EigenSolver,
        warm: Option<&FpModes>,
    ) -> Result<Likelihood, LikelihoodError> {
        let grid = model.grid();
        let w = grid.w();
        let fp = FokkerPlanck::new(grid, model.peq(), model.d(), model.boundary())?;
        let modes = fp.solve(nv, solver, warm)?;
        let psi = &modes.psi;
        let nv = modes.lambda.len();

        // G_n = Psi^T diag(w f_n) Psi; Hd = diag(lambda) + sum_n G_n = Q diag(mu) Q^T.
        let grams: Vec<Mat> = model
            .rates()
            .iter()
            .map(|r| weighted_gram(psi, w, r))
            .collect();
        let mut hd = Mat::zeros(nv, nv);
        for g in &grams {
            hd.as_mut_slice()
                .iter_mut()
                .zip(g.as_slice())
                .for_each(|(h, v)| *h += v);
        }
        for k in 0..nv {
            hd.set(k, k, hd.get(k, k) + modes.lambda[k]);
        }
        symmetrize(&mut hd);
        let (mu, q) = sym_eigen(&hd)?;

        // S_n = Q^T G_n Q: an nv^3 product instead of an N nv^2 one per neuron.
        let spike_ops = grams
            .iter()
            .map(|g| {
                let mut gq = Mat::zeros(nv, nv);
                matmul(&mut gq, g, false, &q, false, 1.0, 0.0);
                let mut s = Mat::zeros(nv, nv);
                matmul(&mut s, &q, true, &gq, false, 1.0, 0.0);
                symmetrize(&mut s);
                s
            })
            .collect();

        let sqrt_peq: Vec<f64> = model.peq().iter().map(|p| p.sqrt()).collect();
        let rho0: Vec<f64> = match model.p0() {
            None => sqrt_peq.clone(),
            Some(p0) => p0.iter().zip(&sqrt_peq).map(|(p, s)| p / s).collect(),
        };
        let a0 = project(psi, &q, w, &rho0);
        let c0 = norm(&a0);
        if !(c0.is_finite() && c0 > 0.0) {
            return Err(LikelihoodError::InvalidModel(format!(
                "the initial density has no component in the {nv} kept modes (|a0| = {c0})"
            )));
        }
        let alpha0 = a0.iter().map(|v| v / c0).collect();
        let b = project(psi, &q, w, &sqrt_peq);

        let absorption = match model.boundary() {
            BoundaryMode::Reflecting => None,
            BoundaryMode::Absorbing => {
                // A = Q^T diag(lambda) Q.
                let mut lq = q.clone();
                for j in 0..nv {
                    let col = lq.col_mut(j);
                    for (k, v) in col.iter_mut().enumerate() {
                        *v *= modes.lambda[k];
                    }
                }
                let mut a = Mat::zeros(nv, nv);
                matmul(&mut a, &q, true, &lq, false, 1.0, 0.0);
                symmetrize(&mut a);
                Some(a)
            }
        };

        Ok(Likelihood {
            model: model.clone(),
            modes,
            mu,
            q,
            spike_ops,
            alpha0,
            c0,
            b,
            absorption,
            rho0,
        })
    }

    /// The model this setup belongs to.
    pub fn model(&self) -> &Model {
        &self.model
    }
    /// The H0 eigenpairs (lambda ascending, phi, psi on all nodes).
    pub fn modes(&self) -> &FpModes {
        &self.modes
    }
    /// The H0 eigenpairs, giving up the setup (e.g. to warm-start the next one without a copy).
    pub fn into_modes(self) -> FpModes {
        self.modes
    }
    /// Number of kept modes.
    pub fn nv(&self) -> usize {
        self.mu.len()
    }
}

/// X^T diag(w g) X for a column matrix X (N x m).
fn weighted_gram(x: &Mat, w: &[f64], g: &[f64]) -> Mat {
    let (n, m) = (x.nrows(), x.ncols());
    let wg: Vec<f64> = w.iter().zip(g).map(|(a, b)| a * b).collect();
    let scaled = (0..m)
        .flat_map(|j| x.col(j).iter().zip(&wg).map(|(v, s)| v * s))
        .collect();
    let wx = Mat::from_col_major(n, m, scaled);
    let mut out = Mat::zeros(m, m);
    matmul(&mut out, x, true, &wx, false, 1.0, 0.0);
    out
}

/// U^T (w g) = Q^T (Psi^T (w g)).
fn project(psi: &Mat, q: &Mat, w: &[f64], g: &[f64]) -> Vec<f64> {
    let wg: Vec<f64> = w.iter().zip(g).map(|(a, b)| a * b).collect();
    let h: Vec<f64> = (0..psi.ncols()).map(|k| dot(psi.col(k), &wg)).collect();
    (0..q.ncols()).map(|k| dot(q.col(k), &h)).collect()
}

impl Likelihood {
    /// U v = Psi (Q v) on the nodes, for a vector v in the dark eigenbasis.
    pub(crate) fn on_nodes(&self, v: &[f64]) -> Vec<f64> {
        let mut qv = vec![0.0; self.q.nrows()];
        mat_vec(&self.q, v, &mut qv);
        let mut out = vec![0.0; self.modes.psi.nrows()];
        mat_vec(&self.modes.psi, &qv, &mut out);
        out
    }
}
