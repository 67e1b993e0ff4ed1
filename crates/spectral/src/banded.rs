//! Symmetric banded matrices: storage, products, and LDL^T factorisation (no pivoting) with
//! its inertia, all O(n b^2) or better.

use crate::dense::Mat;
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// A symmetric n x n matrix with half-bandwidth `b`, storing the upper band: entry (i, i + d)
/// for d = 0..=b at `data[i * (b + 1) + d]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BandSym {
    n: usize,
    b: usize,
    data: Vec<f64>,
}

impl BandSym {
    /// A zero matrix.
    pub fn zeros(n: usize, b: usize) -> BandSym {
        BandSym {
            n,
            b,
            data: vec![0.0; n * (b + 1)],
        }
    }
    /// Size.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Half-bandwidth.
    pub fn bandwidth(&self) -> usize {
        self.b
    }
    /// Entry (i, j) (0 outside the band).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let (i, j) = if i <= j { (i, j) } else { (j, i) };
        if j - i > self.b {
            0.0
        } else {
            self.data[i * (self.b + 1) + (j - i)]
        }
    }
    /// Adds v to entries (i, j) and (j, i); panics outside the band.
    pub fn add(&mut self, i: usize, j: usize, v: f64) {
        let (i, j) = if i <= j { (i, j) } else { (j, i) };
        assert!(j - i <= self.b, "BandSym::add outside the band");
        self.data[i * (self.b + 1) + (j - i)] += v;
    }
    /// True if every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }
    /// The infinity norm (largest absolute row sum), O(n b).
    pub fn norm_inf(&self) -> f64 {
        let mut rows = vec![0.0f64; self.n];
        for i in 0..self.n {
            for d in 0..=self.b.min(self.n - 1 - i) {
                let v = self.data[i * (self.b + 1) + d].abs();
                rows[i] += v;
                if d > 0 {
                    rows[i + d] += v;
                }
            }
        }
        rows.into_iter().fold(0.0, f64::max)
    }
    /// The dense matrix.
    pub fn to_dense(&self) -> Mat {
        let mut m = Mat::zeros(self.n, self.n);
        for i in 0..self.n {
            for j in i..(i + self.b + 1).min(self.n) {
                let v = self.get(i, j);
                m.set(i, j, v);
                m.set(j, i, v);
            }
        }
        m
    }
    /// y = A x.
    pub fn mul_vec(&self, x: &[f64], y: &mut [f64]) {
        assert!(
            x.len() == self.n && y.len() == self.n,
            "BandSym::mul_vec: wrong length"
        );
        by_bandwidth!(self.b, mul_vec_kernel(&self.data, x, y))
    }
    /// Y = A X for every column of X. The band is laid out by diagonals once; then each column
    /// is 2b + 1 contiguous multiply-adds, compiled for the widest instruction set the CPU
    /// offers (pulp dispatch); groups of columns run in parallel (rayon). Every entry is summed
    /// in the same order on every CPU and thread count.
    pub fn mul_mat(&self, x: &Mat) -> Mat {
        self.products(None, x).0
    }
    /// (A X, B X) for A = self, B = other (same size) in one pass over X; each product's bits are
    /// those of [`BandSym::mul_mat`].
    pub fn mul_mat_pair(&self, other: &BandSym, x: &Mat) -> (Mat, Mat) {
        let (a, b) = self.products(Some(other), x);
        (a, b.expect("second product requested"))
    }
    fn products(&self, other: Option<&BandSym>, x: &Mat) -> (Mat, Option<Mat>) {
        let n = self.n;
        assert!(
            x.nrows() == n && other.is_none_or(|o| o.n == n),
            "BandSym::mul_mat: wrong sizes"
        );
        let c = x.ncols();
        let mut ya = Mat::zeros(n, c);
        let mut yb = other.map(|_| Mat::zeros(n, c));
        if n == 0 {
            return (ya, yb);
        }
        let da = self.diagonals();
        let db = other.map(BandSym::diagonals).unwrap_or_default();
        struct Op<'a>(usize, [&'a [f64]; 2], &'a [f64], [&'a mut [f64]; 2]);
        impl WithSimd for Op<'_> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: Simd>(self, _: S) {
                let Op(n, diags, x, ys) = self;
                for (diags, y) in diags.into_iter().zip(ys) {
                    if !y.is_empty() {
                        by_bandwidth!(diags.len() / n - 1, mul_diagonals(diags, x, y));
                    }
                }
            }
        }
        // Columns in groups, one task each (each column's bits do not depend on the grouping).
        let group = n * COLUMN_GROUP;
        let tasks = c.div_ceil(COLUMN_GROUP);
        let yb_groups: Vec<&mut [f64]> = match yb.as_mut() {
            Some(yb) => yb.as_mut_slice().chunks_mut(group).collect(),
            None => (0..tasks).map(|_| &mut [][..]).collect(),
        };
        x.as_slice()
            .par_chunks(group)
            .zip(ya.as_mut_slice().par_chunks_mut(group))
            .zip(yb_groups)
            .for_each(|((x, ya), yb)| Arch::new().dispatch(Op(n, [&da, &db], x, [ya, yb])));
        (ya, yb)
    }
    /// The band by diagonals: `out[d * n + i]` = A[i][i + d] for i < n - d, d = 0..=min(b, n - 1).
    fn diagonals(&self) -> Vec<f64> {
        let n = self.n;
        let b = self.b.min(n.saturating_sub(1));
        let mut diags = vec![0.0; (b + 1) * n];
        for (i, row) in self.data.chunks_exact(self.b + 1).enumerate() {
            for d in 0..=b.min(n - 1 - i) {
                diags[d * n + i] = row[d];
            }
        }
        diags
    }
    /// The same matrix stored with half-bandwidth `b` >= its own.
    fn widened(&self, b: usize) -> BandSym {
        let mut out = BandSym::zeros(self.n, b);
        for i in 0..self.n {
            for j in i..(i + self.b + 1).min(self.n) {
                out.data[i * (b + 1) + (j - i)] = self.get(i, j);
            }
        }
        out
    }
    /// self - shift * other (same size; bandwidth the larger of the two).
    pub fn shifted(&self, shift: f64, other: &BandSym) -> BandSym {
        if self.b != other.b {
            let b = self.b.max(other.b);
            return self.widened(b).shifted(shift, &other.widened(b));
        }
        BandSym {
            n: self.n,
            b: self.b,
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(a, o)| a - shift * o)
                .collect(),
        }
    }
    /// LDL^T factorisation without pivoting. `None` if a pivot is zero or not finite.
    pub fn ldlt(&self) -> Option<BandLdlt> {
        BandLdlt::factor(self.n, self.b, self.data.clone())
    }
    /// LDL^T factorisation of self - shift * other (factored in the storage of the shifted
    /// matrix, no further copy).
    pub fn ldlt_shifted(&self, shift: f64, other: &BandSym) -> Option<BandLdlt> {
        let s = self.shifted(shift, other);
        BandLdlt::factor(s.n, s.b, s.data)
    }
}

