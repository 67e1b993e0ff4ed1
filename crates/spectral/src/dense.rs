//! Small dense linear algebra on column-major matrices. faer does the work; it is used only
//! inside this crate, so other crates depend on this module's stable names instead.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
use faer::{Accum, MatMut, MatRef, Par};
use serde::{Deserialize, Serialize};

use crate::SpectralError;

/// A column-major f64 matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mat {
    nrows: usize,
    ncols: usize,
    data: Vec<f64>,
}

impl Mat {
    /// A zero matrix.
    pub fn zeros(nrows: usize, ncols: usize) -> Mat {
        Mat {
            nrows,
            ncols,
            data: vec![0.0; nrows * ncols],
        }
    }
    /// The identity.
    pub fn identity(n: usize) -> Mat {
        let mut m = Mat::zeros(n, n);
        for i in 0..n {
            m.set(i, i, 1.0);
        }
        m
    }
    /// A matrix from column-major data; panics if the length is not nrows * ncols.
    pub fn from_col_major(nrows: usize, ncols: usize, data: Vec<f64>) -> Mat {
        assert_eq!(
            data.len(),
            nrows * ncols,
            "Mat::from_col_major: wrong length"
        );
        Mat { nrows, ncols, data }
    }
    /// The column-major entries, giving up the matrix (e.g. to reuse the allocation).
    pub fn into_col_major(self) -> Vec<f64> {
        self.data
    }
    /// Rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }
    /// Columns.
    pub fn ncols(&self) -> usize {
        self.ncols
    }
    /// Column j.
    pub fn col(&self, j: usize) -> &[f64] {
        &self.data[j * self.nrows..(j + 1) * self.nrows]
    }
    /// Column j, mutable.
    pub fn col_mut(&mut self, j: usize) -> &mut [f64] {
        &mut self.data[j * self.nrows..(j + 1) * self.nrows]
    }
    /// Entry (i, j).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[j * self.nrows + i]
    }
    /// Sets entry (i, j).
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[j * self.nrows + i] = v;
    }
    /// All entries, column-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }
    /// All entries, column-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }
    /// The transpose.
    pub fn transpose(&self) -> Mat {
        let mut t = Mat::zeros(self.ncols, self.nrows);
        for j in 0..self.ncols {
            for i in 0..self.nrows {
                t.set(j, i, self.get(i, j));
            }
        }
        t
    }
    /// The first `k` columns.
    pub fn first_cols(&self, k: usize) -> Mat {
        Mat::from_col_major(self.nrows, k, self.data[..k * self.nrows].to_vec())
    }
    pub(crate) fn view(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.data, self.nrows, self.ncols)
    }
    pub(crate) fn view_mut(&mut self) -> MatMut<'_, f64> {
        MatMut::from_column_major_slice_mut(&mut self.data, self.nrows, self.ncols)
    }
}

/// Products at least this large (flops) use both cores; smaller ones run sequentially. The
/// parallel split is over output blocks, so results do not depend on the thread count.
const PARALLEL_FLOPS: usize = 1 << 24;

/// out = alpha op(a) op(b) + beta out, op = transpose when the flag is set.
pub fn matmul(out: &mut Mat, a: &Mat, a_t: bool, b: &Mat, b_t: bool, alpha: f64, beta: f64) {
    let av = if a_t { a.view().transpose() } else { a.view() };
    let bv = if b_t { b.view().transpose() } else { b.view() };
    assert_eq!(av.ncols(), bv.nrows(), "matmul: inner dimensions differ");
    assert_eq!(
        (out.nrows, out.ncols),
        (av.nrows(), bv.ncols()),
        "matmul: output shape"
    );
    let flops = av.nrows() * av.ncols() * bv.ncols();
    let par = if flops >= PARALLEL_FLOPS {
        Par::rayon(0)
    } else {
        Par::Seq
    };
    let accum = if beta == 0.0 {
        Accum::Replace
    } else {
        if beta != 1.0 {
            out.data.iter_mut().for_each(|v| *v *= beta);
        }
        Accum::Add
    };
    gemm(out.view_mut(), accum, av, bv, alpha, par);
}

/// out = a b^T for column-major slices, sequentially: `a` is rows x inner, `b` is cols x inner,
/// `out` (rows x cols) is overwritten.
pub fn matmul_abt_seq(
    out: &mut [f64],
    a: &[f64],
    b: &[f64],
    rows: usize,
    cols: usize,
    inner: usize,
) {
    gemm(
        MatMut::from_column_major_slice_mut(out, rows, cols),
        Accum::Replace,
        MatRef::from_column_major_slice(a, rows, inner),
        MatRef::from_column_major_slice(b, cols, inner).transpose(),
        1.0,
        Par::Seq,
    );
}

/// faer's matrix product, then [`clear_avx_upper`]: every product in the workspace goes
/// through here.
pub(crate) fn gemm(
    out: MatMut<'_, f64>,
    accum: Accum,
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    alpha: f64,
    par: Par,
) {
    faer::linalg::matmul::matmul(out, accum, a, b, alpha, par);
    clear_avx_upper();
}

/// Marks the upper halves of the AVX registers clean on this thread (`vzeroupper`). faer's
/// matrix kernels return with them dirty, and on many x86 CPUs every later SSE instruction on
/// the thread then pays a transition penalty until some AVX function returns: measured here,
/// glibc's `exp` took 75 ns instead of 8 ns after a product.
pub fn clear_avx_upper() {
    #[cfg(target_arch = "x86_64")]
    if let Some(v3) = pulp::x86::V3::try_new() {
        v3.avx._mm256_zeroupper();
    }
}

