//! The per-event dense kernels of the forward and backward passes: a matrix-vector product
//! restricted to the leading non-zero entries of the vector, dot products and norms.
//!
//! The loops are shaped (fixed-size register blocks, independent partial sums) so that the
//! compiler vectorises them, and each kernel is compiled for the widest instruction set the CPU
//! offers (runtime dispatch by `pulp`). Every sum runs in a fixed order that does not depend on
//! the vector width, and Rust never fuses a * b + c, so the results are the same bits on every
//! CPU.

use latentflow_spectral::dense::Mat;
use pulp::{Arch, Simd, WithSimd};

/// Output rows per register block of [`mat_vec_prefix`].
const ROWS: usize = 32;
/// Columns per cache block of [`mat_vec_prefix`] (keeps a block of a large operator in cache).
const COLS: usize = 128;

/// out = S[:, ..r] x[..r] for a column-major S (out.len() = S.nrows()); the entries x[r..]
/// are treated as zero. Each out_i is summed over k = 0, 1, ..., r - 1 in order.
pub(crate) fn mat_vec_prefix(s: &Mat, x: &[f64], r: usize, out: &mut [f64]) {
    struct Op<'a>(&'a Mat, &'a [f64], usize, &'a mut [f64]);
    impl WithSimd for Op<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, _: S) {
            mat_vec_prefix_inline(self.0, self.1, self.2, self.3)
        }
    }
    Arch::new().dispatch(Op(s, x, r, out))
}

#[inline(always)]
fn mat_vec_prefix_inline(s: &Mat, x: &[f64], r: usize, out: &mut [f64]) {
    let m = s.nrows();
    debug_assert!(out.len() == m && r <= s.ncols() && r <= x.len());
    let data = s.as_slice();
    out.fill(0.0);
    for k0 in (0..r).step_by(COLS) {
        let k1 = (k0 + COLS).min(r);
        let mut blocks = out.chunks_exact_mut(ROWS);
        for (b, block) in (&mut blocks).enumerate() {
            let i0 = b * ROWS;
            let mut acc = [0.0; ROWS];
            acc.copy_from_slice(block);
            for (k, &xk) in x.iter().enumerate().take(k1).skip(k0) {
                let col = &data[k * m + i0..k * m + i0 + ROWS];
                for (a, v) in acc.iter_mut().zip(col) {
                    *a += xk * v;
                }
            }
            block.copy_from_slice(&acc);
        }
        let rest = blocks.into_remainder();
        let i0 = m - rest.len();
        for (i, o) in rest.iter_mut().enumerate() {
            for (k, &xk) in x.iter().enumerate().take(k1).skip(k0) {
                *o += xk * data[k * m + i0 + i];
            }
        }
    }
}

/// out = S x for a column-major S.
pub(crate) fn mat_vec(s: &Mat, x: &[f64], out: &mut [f64]) {
    mat_vec_prefix(s, x, x.len(), out);
}

/// Dot product with eight independent partial sums combined in a fixed order.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    struct Op<'a>(&'a [f64], &'a [f64]);
    impl WithSimd for Op<'_> {
        type Output = f64;
        #[inline(always)]
        fn with_simd<S: Simd>(self, _: S) -> f64 {
            dot_inline(self.0, self.1)
        }
    }
    Arch::new().dispatch(Op(a, b))
}

#[inline(always)]
fn dot_inline(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// Euclidean norm.
pub(crate) fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mat_vec_prefix_matches_the_plain_sum() {
        // Sizes around the register and cache blocks, and a prefix shorter than the vector.
        for &(m, r) in &[(1, 1), (31, 31), (32, 5), (70, 70), (300, 200), (300, 129)] {
            let s = Mat::from_col_major(
                m,
                m,
                (0..m * m)
                    .map(|i| ((i * 7919) % 101) as f64 - 50.0)
                    .collect(),
            );
            let x: Vec<f64> = (0..m).map(|i| (i as f64 * 0.37).sin()).collect();
            let mut out = vec![f64::NAN; m];
            mat_vec_prefix(&s, &x, r, &mut out);
            for (i, o) in out.iter().enumerate() {
                let want: f64 = (0..r).map(|k| s.get(i, k) * x[k]).sum();
                assert!(
                    (o - want).abs() <= 1e-12 * (1.0 + want.abs()),
                    "m {m} r {r} i {i}"
                );
            }
        }
    }

    #[test]
    fn dot_and_norm_match_the_plain_sum() {
        for n in [0, 1, 7, 8, 9, 64, 65] {
            let a: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5).cos()).collect();
            let b: Vec<f64> = (0..n).map(|i| (i as f64 * 1.3).sin()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - want).abs() < 1e-13);
            let want = a.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((norm(&a) - want).abs() < 1e-13);
        }
    }
}