/// Calls `$kernel::<B>(b, args...)` with `B` = `b` a constant for the half-bandwidths of
/// np = 3..=12 (b = np - 1), so that the inlined kernels' inner loops have constant length and
/// unroll; other bandwidths run the same code with `B` = 0 and `b` known only at run time.
macro_rules! by_bandwidth {
    ($b:expr, $kernel:ident($($arg:expr),*)) => {
        match $b {
            2 => $kernel::<2>(2, $($arg),*),
            3 => $kernel::<3>(3, $($arg),*),
            4 => $kernel::<4>(4, $($arg),*),
            5 => $kernel::<5>(5, $($arg),*),
            6 => $kernel::<6>(6, $($arg),*),
            7 => $kernel::<7>(7, $($arg),*),
            8 => $kernel::<8>(8, $($arg),*),
            9 => $kernel::<9>(9, $($arg),*),
            10 => $kernel::<10>(10, $($arg),*),
            11 => $kernel::<11>(11, $($arg),*),
            b => $kernel::<0>(b, $($arg),*),
        }
    };
}
use by_bandwidth;

mod shifted;
pub use shifted::SHIFT_LANES;

/// y = A x for the upper band `data` (rows of b + 1) of A.
#[inline(always)]
fn mul_vec_kernel<const B: usize>(b: usize, data: &[f64], x: &[f64], y: &mut [f64]) {
    let n = x.len();
    y.fill(0.0);
    for (i, row) in data.chunks_exact(b + 1).enumerate() {
        let reach = b.min(n - 1 - i);
        let xi = x[i];
        // Row i of the upper band times x, and its transpose scattered below the diagonal.
        let mut acc = row[0] * xi;
        for ((a, xv), yv) in row[1..=reach]
            .iter()
            .zip(&x[i + 1..=i + reach])
            .zip(&mut y[i + 1..=i + reach])
        {
            acc += a * xv;
            *yv += a * xi;
        }
        y[i] += acc;
    }
}

