//! Eigen solvers for the lowest eigenpairs of a symmetric-definite banded pencil, behind one
//! trait so that users can swap them.

use crate::SpectralError;
use crate::dense::{Mat, gemm, generalized_eigen, matmul, sym_eigen, symmetrize};
use crate::pencil::BandedPencil;
use crate::vector::{dot, norm};
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
/// (O(n^3), all modes), then, when at most half of the modes are kept, one Rayleigh–Ritz step
/// on the kept modes with the banded products. Ignores warm starts.
///
/// Why the Rayleigh–Ritz step: the dense decomposition of C = L^-1 K L^-T is backward stable
/// in norm only, so every eigenvalue carries an absolute error of order eps ||C|| ~ eps
/// lambda_max, and lambda_max grows like N^2 (about 1e9 on the paper's grid, N = 1793, where
/// the zero mode came out as 8.6e-8). The eigenvectors are accurate to eps lambda_max / gap,
/// so their Rayleigh quotients (second order in that error) under the banded K and M, whose
/// products round entry by entry, are accurate to the rounding of those products instead
/// (about 1e-9 for the zero mode there, as scipy's dense solve in the original package).
#[derive(Debug, Clone, Copy, Default)]
pub struct DenseSolver;

impl EigenSolver for DenseSolver {
    fn solve(
        &self,
        pencil: &BandedPencil,
        nv: usize,
        _warm: Option<&Mat>,
    ) -> Result<Solution, SpectralError> {
        let sol = dense_solution(pencil, nv)?;
        if 2 * nv > pencil.n() {
            // Rayleigh–Ritz on most of the space: the projected matrix has norm ~ lambda_max
            // again, so the step would cost a second dense solve and gain nothing.
            return Ok(sol);
        }
        let (kx, mx) = pencil.k.mul_mat_pair(&pencil.m, &sol.vectors);
        let (values, mut vectors) = rayleigh_ritz(&sol.vectors, &kx, &mx, nv).ok_or_else(|| {
            SpectralError::Solver("Rayleigh-Ritz refinement of the dense solution".into())
        })?;
        crate::dense::fix_signs(&mut vectors);
        Ok(Solution {
            values,
            basis: vectors.clone(),
            vectors,
        })
    }
}

/// The dense decomposition alone (no refinement): the fallback of [`BandedSolver`], whose bits
/// every fit depends on.
fn dense_solution(pencil: &BandedPencil, nv: usize) -> Result<Solution, SpectralError> {
    check_pencil(pencil)?;
    let (values, vectors) = generalized_eigen(&pencil.k.to_dense(), &pencil.m.to_dense(), nv)?;
    Ok(Solution {
        values,
        basis: vectors.clone(),
        vectors,
    })
}

/// The fast default. Cold start: shift-invert Lanczos (full reorthogonalisation) on a banded
/// LDL^T factorisation of K - sigma M, sigma below the spectrum, then a Rayleigh–Ritz clean-up.
/// Warm start (fit loops): Rayleigh-quotient iteration from the previous modes (one banded
/// factorisation per mode, eight modes per SIMD pass, in parallel), accepted as it is when the
/// modes come out M-orthogonal, else with Rayleigh–Ritz steps, until every residual is below
/// `tol`. Every result is validated by Sylvester's inertia (exactly nv eigenvalues lie
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
            return dense_solution(pencil, nv);
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
            None => dense_solution(pencil, nv),
        }
    }
}

/// Rayleigh–Ritz: the pencil's eigenpairs within span(X), lowest `nv`, given K X and M X.
fn rayleigh_ritz(x: &Mat, kx: &Mat, mx: &Mat, nv: usize) -> Option<(Vec<f64>, Mat)> {
    let c = x.ncols();
    let mut kr = Mat::zeros(c, c);
    let mut mr = Mat::zeros(c, c);
    matmul(&mut kr, x, true, kx, false, 1.0, 0.0);
    matmul(&mut mr, x, true, mx, false, 1.0, 0.0);
    symmetrize(&mut kr);
    symmetrize(&mut mr);
    let (vals, s) = generalized_eigen(&kr, &mr, nv).ok()?;
    let mut v = Mat::zeros(x.nrows(), nv);
    matmul(&mut v, x, false, &s, false, 1.0, 0.0);
    Some((vals, v))
}