/// Eigen-decomposition of a symmetric matrix (the lower triangle is read): eigenvalues
/// ascending, orthonormal eigenvectors as columns with deterministic signs (the entry of
/// largest magnitude of each is positive).
pub fn sym_eigen(a: &Mat) -> Result<(Vec<f64>, Mat), SpectralError> {
    if a.nrows != a.ncols {
        return Err(SpectralError::Solver(
            "sym_eigen needs a square matrix".into(),
        ));
    }
    if a.data.iter().any(|v| !v.is_finite()) {
        return Err(SpectralError::NonFinite("matrix for sym_eigen".into()));
    }
    // Sequential on purpose, like the Cholesky factor below: faer's solver types run on its
    // global parallelism (all rayon threads), and its parallel kernels split the work by
    // thread count, so the last bits of a fit would depend on the number of threads. The
    // matrices are small in the fit loops (nv x nv, Rayleigh-Ritz blocks, whole grids of at
    // most BandedSolver::dense_below nodes); only the dense solver on a large grid (a
    // fallback, or `loglik --dense`) gives up some speed.
    let n = a.nrows;
    let mut vectors = Mat::zeros(n, n);
    let mut s = faer::diag::Diag::<f64>::zeros(n);
    let mut mem = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        Par::Seq,
        Default::default(),
    ));
    self_adjoint_evd(
        a.view(),
        s.as_mut(),
        Some(vectors.view_mut()),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| SpectralError::Solver(format!("symmetric eigen decomposition: {e:?}")))?;
    clear_avx_upper();
    let s = s.as_ref();
    let values: Vec<f64> = (0..n).map(|i| s[i]).collect();
    fix_signs(&mut vectors);
    Ok((values, vectors))
}

/// Flips each column so that its entry of largest magnitude is positive (see [`sign_anchor`],
/// tolerance 1e-12).
pub fn fix_signs(v: &mut Mat) {
    for j in 0..v.ncols {
        let col = v.col_mut(j);
        if col[sign_anchor(col, 1e-12)] < 0.0 {
            col.iter_mut().for_each(|x| *x = -*x);
        }
    }
}

/// The entry that fixes a vector's sign: the first whose magnitude is within relative `tol` of
/// the largest (so that round-off cannot move it between near-equal extremes). 0 if empty.
pub fn sign_anchor(col: &[f64], tol: f64) -> usize {
    // Four running maxima (max is exact, so the order does not matter).
    let mut m = [0.0f64; 4];
    let chunks = col.chunks_exact(4);
    let tail = chunks
        .remainder()
        .iter()
        .fold(0.0f64, |a, x| a.max(x.abs()));
    for c in chunks {
        for l in 0..4 {
            m[l] = m[l].max(c[l].abs());
        }
    }
    let max = m.iter().fold(tail, |a, &x| a.max(x));
    col.iter()
        .position(|x| x.abs() * (1.0 + tol) >= max)
        .unwrap_or(0)
}

/// Lower Cholesky factor L of a symmetric positive-definite matrix (A = L L^T).
/// Sequential, for results independent of the thread count (see [`sym_eigen`]).
pub(crate) fn cholesky(a: &Mat) -> Result<Mat, SpectralError> {
    let n = a.nrows;
    let mut l = a.clone();
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(
        n,
        Par::Seq,
        Default::default(),
    ));
    cholesky_in_place(
        l.view_mut(),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|_| SpectralError::NotPositiveDefinite("mass matrix".into()))?;
    clear_avx_upper();
    for j in 1..n {
        for i in 0..j {
            l.set(i, j, 0.0);
        }
    }
    Ok(l)
}

/// Solves L X = B in place (L lower triangular).
pub(crate) fn solve_lower(l: &Mat, b: &mut Mat) {
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(
        l.view(),
        b.view_mut(),
        Par::Seq,
    );
    clear_avx_upper();
}

/// Solves L^T X = B in place (L lower triangular).
pub(crate) fn solve_lower_transpose(l: &Mat, b: &mut Mat) {
    faer::linalg::triangular_solve::solve_upper_triangular_in_place(
        l.view().transpose(),
        b.view_mut(),
        Par::Seq,
    );
    clear_avx_upper();
}

/// Replaces a square matrix that is symmetric up to round-off by its symmetric part: a_ij and
/// a_ji both become (a_ij + a_ji) / 2.
pub fn symmetrize(a: &mut Mat) {
    let n = a.nrows();
    for j in 0..n {
        for i in 0..j {
            let v = 0.5 * (a.get(i, j) + a.get(j, i));
            a.set(i, j, v);
            a.set(j, i, v);
        }
    }
}

/// Lowest eigenpairs of the dense symmetric-definite pencil K x = lambda M x: eigenvalues
/// ascending, eigenvectors M-orthonormal with deterministic signs. Returns the first `nv`.
pub(crate) fn generalized_eigen(
    k: &Mat,
    m: &Mat,
    nv: usize,
) -> Result<(Vec<f64>, Mat), SpectralError> {
    let l = cholesky(m)?;
    // C = L^-1 K L^-T.
    let mut c = k.clone();
    solve_lower(&l, &mut c);
    let mut ct = c.transpose();
    solve_lower(&l, &mut ct);
    symmetrize(&mut ct);
    let (vals, y) = sym_eigen(&ct)?;
    let mut x = y.first_cols(nv);
    solve_lower_transpose(&l, &mut x);
    fix_signs(&mut x);
    Ok((vals[..nv].to_vec(), x))
}
