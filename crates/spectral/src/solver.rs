//! Eigen solvers for the lowest eigenpairs of a symmetric-definite banded pencil, behind one
//! trait so that users can swap them.

use crate::SpectralError;
use crate::dense::{Mat, generalized_eigen, matmul, sym_eigen};
use crate::pencil::BandedPencil;
use faer::{Accum, MatMut, MatRef, Par};

/// What a solver returns, in the pencil's (reduced) unknowns.
#[derive(Debug, Clone)]
pub struct Solution {
    /// The lowest nv eigenvalues, ascending.
    pub values: Vec<f64>,
    /// Their eigenvectors (n x nv), M-orthonormal.
    pub vectors: Mat,
    /// A basis to warm-start a nearby problem (n x p, p >= nv; often the vectors themselves).
    pub basis: Mat,
}

/// "The lowest nv eigenpairs of this symmetric-definite pencil K v = lambda M v", optionally
/// warm-started from the basis of a nearby problem's solution.
pub trait EigenSolver: Send + Sync + std::fmt::Debug {
    /// Solves for the lowest `nv` pairs (1 <= nv <= pencil.n(), checked by the caller).
    fn solve(
        &self,
        pencil: &BandedPencil,
        nv: usize,
        warm: Option<&Mat>,
    ) -> Result<Solution, SpectralError>;
}

/// Reference solver: dense Cholesky reduction and faer's symmetric eigen decomposition
/// (O(n^3), all modes). Ignores warm starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenseSolver;

impl EigenSolver for DenseSolver {
    fn solve(
        &self,
        pencil: &BandedPencil,
        nv: usize,
        _warm: Option<&Mat>,
    ) -> Result<Solution, SpectralError> {
        check_pencil(pencil)?;
        let (values, vectors) = generalized_eigen(&pencil.k.to_dense(), &pencil.m.to_dense(), nv)?;
        Ok(Solution {
            values,
            basis: vectors.clone(),
            vectors,
        })
    }
}

/// The fast default. Cold start: shift-invert Lanczos (full reorthogonalisation) on a banded
/// LDL^T factorisation of K - sigma M, sigma below the spectrum, then a Rayleigh–Ritz clean-up.
/// Warm start (fit loops): Rayleigh–Ritz on the previous basis, then Rayleigh-quotient
/// iteration (one banded factorisation per mode) and Rayleigh–Ritz until every residual is
/// below `tol`. Every result is validated by Sylvester's inertia (exactly nv eigenvalues lie
/// below lambda_{nv-1}(1 + 1e-8)); a warm start that fails falls back to the cold path, and a
/// cold path that fails falls back to the dense solver.
#[derive(Debug, Clone, Copy)]
pub struct BandedSolver {
    /// Backward error ||K v - lambda M v|| / ((||K|| + |lambda| ||M||) ||v||) accepted.
    pub tol: f64,
    /// Rayleigh-quotient sweeps tried in a warm start before falling back.
    pub warm_sweeps: usize,
    /// Problems with at most this many unknowns, or asking for more than half of the modes,
    /// go straight to the dense solver.
    pub dense_below: usize,
}

impl Default for BandedSolver {
    fn default() -> Self {
        BandedSolver {
            tol: 1e-12,
            warm_sweeps: 3,
            dense_below: 200,
        }
    }
}

fn check_pencil(p: &BandedPencil) -> Result<(), SpectralError> {
    if !(p.k.is_finite() && p.m.is_finite()) {
        return Err(SpectralError::NonFinite("eigenproblem matrices".into()));
    }
    Ok(())
}

impl EigenSolver for BandedSolver {
    fn solve(
        &self,
        pencil: &BandedPencil,
        nv: usize,
        warm: Option<&Mat>,
    ) -> Result<Solution, SpectralError> {
        check_pencil(pencil)?;
        let n = pencil.n();
        if n <= self.dense_below || 2 * nv > n {
            return DenseSolver.solve(pencil, nv, None);
        }
        if let Some(basis) = warm
            && basis.nrows() == n
            && basis.ncols() >= nv
            && let Some(sol) = self.warm(pencil, nv, basis)
        {
            return Ok(sol);
        }
        match self.cold(pencil, nv) {
            Some(sol) => Ok(sol),
            None => DenseSolver.solve(pencil, nv, None),
        }
    }
}