/// w -= Q (M Q)^T w over the first `cols` columns of the column-major bases `q`, `mq` (n rows
/// each, n = w.len()): one Gram–Schmidt pass in the M inner product, as two matrix-vector
/// products. `coef` (>= cols long) is scratch.
fn project_out(q: &[f64], mq: &[f64], cols: usize, w: &mut [f64], coef: &mut [f64]) {
    let n = w.len();
    let qv = MatRef::from_column_major_slice(&q[..n * cols], n, cols);
    let mqv = MatRef::from_column_major_slice(&mq[..n * cols], n, cols);
    gemm(
        MatMut::from_column_major_slice_mut(&mut coef[..cols], cols, 1),
        Accum::Replace,
        mqv.transpose(),
        MatRef::from_column_major_slice(w, n, 1),
        1.0,
        Par::Seq,
    );
    gemm(
        MatMut::from_column_major_slice_mut(w, n, 1),
        Accum::Add,
        qv,
        MatRef::from_column_major_slice(&coef[..cols], cols, 1),
        -1.0,
        Par::Seq,
    );
}

impl BandedSolver {
    /// True if every pair's backward error ||K v - lambda M v|| / ((||K|| + |lambda| ||M||) ||v||)
    /// (infinity norms of the matrices, 2-norms of vectors) is below tol. This scale, unlike
    /// |lambda| ||M v||, is reachable in floating point for the zero mode of reflecting
    /// problems and on fine grids, where ||K|| / ||M|| grows like N^2.
    fn converged(&self, p: &BandedPencil, vals: &[f64], v: &Mat) -> bool {
        let (kv, mv) = p.k.mul_mat_pair(&p.m, v);
        self.residuals_pass(p, vals, v, &kv, &mv)
    }

