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
        let (n, b) = (self.n, self.b);
        assert!(
            x.len() == n && y.len() == n,
            "BandSym::mul_vec: wrong length"
        );
        y.fill(0.0);
        for (i, row) in self.data.chunks_exact(b + 1).enumerate() {
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
    /// Y = A X for every column.
    pub fn mul_mat(&self, x: &Mat) -> Mat {
        let mut y = Mat::zeros(self.n, x.ncols());
        for j in 0..x.ncols() {
            self.mul_vec(x.col(j), y.col_mut(j));
        }
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
        let (n, b) = (self.n, self.b);
        // l[i * (b + 1) + d] = L[i + d][i] (unit lower band, stored by column), d[i] = D_i.
        let mut l = self.data.clone();
        let mut d = vec![0.0; n];
        let mut col = vec![0.0; b + 1];
        for k in 0..n {
            let pivot = l[k * (b + 1)];
            if !(pivot.is_finite() && pivot != 0.0) {
                return None;
            }
            d[k] = pivot;
            let reach = b.min(n - 1 - k);
            // Column k of L: L[k + i][k] = A[k][k + i] / D_k (A being updated in place).
            for v in &mut l[k * (b + 1) + 1..=k * (b + 1) + reach] {
                *v /= pivot;
            }
            col[..=reach].copy_from_slice(&l[k * (b + 1)..=k * (b + 1) + reach]);
            // Update the trailing block: A[k+i][k+j] -= L[k+i][k] D_k L[k+j][k], j >= i.
            for i in 1..=reach {
                let li = col[i] * pivot;
                let row = &mut l[(k + i) * (b + 1)..=(k + i) * (b + 1) + (reach - i)];
                for (dst, c) in row.iter_mut().zip(&col[i..=reach]) {
                    *dst -= li * c;
                }
            }
            l[k * (b + 1)] = 1.0;
        }
        Some(BandLdlt { n, b, l, d })
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
        let (n, b) = (self.n, self.b);
        for k in 0..n {
            let xk = x[k];
            for i in 1..=b.min(n - 1 - k) {
                x[k + i] -= self.l[k * (b + 1) + i] * xk;
            }
        }
        for k in 0..n {
            x[k] /= self.d[k];
        }
        for k in (0..n).rev() {
            let mut s = x[k];
            for i in 1..=b.min(n - 1 - k) {
                s -= self.l[k * (b + 1) + i] * x[k + i];
            }
            x[k] = s;
        }
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