/// Rayleigh–Ritz: the pencil's eigenpairs within span(X), lowest `nv`.
fn rayleigh_ritz(p: &BandedPencil, x: &Mat, nv: usize) -> Option<(Vec<f64>, Mat)> {
    let kx = p.k.mul_mat(x);
    let mx = p.m.mul_mat(x);
    let c = x.ncols();
    let mut kr = Mat::zeros(c, c);
    let mut mr = Mat::zeros(c, c);
    matmul(&mut kr, x, true, &kx, false, 1.0, 0.0);
    matmul(&mut mr, x, true, &mx, false, 1.0, 0.0);
    symmetrize(&mut kr);
    symmetrize(&mut mr);
    let (vals, s) = generalized_eigen(&kr, &mr, nv).ok()?;
    let mut v = Mat::zeros(x.nrows(), nv);
    matmul(&mut v, x, false, &s, false, 1.0, 0.0);
    Some((vals, v))
}

fn symmetrize(a: &mut Mat) {
    let n = a.nrows();
    for j in 0..n {
        for i in 0..j {
            let v = 0.5 * (a.get(i, j) + a.get(j, i));
            a.set(i, j, v);
            a.set(j, i, v);
        }
    }
}

/// w -= Q (M Q)^T w over the first `cols` columns of the column-major bases `q`, `mq` (n rows
/// each, n = w.len()): one Gram–Schmidt pass in the M inner product, as two matrix-vector
/// products. `coef` (>= cols long) is scratch.
fn project_out(q: &[f64], mq: &[f64], cols: usize, w: &mut [f64], coef: &mut [f64]) {
    let n = w.len();
    let qv = MatRef::from_column_major_slice(&q[..n * cols], n, cols);
    let mqv = MatRef::from_column_major_slice(&mq[..n * cols], n, cols);
    faer::linalg::matmul::matmul(
        MatMut::from_column_major_slice_mut(&mut coef[..cols], cols, 1),
        Accum::Replace,
        mqv.transpose(),
        MatRef::from_column_major_slice(w, n, 1),
        1.0,
        Par::Seq,
    );
    faer::linalg::matmul::matmul(
        MatMut::from_column_major_slice_mut(w, n, 1),
        Accum::Add,
        qv,
        MatRef::from_column_major_slice(&coef[..cols], cols, 1),
        -1.0,
        Par::Seq,
    );
}

fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl BandedSolver {
    /// True if every pair's backward error ||K v - lambda M v|| / ((||K|| + |lambda| ||M||) ||v||)
    /// (infinity norms of the matrices, 2-norms of vectors) is below tol. This scale, unlike
    /// |lambda| ||M v||, is reachable in floating point for the zero mode of reflecting
    /// problems and on fine grids, where ||K|| / ||M|| grows like N^2.
    fn converged(&self, p: &BandedPencil, vals: &[f64], v: &Mat) -> bool {
        let (k_norm, m_norm) = (p.k.norm_inf(), p.m.norm_inf());
        let (kv, mv) = (p.k.mul_mat(v), p.m.mul_mat(v));
        vals.iter().enumerate().all(|(j, &lambda)| {
            let scale = (k_norm + lambda.abs() * m_norm) * norm(v.col(j));
            let r: f64 = kv
                .col(j)
                .iter()
                .zip(mv.col(j))
                .map(|(a, b)| (a - lambda * b).powi(2))
                .sum::<f64>()
                .sqrt();
            r <= self.tol * scale
        })
    }

    /// True if exactly nv eigenvalues lie below lambda_{nv-1} (1 + 1e-8): none was missed.
    fn inertia_ok(p: &BandedPencil, vals: &[f64]) -> bool {
        let top = vals[vals.len() - 1];
        let cut = top + 1e-8 * top.abs().max(1e-300);
        match p.k.shifted(cut, &p.m).ldlt() {
            Some(f) => f.negative_pivots() == vals.len(),
            None => false,
        }
    }

    fn accept(&self, p: &BandedPencil, vals: Vec<f64>, v: Mat) -> Option<Solution> {
        if self.converged(p, &vals, &v) {
            Self::accept_converged(p, vals, v)
        } else {
            None
        }
    }

    /// [`Self::accept`] for pairs whose residuals were already checked.
    fn accept_converged(p: &BandedPencil, vals: Vec<f64>, v: Mat) -> Option<Solution> {
        if vals.iter().all(|x| x.is_finite()) && Self::inertia_ok(p, &vals) {
            Some(Solution {
                values: vals,
                basis: v.clone(),
                vectors: v,
            })
        } else {
            None
        }
    }

    /// Warm start: sweeps of Rayleigh-quotient iteration (one banded LDL^T per mode) and a
    /// Rayleigh–Ritz step, until the residuals pass. The first sweep starts from the previous
    /// modes with their Rayleigh quotients under the new pencil as shifts (accurate to second
    /// order in the change of the pencil), so it needs no Rayleigh–Ritz step before it.
    fn warm(&self, p: &BandedPencil, nv: usize, basis: &Mat) -> Option<Solution> {
        let mut v = basis.first_cols(nv);
        let (kv, mv) = (p.k.mul_mat(&v), p.m.mul_mat(&v));
        let mut shifts: Vec<f64> = (0..nv)
            .map(|j| dot(v.col(j), kv.col(j)) / dot(v.col(j), mv.col(j)))
            .collect();
        let mut mv = Some(mv);
        for _ in 0..self.warm_sweeps {
            // y_j = (K - shift_j M)^-1 M v_j, normalised.
            let mut y = mv.take().unwrap_or_else(|| p.m.mul_mat(&v));
            for j in 0..nv {
                let f = p.k.shifted(shifts[j], &p.m).ldlt()?;
                let col = y.col_mut(j);
                f.solve_in_place(col);
                let s = norm(col);
                if !(s.is_finite() && s > 0.0) {
                    return None;
                }
                col.iter_mut().for_each(|x| *x /= s);
            }
            let vals;
            (vals, v) = rayleigh_ritz(p, &y, nv)?;
            if self.converged(p, &vals, &v) {
                return Self::accept_converged(p, vals, v);
            }
            shifts = vals;
        }
        None
    }

    fn cold(&self, p: &BandedPencil, nv: usize) -> Option<Solution> {
        let n = p.n();
        // A shift below the spectrum: K - sigma M positive definite (no negative pivot).
        let trace_k: f64 = (0..n).map(|i| p.k.get(i, i)).sum();
        let trace_m: f64 = (0..n).map(|i| p.m.get(i, i)).sum();
        let scale = (trace_k / trace_m).abs() / (n as f64 * n as f64) + f64::MIN_POSITIVE;
        let mut sigma = -scale;
        let factor = loop {
            match p.k.shifted(sigma, &p.m).ldlt() {
                Some(f) if f.negative_pivots() == 0 => break f,
                _ => {}
            }
            sigma = 4.0 * sigma - scale;
            if !sigma.is_finite() {
                return None;
            }
        };
        // Lanczos on (K - sigma M)^-1 M in the M inner product. The basis Q and M Q grow by
        // one column per step (column-major, n rows), so nothing of size n^2 is allocated.
        let mut q: Vec<f64> = Vec::with_capacity(n * (4 * nv + 64).min(n + 1));
        let mut mq: Vec<f64> = Vec::with_capacity(q.capacity());
        let mut alpha = Vec::new();
        let mut beta: Vec<f64> = Vec::new();
        let start: Vec<f64> = (0..n).map(|i| 1.0 + 0.5 * (0.7 * i as f64).sin()).collect();
        let mut mv = vec![0.0; n];
        p.m.mul_vec(&start, &mut mv);
        let s = start
            .iter()
            .zip(&mv)
            .map(|(a, b)| a * b)
            .sum::<f64>()
            .sqrt();
        q.extend(start.iter().map(|v| v / s));
        mq.extend(mv.iter().map(|v| v / s));
        let mut w = vec![0.0; n];
        let mut coef = vec![0.0; n + 1];
        let mut check_at = (2 * nv + 30).min(n);
        for j in 0..n {
            let cols = j + 1;
            let mq_j = &mq[j * n..cols * n];
            w.copy_from_slice(mq_j);
            factor.solve_in_place(&mut w);
            // alpha_j = q_j^T M Op q_j.
            let a_j: f64 = mq_j.iter().zip(&w).map(|(a, b)| a * b).sum();
            // Full reorthogonalisation (twice) against q_0..q_j in the M inner product.
            for _ in 0..2 {
                project_out(&q, &mq, cols, &mut w, &mut coef);
            }
            alpha.push(a_j);
            p.m.mul_vec(&w, &mut mv);
            let b_j = w
                .iter()
                .zip(&mv)
                .map(|(a, b)| a * b)
                .sum::<f64>()
                .max(0.0)
                .sqrt();
            let steps = j + 1;
            if steps >= check_at || steps == n || b_j <= f64::EPSILON * a_j.abs() {
                if let Some(sol) = self.ritz(p, nv, &q, &alpha, &beta, b_j) {
                    return Some(sol);
                }
                if steps == n || b_j <= f64::EPSILON * a_j.abs() {
                    return None;
                }
                check_at = (check_at + nv / 2 + 10).min(n);
            }
            beta.push(b_j);
            q.extend(w.iter().map(|v| v / b_j));
            mq.extend(mv.iter().map(|v| v / b_j));
        }
        None
    }

    /// Ritz pairs of the Lanczos tridiagonal; Some if the wanted ones have converged.
    fn ritz(
        &self,
        p: &BandedPencil,
        nv: usize,
        q: &[f64],
        alpha: &[f64],
        beta: &[f64],
        b_last: f64,
    ) -> Option<Solution> {
        let m = alpha.len();
        if m < nv {
            return None;
        }
        let mut t = Mat::zeros(m, m);
        for i in 0..m {
            t.set(i, i, alpha[i]);
            if i + 1 < m {
                t.set(i, i + 1, beta[i]);
                t.set(i + 1, i, beta[i]);
            }
        }
        let (theta, s) = sym_eigen(&t).ok()?;
        // Largest theta = lowest lambda; estimated residual |b_last s_{m-1,i}| <= tol theta_i.
        let wanted: Vec<usize> = (m - nv..m).rev().collect();
        let converged = wanted
            .iter()
            .all(|&i| (b_last * s.get(m - 1, i)).abs() <= 1e-3 * self.tol.sqrt() * theta[i].abs());
        if !converged {
            return None;
        }
        let mut sel = Mat::zeros(m, nv);
        for (c, &i) in wanted.iter().enumerate() {
            sel.col_mut(c).copy_from_slice(s.col(i));
        }
        let n = p.n();
        let mut x = Mat::zeros(n, nv);
        faer::linalg::matmul::matmul(
            x.view_mut(),
            Accum::Replace,
            MatRef::from_column_major_slice(&q[..n * m], n, m),
            sel.view(),
            1.0,
            Par::Seq,
        );
        let (vals, v) = rayleigh_ritz(p, &x, nv)?;
        self.accept(p, vals, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BoundaryMode, FokkerPlanck, Grid};

    /// The paper's double well on `grid`, with F changed by `eps` cos(pi x).
    fn double_well(grid: &Grid, eps: f64) -> FokkerPlanck {
        let phi = |x: f64| {
            let s = x / 0.6;
            2.0 * (s.powi(4) - 2.0 * s * s)
                - eps * (std::f64::consts::PI * x).sin() / std::f64::consts::PI
        };
        let mut peq: Vec<f64> = grid.x().iter().map(|&x| (-phi(x)).exp()).collect();
        let z: f64 = peq.iter().zip(grid.w()).map(|(p, w)| p * w).sum();
        peq.iter_mut().for_each(|p| *p /= z);
        FokkerPlanck::new(grid, &peq, 10.0, BoundaryMode::Reflecting).unwrap()
    }

    /// The warm path itself (not its cold fallback) converges after a gradient-step-sized
    /// change and agrees with a cold solve of the changed problem.
    #[test]
    fn warm_start_converges_without_falling_back() {
        let grid = Grid::new(-1.0, 1.0, 256, 8).unwrap();
        let solver = BandedSolver::default();
        let nv = 64;
        let before = solver
            .cold(double_well(&grid, 0.0).problem().pencil(), nv)
            .unwrap();
        let changed = double_well(&grid, 1e-3);
        let p = changed.problem().pencil();
        let warm = solver
            .warm(p, nv, &before.basis)
            .expect("warm start converged");
        let cold = solver.cold(p, nv).unwrap();
        for (w, c) in warm.values.iter().zip(&cold.values) {
            assert!((w - c).abs() <= 1e-9 * c.abs().max(1.0), "{w} vs {c}");
        }
    }
}