/// Columns per parallel task of [`BandSym::mul_mat`].
const COLUMN_GROUP: usize = 8;

/// Rows per block of [`mul_diagonals`]: a block of every diagonal stays in the level-1 cache
/// while all the columns pass through it.
const ROW_BLOCK: usize = 256;

/// Y = A X (column-major, n rows) with A given by its diagonals (`diags[d * n + i]` =
/// A[i][i + d], d = 0..=b). Each y_i is A_ii x_i, then for d = 1, 2, ..., b the terms
/// A[i][i + d] x[i + d] and A[i - d][i] x[i - d] (those inside the matrix), in that order.
/// With `B` = b > 0 the rows with all terms inside are summed in registers, 32 at a time
/// (independent dependency chains).
#[inline(always)]
fn mul_diagonals<const B: usize>(b: usize, diags: &[f64], x: &[f64], y: &mut [f64]) {
    const LANES: usize = 32;
    let n = diags.len() / (b + 1);
    let (inner_lo, inner_hi) = if B > 0 && n > 2 * B {
        (B, n - B)
    } else {
        (n, n)
    };
    for r0 in (0..n).step_by(ROW_BLOCK) {
        let r1 = (r0 + ROW_BLOCK).min(n);
        let (lo, hi) = (inner_lo.clamp(r0, r1), inner_hi.clamp(r0, r1));
        let chunks_end = lo + (hi.max(lo) - lo) / LANES * LANES;
        for (xc, yc) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
            for i in (r0..lo).chain(chunks_end..r1) {
                yc[i] = diagonal_row(b, n, diags, xc, i);
            }
            for i0 in (lo..chunks_end).step_by(LANES) {
                let lanes = |v: &[f64], at: usize| -> [f64; LANES] {
                    v[at..at + LANES].try_into().expect("LANES entries")
                };
                let (a, xv) = (lanes(diags, i0), lanes(xc, i0));
                let mut acc: [f64; LANES] = std::array::from_fn(|l| a[l] * xv[l]);
                for d in 1..=B {
                    let (a_up, x_up) = (lanes(diags, d * n + i0), lanes(xc, i0 + d));
                    let (a_lo, x_lo) = (lanes(diags, d * n + i0 - d), lanes(xc, i0 - d));
                    for l in 0..LANES {
                        acc[l] += a_up[l] * x_up[l];
                        acc[l] += a_lo[l] * x_lo[l];
                    }
                }
                yc[i0..i0 + LANES].copy_from_slice(&acc);
            }
        }
    }
}

/// Row i of [`mul_diagonals`], term by term.
#[inline(always)]
fn diagonal_row(b: usize, n: usize, diags: &[f64], x: &[f64], i: usize) -> f64 {
    let mut acc = diags[i] * x[i];
    for d in 1..=b {
        if i + d < n {
            acc += diags[d * n + i] * x[i + d];
        }
        if i >= d {
            acc += diags[d * n + i - d] * x[i - d];
        }
    }
    acc
}

/// In-place LDL^T of the upper band `l` (rows of b + 1): on return `l[k * (b + 1) + i]` =
/// L[k + i][k] (unit diagonal stored as 1) and `d[k]` = D_k. `None` on a zero or non-finite
/// pivot. With `B` = b > 0 the first n - b steps (full reach b) run on fixed-size arrays.
#[inline(always)]
fn ldlt_kernel<const B: usize>(b: usize, l: &mut [f64], d: &mut [f64]) -> Option<()> {
    let n = d.len();
    let bulk = if B > 0 { n.saturating_sub(b) } else { 0 };
    for k in 0..bulk {
        ldlt_bulk_step::<B>(k, l, d)?;
    }
    for k in bulk..n {
        ldlt_step(b, b.min(n - 1 - k), k, l, d)?;
    }
    Some(())
}

/// [`ldlt_step`] with reach `B` known at compile time (rows k..=k + B exist).
#[inline(always)]
fn ldlt_bulk_step<const B: usize>(k: usize, l: &mut [f64], d: &mut [f64]) -> Option<()> {
    let w = B + 1;
    let block = &mut l[k * w..(k + 1 + B) * w];
    let pivot = block[0];
    if !(pivot.is_finite() && pivot != 0.0) {
        return None;
    }
    d[k] = pivot;
    let inv = 1.0 / pivot;
    let mut col = [0.0f64; B];
    for (c, a) in col.iter_mut().zip(&block[1..=B]) {
        *c = a * inv;
    }
    for i in 0..B {
        let li = col[i] * pivot;
        let row = &mut block[(i + 1) * w..(i + 1) * w + B - i];
        for (dst, c) in row.iter_mut().zip(&col[i..]) {
            *dst -= li * c;
        }
    }
    block[0] = 1.0;
    block[1..=B].copy_from_slice(&col);
    Some(())
}