    /// [`Self::converged`] given K V and M V.
    fn residuals_pass(&self, p: &BandedPencil, vals: &[f64], v: &Mat, kv: &Mat, mv: &Mat) -> bool {
        let (k_norm, m_norm) = (p.k.norm_inf(), p.m.norm_inf());
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

    /// The Rayleigh quotients and M-norms of the columns of Y, if the quotients ascend strictly,
    /// every residual passes and the columns are M-orthogonal to `ORTHOGONALITY` (as
    /// Rayleigh-quotient iteration leaves well-separated modes after a small change of the
    /// pencil): then the M-normalised Y are eigenvectors without a Rayleigh–Ritz step.
    fn pairs_without_ritz(
        &self,
        p: &BandedPencil,
        y: &Mat,
        ky: &Mat,
        my: &Mat,
    ) -> Option<(Vec<f64>, Vec<f64>)> {
        const ORTHOGONALITY: f64 = 1e-10;
        let c = y.ncols();
        let mut gram = Mat::zeros(c, c);
        matmul(&mut gram, y, true, my, false, 1.0, 0.0);
        let vals: Vec<f64> = (0..c)
            .map(|j| dot(y.col(j), ky.col(j)) / gram.get(j, j))
            .collect();
        let ascending = vals.windows(2).all(|w| w[0] < w[1]);
        let orthogonal = (0..c).all(|j| {
            (0..j).all(|i| {
                gram.get(i, j).abs() <= ORTHOGONALITY * (gram.get(i, i) * gram.get(j, j)).sqrt()
            })
        });
        if !(ascending && orthogonal && self.residuals_pass(p, &vals, y, ky, my)) {
            return None;
        }
        Some((vals, (0..c).map(|j| gram.get(j, j).sqrt()).collect()))
    }

    /// True if exactly nv eigenvalues lie below lambda_{nv-1} (1 + 1e-8): none was missed.
    fn inertia_ok(p: &BandedPencil, vals: &[f64]) -> bool {
        let top = vals[vals.len() - 1];
        let cut = top + 1e-8 * top.abs().max(1e-300);
        match p.k.ldlt_shifted(cut, &p.m) {
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

    /// Warm start: sweeps of Rayleigh-quotient iteration (one banded LDL^T per mode), until the
    /// residuals pass. The first sweep starts from the previous modes with their Rayleigh
    /// quotients under the new pencil as shifts (accurate to second order in the change of the
    /// pencil), so it needs no Rayleigh–Ritz step before it; after a sweep the vectors are
    /// accepted as they are if they pass [`Self::pairs_without_ritz`], else a Rayleigh–Ritz
    /// step cleans them up and gives the next sweep's shifts.
    fn warm(&self, p: &BandedPencil, nv: usize, basis: &Mat) -> Option<Solution> {
        let mut v = basis.first_cols(nv);
        let (kv, mv) = p.k.mul_mat_pair(&p.m, &v);
        let mut shifts: Vec<f64> = (0..nv)
            .map(|j| dot(v.col(j), kv.col(j)) / dot(v.col(j), mv.col(j)))
            .collect();
        let mut mv = Some(mv);
        for _ in 0..self.warm_sweeps {
            // y_j = (K - shift_j M)^-1 M v_j, normalised.
            let mut y = mv.take().unwrap_or_else(|| p.m.mul_mat(&v));
            p.k.solve_shifted(&p.m, &shifts, y.as_mut_slice())?;
            for j in 0..nv {
                let col = y.col_mut(j);
                let s = norm(col);
                if !(s.is_finite() && s > 0.0) {
                    return None;
                }
                col.iter_mut().for_each(|x| *x /= s);
            }
            let (ky, my) = p.k.mul_mat_pair(&p.m, &y);
            if let Some((vals, norms)) = self.pairs_without_ritz(p, &y, &ky, &my) {
                for (j, s) in norms.iter().enumerate() {
                    y.col_mut(j).iter_mut().for_each(|x| *x /= s);
                }
                return Self::accept_converged(p, vals, y);
            }
            let vals;
            (vals, v) = rayleigh_ritz(&y, &ky, &my, nv)?;
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
            match p.k.ldlt_shifted(sigma, &p.m) {
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
            // The three-term recurrence, then full reorthogonalisation against q_0..q_j in the
            // M inner product; a second pass only if the first removed more than half of the
            // norm (Kahan–Parlett "twice is enough").
            let q_j = &q[j * n..cols * n];
            w.iter_mut().zip(q_j).for_each(|(w, q)| *w -= a_j * q);
            if let Some(&b_prev) = beta.last() {
                let q_prev = &q[(j - 1) * n..j * n];
                w.iter_mut().zip(q_prev).for_each(|(w, q)| *w -= b_prev * q);
            }
            let m_norm = |w: &[f64], mv: &mut [f64]| {
                p.m.mul_vec(w, mv);
                dot(w, mv).max(0.0).sqrt()
            };
            let recurrence = m_norm(&w, &mut mv);
            project_out(&q, &mq, cols, &mut w, &mut coef);
            let mut b_j = m_norm(&w, &mut mv);
            if b_j < std::f64::consts::FRAC_1_SQRT_2 * recurrence {
                project_out(&q, &mq, cols, &mut w, &mut coef);
                b_j = m_norm(&w, &mut mv);
            }
            alpha.push(a_j);
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
        gemm(
            x.view_mut(),
            Accum::Replace,
            MatRef::from_column_major_slice(&q[..n * m], n, m),
            sel.view(),
            1.0,
            Par::Seq,
        );
        let (vals, v) = {
            let (kx, mx) = p.k.mul_mat_pair(&p.m, &x);
            rayleigh_ritz(&x, &kx, &mx, nv)
        }?;
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
    fn cold_start_converges_without_falling_back() {
        // Many modes on a small grid: the Lanczos basis grows to a large part of N, where
        // a loss of orthogonality would show as a failed (None) cold solve.
        let grid = Grid::new(-1.0, 1.0, 128, 8).unwrap();
        let fp = double_well(&grid, 0.0);
        let p = fp.problem().pencil();
        for nv in [16, 128] {
            let cold = BandedSolver::default()
                .cold(p, nv)
                .expect("cold start converged");
            let dense = DenseSolver.solve(p, nv, None).unwrap();
            for (c, d) in cold.values.iter().zip(&dense.values) {
                assert!(
                    (c - d).abs() <= 1e-9 * d.abs().max(1.0),
                    "nv {nv}: {c} vs {d}"
                );
            }
        }
    }

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
