//! The per-event dense kernels of the forward and backward passes: a matrix-vector product
//! restricted to the leading non-zero entries of the vector, dot products and norms.
//!
//! The loops are shaped (fixed-size register blocks, independent partial sums) so that the
//! compiler vectorises them. The kernels are always inlined: called from a [`simd!`] block they
//! are compiled for the widest instruction set the CPU offers (runtime dispatch by `pulp`).
//! Every sum runs in a fixed order that does not depend on the vector width, and Rust never
//! fuses a * b + c, so the results are the same bits on every CPU.

use latentflow_spectral::dense::Mat;

/// `simd!(|name: Type, ...| -> Output { body } (args...))` runs `body` with `name = arg`,
/// compiled for the widest instruction set the CPU offers (runtime dispatch by `pulp`); what
/// the body calls with `#[inline(always)]` is compiled so too. Types may borrow for `'a`.
///
/// A closure handed to `pulp` is not reliably inlined into the dispatched function, and plain
/// (SSE) code after faer's matrix products, which leave the upper halves of the AVX registers
/// dirty, runs many times slower (measured: the decays' `exp` 75 ns instead of 8 ns each).
macro_rules! simd {
    (|$($name:ident: $ty:ty),* $(,)?| -> $out:ty $body:block ($($arg:expr),* $(,)?)) => {{
        struct Op<'a>($($ty,)* std::marker::PhantomData<&'a ()>);
        impl<'a> pulp::WithSimd for Op<'a> {
            type Output = $out;
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) -> $out {
                let Op($($name,)* _) = self;
                $body
            }
        }
        pulp::Arch::new().dispatch(Op($($arg,)* std::marker::PhantomData))
    }};
}
pub(crate) use simd;

/// Output rows per register block of [`mat_vec_prefix`].
const ROWS: usize = 32;
/// Columns per cache block of [`mat_vec_prefix`] (keeps a block of a large operator in cache).
const COLS: usize = 128;

/// out = S[:, ..r] x[..r] for a column-major S (out.len() = S.nrows()); the entries x[r..]
/// are treated as zero. Each out_i is summed over k = 0, 1, ..., r - 1 in order.
#[inline(always)]
pub(crate) fn mat_vec_prefix(s: &Mat, x: &[f64], r: usize, out: &mut [f64]) {
    let m = s.nrows();
    debug_assert!(out.len() == m && r <= s.ncols() && r <= x.len());
    let data = s.as_slice();
    if r == 0 {
        out.fill(0.0);
    }
    for k0 in (0..r).step_by(COLS) {
        let k1 = (k0 + COLS).min(r);
        let mut blocks = out.chunks_exact_mut(ROWS);
        for (b, block) in (&mut blocks).enumerate() {
            let i0 = b * ROWS;
            let mut acc = [0.0; ROWS];
            if k0 > 0 {
                acc.copy_from_slice(block);
            }
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
            if k0 == 0 {
                *o = 0.0;
            }
            for (k, &xk) in x.iter().enumerate().take(k1).skip(k0) {
                *o += xk * data[k * m + i0 + i];
            }
        }
    }
}

/// out = S x for a column-major S.
#[inline(always)]
pub(crate) fn mat_vec(s: &Mat, x: &[f64], out: &mut [f64]) {
    mat_vec_prefix(s, x, x.len(), out);
}

/// Dot product with eight independent partial sums combined in a fixed order.
#[inline(always)]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
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
#[inline(always)]
pub(crate) fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mat_vec_prefix_matches_the_plain_sum() {
        // Sizes around the register and cache blocks, and a prefix shorter than the vector.
        for &(m, r) in &[
            (5, 0),
            (1, 1),
            (31, 31),
            (32, 5),
            (70, 70),
            (300, 200),
            (300, 129),
        ] {
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