/// Step k of [`ldlt_kernel`]: rows k + 1..=k + reach are updated.
#[inline(always)]
fn ldlt_step(b: usize, reach: usize, k: usize, l: &mut [f64], d: &mut [f64]) -> Option<()> {
    let w = b + 1;
    let (head, rest) = l.split_at_mut((k + 1) * w);
    let colk = &mut head[k * w..];
    let pivot = colk[0];
    if !(pivot.is_finite() && pivot != 0.0) {
        return None;
    }
    d[k] = pivot;
    // Column k of L: L[k + i][k] = A[k][k + i] / D_k (A being updated in place).
    let inv = 1.0 / pivot;
    for v in &mut colk[1..=reach] {
        *v *= inv;
    }
    // Update the trailing block: A[k+i][k+j] -= L[k+i][k] D_k L[k+j][k], j >= i.
    for i in 1..=reach {
        let li = colk[i] * pivot;
        let row = &mut rest[(i - 1) * w..(i - 1) * w + (reach - i) + 1];
        for (dst, c) in row.iter_mut().zip(&colk[i..=reach]) {
            *dst -= li * c;
        }
    }
    colk[0] = 1.0;
    Some(())
}

/// Solves L D L^T x = y in place (factors as left by [`ldlt_kernel`]), bulk and tail split as
/// there; the bulk keeps the b entries of x in flight in registers.
#[inline(always)]
fn ldlt_solve_kernel<const B: usize>(b: usize, l: &[f64], d: &[f64], x: &mut [f64]) {
    let n = d.len();
    let bulk = if B > 0 { n.saturating_sub(b) } else { 0 };
    if bulk > 0 {
        forward_bulk::<B>(bulk, l, x);
    }
    for k in bulk..n {
        forward_step(b, b.min(n - 1 - k), k, l, x);
    }
    for (xk, dk) in x.iter_mut().zip(d) {
        *xk /= dk;
    }
    for k in (bulk..n).rev() {
        backward_step(b, b.min(n - 1 - k), k, l, x);
    }
    if bulk > 0 {
        backward_bulk::<B>(bulk, l, x);
    }
}

/// [`forward_step`] for k = 0..bulk with reach `B`; `pending[i]` holds x[k + i] with the
/// updates of the earlier steps applied.
#[inline(always)]
fn forward_bulk<const B: usize>(bulk: usize, l: &[f64], x: &mut [f64]) {
    let mut pending = [0.0f64; B];
    pending.copy_from_slice(&x[..B]);
    for k in 0..bulk {
        let xk = pending[0];
        x[k] = xk;
        let col = &l[k * (B + 1) + 1..(k + 1) * (B + 1)];
        for i in 0..B - 1 {
            pending[i] = pending[i + 1] - col[i] * xk;
        }
        pending[B - 1] = x[k + B] - col[B - 1] * xk;
    }
    x[bulk..bulk + B].copy_from_slice(&pending);
}

/// [`backward_step`] for k = bulk - 1 down to 0 with reach `B`; `done[i]` holds the final
/// x[k + 1 + i].
#[inline(always)]
fn backward_bulk<const B: usize>(bulk: usize, l: &[f64], x: &mut [f64]) {
    let mut done = [0.0f64; B];
    done.copy_from_slice(&x[bulk..bulk + B]);
    for k in (0..bulk).rev() {
        let col = &l[k * (B + 1) + 1..(k + 1) * (B + 1)];
        let s: f64 = col.iter().zip(&done).rev().map(|(li, xi)| li * xi).sum();
        let xk = x[k] - s;
        x[k] = xk;
        for i in (1..B).rev() {
            done[i] = done[i - 1];
        }
        done[0] = xk;
    }
}

/// x[k + i] -= L[k + i][k] x[k] for i = 1..=reach.
#[inline(always)]
fn forward_step(b: usize, reach: usize, k: usize, l: &[f64], x: &mut [f64]) {
    let xk = x[k];
    let col = &l[k * (b + 1) + 1..=k * (b + 1) + reach];
    for (xi, li) in x[k + 1..=k + reach].iter_mut().zip(col) {
        *xi -= li * xk;
    }
}

