//! The per-event dense kernels of the forward and backward passes: a matrix-vector product
//! restricted to the leading non-zero entries of the vector and the exponential of the decays
//! (dot products and norms are [`latentflow_spectral::dot`] and [`latentflow_spectral::norm`],
//! shared with the eigen solver).
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

/// e^x for -708 <= x <= 0 (the decays), within 2 ulp: x = k ln 2 + r with |r| <= ln 2 / 2 (up
/// to rounding), e^r by its Taylor polynomial of degree 13 (truncation error below 1e-17), 2^k
/// written into the exponent bits. Branch-free, so that a loop of it vectorises in a [`simd!`]
/// block; glibc's `exp` is scalar, and the `wide` crate's f64x4 `exp` compiles to SSE2 on the
/// baseline target and was measured no faster than glibc.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f64) -> f64 {
    // Adding 1.5 * 2^52 rounds to an integer, which then sits in the low mantissa bits.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    // ln 2 split so that k * LN2_HI is exact for |k| < 2^11.
    const LN2_HI: f64 = 0.693_145_751_953_125;
    const LN2_LO: f64 = 1.428_606_820_309_417_3e-6;
    // 1 / n! for n = 13 down to 0.
    const TAYLOR: [f64; 14] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ];
    let t = x * std::f64::consts::LOG2_E + SHIFT;
    let k = t - SHIFT;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = TAYLOR[0];
    for &c in &TAYLOR[1..] {
        p = p * r + c;
    }
    // t's bits are those of SHIFT (low 12 bits zero) plus k: shifting k + 1023 into the
    // exponent field gives 2^k.
    p * f64::from_bits(t.to_bits().wrapping_add(1023) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_nonpositive_is_within_two_ulp_of_exp() {
        // A dense sweep of [-708, 0], the ends, and values near the range-reduction ties.
        let mut xs: Vec<f64> = (0..=2_000_000).map(|i| -708.0 * i as f64 / 2e6).collect();
        xs.extend([-0.0, -1e-300, -1e-17, -1e-9, -46.0, -708.0]);
        xs.extend((1..1000).map(|k| -(k as f64 + 0.5) * std::f64::consts::LN_2));
        for x in xs {
            let (got, want) = (exp_nonpositive(x), x.exp());
            assert!(
                ((got - want) / want).abs() <= 2.0 * f64::EPSILON,
                "x {x:e}: {got:e} vs {want:e}"
            );
        }
    }

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
}
