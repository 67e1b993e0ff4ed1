//! Symmetric banded matrices: storage, products, and LDL^T factorisation (no pivoting) with
//! its inertia, all O(n b^2) or better.

use crate::dense::Mat;

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
    /// Y = A X for every column: X is copied to row-major order so that each band entry
    /// multiplies a whole row of X (contiguous, vectorised) instead of one entry per column.
    pub fn mul_mat(&self, x: &Mat) -> Mat {
        let (n, c) = (self.n, x.ncols());
        assert_eq!(x.nrows(), n, "BandSym::mul_mat: wrong number of rows");
        let mut xt = vec![0.0; n * c];
        transpose(x.as_slice(), n, c, &mut xt);
        let mut yt = vec![0.0; n * c];
        by_bandwidth!(self.b, mul_rows_kernel(&self.data, c, &xt, &mut yt));
        let mut y = Mat::zeros(n, c);
        transpose(&yt, c, n, y.as_mut_slice());
        y
    }
    /// self - shift * other (same size; bandwidth the larger of the two).
    pub fn shifted(&self, shift: f64, other: &BandSym) -> BandSym {
        if self.b == other.b {
            return BandSym {
                n: self.n,
                b: self.b,
                data: self
                    .data
                    .iter()
                    .zip(&other.data)
                    .map(|(a, o)| a - shift * o)
                    .collect(),
            };
        }
        let b = self.b.max(other.b);
        let mut out = BandSym::zeros(self.n, b);
        for i in 0..self.n {
            for j in i..(i + b + 1).min(self.n) {
                out.data[i * (b + 1) + (j - i)] = self.get(i, j) - shift * other.get(i, j);
            }
        }
        out
    }
    /// LDL^T factorisation without pivoting. `None` if a pivot is zero or not finite.
    pub fn ldlt(&self) -> Option<BandLdlt> {
        let mut l = self.data.clone();
        let mut d = vec![0.0; self.n];
        by_bandwidth!(self.b, ldlt_kernel(&mut l, &mut d))?;
        Some(BandLdlt {
            n: self.n,
            b: self.b,
            l,
            d,
        })
    }
}

/// Calls `$kernel(b, args...)` with `b` a literal for the half-bandwidths of np = 3..=12
/// (b = np - 1), so that the inlined kernels' inner loops have constant length and unroll;
/// other bandwidths run the same code with `b` at run time.
macro_rules! by_bandwidth {
    ($b:expr, $kernel:ident($($arg:expr),*)) => {
        match $b {
            2 => $kernel(2, $($arg),*),
            3 => $kernel(3, $($arg),*),
            4 => $kernel(4, $($arg),*),
            5 => $kernel(5, $($arg),*),
            6 => $kernel(6, $($arg),*),
            7 => $kernel(7, $($arg),*),
            8 => $kernel(8, $($arg),*),
            9 => $kernel(9, $($arg),*),
            10 => $kernel(10, $($arg),*),
            11 => $kernel(11, $($arg),*),
            b => $kernel(b, $($arg),*),
        }
    };
}
use by_bandwidth;

/// y = A x for the upper band `data` (rows of b + 1) of A.
#[inline(always)]
fn mul_vec_kernel(b: usize, data: &[f64], x: &[f64], y: &mut [f64]) {
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

/// `dst` (cols x rows, column-major) = transpose of `src` (rows x cols, column-major), in
/// blocks of rows small enough for the level-1 cache.
fn transpose(src: &[f64], rows: usize, cols: usize, dst: &mut [f64]) {
    const BLOCK: usize = 16;
    for r0 in (0..rows).step_by(BLOCK) {
        let r1 = (r0 + BLOCK).min(rows);
        for j in 0..cols {
            for (r, v) in src[j * rows + r0..j * rows + r1].iter().enumerate() {
                dst[(r0 + r) * cols + j] = *v;
            }
        }
    }
}

/// Y += A X with X, Y row-major with `c` columns.
#[inline(always)]
fn mul_rows_kernel(b: usize, data: &[f64], c: usize, x: &[f64], y: &mut [f64]) {
    let n = x.len() / c.max(1);
    if c == 0 {
        return;
    }
    for (i, row) in data.chunks_exact(b + 1).enumerate() {
        let reach = b.min(n - 1 - i);
        let (head, tail) = y.split_at_mut((i + 1) * c);
        let yi = &mut head[i * c..];
        let xi = &x[i * c..(i + 1) * c];
        yi.iter_mut().zip(xi).for_each(|(y, x)| *y += row[0] * x);
        for d in 1..=reach {
            let a = row[d];
            let xd = &x[(i + d) * c..(i + d + 1) * c];
            yi.iter_mut().zip(xd).for_each(|(y, x)| *y += a * x);
            let yd = &mut tail[(d - 1) * c..d * c];
            yd.iter_mut().zip(xi).for_each(|(y, x)| *y += a * x);
        }
    }
}

/// In-place LDL^T of the upper band `l` (rows of b + 1): on return `l[k * (b + 1) + i]` =
/// L[k + i][k] (unit diagonal stored as 1) and `d[k]` = D_k. `None` on a zero or non-finite
/// pivot.
#[inline(always)]
fn ldlt_kernel(b: usize, l: &mut [f64], d: &mut [f64]) -> Option<()> {
    let n = d.len();
    for k in 0..n {
        let reach = b.min(n - 1 - k);
        let (head, rest) = l.split_at_mut((k + 1) * (b + 1));
        let colk = &mut head[k * (b + 1)..];
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
            let row = &mut rest[(i - 1) * (b + 1)..(i - 1) * (b + 1) + (reach - i) + 1];
            for (dst, c) in row.iter_mut().zip(&colk[i..=reach]) {
                *dst -= li * c;
            }
        }
        colk[0] = 1.0;
    }
    Some(())
}

/// Solves L D L^T x = y in place (factors as left by [`ldlt_kernel`]).
#[inline(always)]
fn ldlt_solve_kernel(b: usize, l: &[f64], d: &[f64], x: &mut [f64]) {
    let n = d.len();
    for k in 0..n {
        let xk = x[k];
        let reach = b.min(n - 1 - k);
        let col = &l[k * (b + 1) + 1..=k * (b + 1) + reach];
        for (xi, li) in x[k + 1..=k + reach].iter_mut().zip(col) {
            *xi -= li * xk;
        }
    }
    for (xk, dk) in x.iter_mut().zip(d) {
        *xk /= dk;
    }
    for k in (0..n).rev() {
        let reach = b.min(n - 1 - k);
        let col = &l[k * (b + 1) + 1..=k * (b + 1) + reach];
        let s: f64 = col
            .iter()
            .zip(&x[k + 1..=k + reach])
            .map(|(li, xi)| li * xi)
            .sum();
        x[k] -= s;
    }
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
}