/// x[k] -= sum_i L[k + i][k] x[k + i] for i = 1..=reach, summed from i = reach down to 1 so
/// that x[k + 1], computed last, enters last (a short dependency chain).
#[inline(always)]
fn backward_step(b: usize, reach: usize, k: usize, l: &[f64], x: &mut [f64]) {
    let col = &l[k * (b + 1) + 1..=k * (b + 1) + reach];
    let s: f64 = col
        .iter()
        .zip(&x[k + 1..=k + reach])
        .rev()
        .map(|(li, xi)| li * xi)
        .sum();
    x[k] -= s;
}

/// The factors of A = L D L^T of a [`BandSym`].
#[derive(Debug, Clone)]
pub struct BandLdlt {
    n: usize,
    b: usize,
    l: Vec<f64>,
    d: Vec<f64>,
}

impl BandLdlt {
    /// Factors the upper band `l` (as stored by [`BandSym`]) in place.
    fn factor(n: usize, b: usize, mut l: Vec<f64>) -> Option<BandLdlt> {
        let mut d = vec![0.0; n];
        by_bandwidth!(b, ldlt_kernel(&mut l, &mut d))?;
        Some(BandLdlt { n, b, l, d })
    }
    /// Number of negative pivots = number of eigenvalues of A below 0 (Sylvester's law of
    /// inertia); for A = K - sigma M with M positive definite, the number of eigenvalues of
    /// the pencil below sigma.
    pub fn negative_pivots(&self) -> usize {
        self.d.iter().filter(|v| **v < 0.0).count()
    }
    /// Solves A x = y in place.
    pub fn solve_in_place(&self, x: &mut [f64]) {
        assert_eq!(x.len(), self.n, "BandLdlt::solve_in_place: wrong length");
        by_bandwidth!(self.b, ldlt_solve_kernel(&self.l, &self.d, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldlt_solves_and_counts_inertia() {
        let n = 30;
        let mut a = BandSym::zeros(n, 3);
        for i in 0..n {
            a.add(i, i, 4.0 + (i as f64 * 0.37).sin());
            for d in 1..=3 {
                if i + d < n {
                    a.add(i, i + d, 0.5 / d as f64);
                }
            }
        }
        let x: Vec<f64> = (0..n).map(|i| (i as f64).cos()).collect();
        let mut y = vec![0.0; n];
        a.mul_vec(&x, &mut y);
        let f = a.ldlt().unwrap();
        f.solve_in_place(&mut y);
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() < 1e-12);
        }
        assert_eq!(f.negative_pivots(), 0);
        // Shift past a few eigenvalues: the count matches the dense spectrum.
        let (vals, _) = crate::dense::sym_eigen(&a.to_dense()).unwrap();
        let shift = 0.5 * (vals[4] + vals[5]);
        let id = {
            let mut m = BandSym::zeros(n, 0);
            (0..n).for_each(|i| m.add(i, i, 1.0));
            m
        };
        assert_eq!(a.shifted(shift, &id).ldlt().unwrap().negative_pivots(), 5);
    }

    /// A symmetric n x n band of half-bandwidth b: `diag` + a wiggle on the diagonal, decaying
    /// entries off it (diagonally dominant for diag >= 3).
    pub(super) fn band(n: usize, b: usize, diag: f64) -> BandSym {
        let mut a = BandSym::zeros(n, b);
        for i in 0..n {
            a.add(i, i, diag + (i as f64 * 0.37).sin());
            for d in 1..=b.min(n - 1 - i) {
                a.add(i, i + d, (0.9 * (i + 3 * d) as f64).cos() / (d * d) as f64);
            }
        }
        a
    }

    pub(super) fn columns(n: usize, c: usize) -> Mat {
        Mat::from_col_major(n, c, (0..n * c).map(|i| (0.61 * i as f64).sin()).collect())
    }

    #[test]
    fn mul_mat_matches_the_dense_product() {
        // Bandwidths with and without a compiled constant (13), matrices narrower than 2b,
        // row counts around the register and row blocks.
        for &(n, b) in &[
            (1, 0),
            (5, 3),
            (9, 4),
            (40, 7),
            (300, 7),
            (600, 2),
            (50, 13),
        ] {
            let (a, x) = (band(n, b, 3.0), columns(n, 11));
            let (y, dense) = (a.mul_mat(&x), a.to_dense());
            for j in 0..11 {
                for i in 0..n {
                    let want: f64 = (0..n).map(|k| dense.get(i, k) * x.get(k, j)).sum();
                    assert!(
                        (y.get(i, j) - want).abs() <= 1e-13 * (1.0 + want.abs()),
                        "n {n} b {b}"
                    );
                }
            }
        }
    }
}
