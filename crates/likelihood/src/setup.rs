//! Per-model setup: H0 eigenpairs, the dark operator in that basis, spike operators.

use latentflow_spectral::dense::{Mat, matmul, sym_eigen};
use latentflow_spectral::{BoundaryMode, EigenSolver, FokkerPlanck, FpModes};

use crate::kernels::norm;
use crate::{LikelihoodError, Model};

/// Everything -log L needs for one model, computed once and shared by all trials (§3 of the
/// method): the H0 eigenpairs (lambda, phi, psi), the dark operator's eigenvalues `mu` and
/// rotation `Q` (Hd = diag(lambda) + Psi^T diag(w f_tot) Psi = Q diag(mu) Q^T), U = Psi Q, one
/// spike operator S_n = U^T diag(w f_n) U per neuron, the initial message a0 = U^T (w p0 /
/// sqrt(peq)) with its norm, the integrator b = U^T (w sqrt(peq)) and, with absorbing
/// boundaries, the flux operator A = Q^T diag(lambda) Q.
#[derive(Debug, Clone)]
pub struct Likelihood {
    pub(crate) model: Model,
    pub(crate) modes: FpModes,
    pub(crate) mu: Vec<f64>,
    pub(crate) q: Mat,
    pub(crate) u: Mat,
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
        let n = grid.n();
        let fp = FokkerPlanck::new(grid, model.peq(), model.d(), model.boundary())?;
        let modes = fp.solve(nv, solver, warm)?;
        let psi = &modes.psi;
        let nv = modes.lambda.len();

        // Hd = diag(lambda) + Psi^T diag(w f_tot) Psi.
        let f_tot: Vec<f64> = (0..n)
            .map(|i| model.rates().iter().map(|r| r[i]).sum::<f64>())
            .collect();
        let mut hd = weighted_gram(psi, w, &f_tot);
        for k in 0..nv {
            hd.set(k, k, hd.get(k, k) + modes.lambda[k]);
        }
        symmetrize(&mut hd);
        let (mu, q) = sym_eigen(&hd)?;

        let mut u = Mat::zeros(n, nv);
        matmul(&mut u, psi, false, &q, false, 1.0, 0.0);

        let spike_ops = model
            .rates()
            .iter()
            .map(|r| {
                let mut s = weighted_gram(&u, w, r);
                symmetrize(&mut s);
                s
            })
            .collect();

        let sqrt_peq: Vec<f64> = model.peq().iter().map(|p| p.sqrt()).collect();
        let rho0: Vec<f64> = match model.p0() {
            None => sqrt_peq.clone(),
            Some(p0) => p0.iter().zip(&sqrt_peq).map(|(p, s)| p / s).collect(),
        };
        let a0 = project(&u, w, &rho0);
        let c0 = norm(&a0);
        if !(c0.is_finite() && c0 > 0.0) {
            return Err(LikelihoodError::InvalidModel(format!(
                "the initial density has no component in the {nv} kept modes (|a0| = {c0})"
            )));
        }
        let alpha0 = a0.iter().map(|v| v / c0).collect();
        let b = project(&u, w, &sqrt_peq);

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
            u,
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
    /// Eigenvalues of the dark operator H0 + f_tot in the kept basis, ascending (1/s).
    pub fn dark_eigenvalues(&self) -> &[f64] {
        &self.mu
    }
    /// Number of kept modes.
    pub fn nv(&self) -> usize {
        self.mu.len()
    }
}

/// X^T diag(w g) X for a column matrix X (N x m).
fn weighted_gram(x: &Mat, w: &[f64], g: &[f64]) -> Mat {
    let (n, m) = (x.nrows(), x.ncols());
    let mut wx = x.clone();
    for j in 0..m {
        let col = wx.col_mut(j);
        for i in 0..n {
            col[i] *= w[i] * g[i];
        }
    }
    let mut out = Mat::zeros(m, m);
    matmul(&mut out, x, true, &wx, false, 1.0, 0.0);
    out
}

/// Replaces a nearly symmetric matrix by its symmetric part (removes GEMM round-off asymmetry).
fn symmetrize(a: &mut Mat) {
    let m = a.nrows();
    for j in 0..m {
        for i in 0..j {
            let v = 0.5 * (a.get(i, j) + a.get(j, i));
            a.set(i, j, v);
            a.set(j, i, v);
        }
    }
}

/// U^T (w g).
fn project(u: &Mat, w: &[f64], g: &[f64]) -> Vec<f64> {
    (0..u.ncols())
        .map(|k| {
            u.col(k)
                .iter()
                .zip(w)
                .zip(g)
                .map(|((a, b), c)| a * b * c)
                .sum()
        })
        .collect()
}
