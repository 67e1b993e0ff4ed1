//! Many shifted factorisations at once: (A - sigma_j B) x_j = y_j for a set of shifts, one shift
//! per SIMD lane (the warm start's Rayleigh-quotient sweep).

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

use super::BandSym;

impl BandSym {
    /// Solves (self - shift_j other) x_j = y_j in place for every column j of the column-major
    /// `y` (n rows, one column per shift), each with its own LDL^T factorisation. Groups of
    /// [`SHIFT_LANES`] shifts are factored and solved together, one shift per SIMD lane (each
    /// lane does exactly the operations of a single factorisation and solve), the groups in
    /// parallel. `None` if a pivot of any of the factorisations is zero or not finite.
    pub fn solve_shifted(&self, other: &BandSym, shifts: &[f64], y: &mut [f64]) -> Option<()> {
        let n = self.n;
        assert!(
            other.n == n && y.len() == n * shifts.len(),
            "BandSym::solve_shifted: wrong sizes"
        );
        if n == 0 || shifts.is_empty() {
            return Some(());
        }
        let (a, o);
        let (a, o) = if self.b == other.b {
            (self, other)
        } else {
            let b = self.b.max(other.b);
            (a, o) = (self.widened(b), other.widened(b));
            (&a, &o)
        };
        struct Op<'a>(&'a BandSym, &'a BandSym, &'a [f64], &'a mut [f64]);
        impl WithSimd for Op<'_> {
            type Output = Option<()>;
            #[inline(always)]
            fn with_simd<S: Simd>(self, _: S) -> Option<()> {
                let Op(a, o, shifts, y) = self;
                by_bandwidth!(a.b, shifted_group(&a.data, &o.data, shifts, y))
            }
        }
        shifts
            .par_chunks(SHIFT_LANES)
            .zip(y.par_chunks_mut(n * SHIFT_LANES))
            .try_for_each(|(s, y)| Arch::new().dispatch(Op(a, o, s, y)))
    }
}

/// Shifts per group of [`BandSym::solve_shifted`] (two AVX2 registers per operation).
pub const SHIFT_LANES: usize = 8;

/// One value per lane of a [`BandSym::solve_shifted`] group.
type Lanes = [f64; SHIFT_LANES];

/// One group of [`BandSym::solve_shifted`]: `shifts.len()` <= SHIFT_LANES columns of `y`.
/// Unused lanes repeat the last shift with a zero right-hand side and are dropped.
#[inline(always)]
fn shifted_group<const B: usize>(
    b: usize,
    a: &[f64],
    o: &[f64],
    shifts: &[f64],
    y: &mut [f64],
) -> Option<()> {
    let w = b + 1;
    let n = a.len() / w;
    let c = shifts.len();
    let sigma: Lanes = std::array::from_fn(|g| shifts[g.min(c - 1)]);
    // Lane g of l[e] holds entry e of the band of A - sigma_g O, then of its factor.
    let mut l: Vec<Lanes> = a
        .iter()
        .zip(o)
        .map(|(&a, &o)| std::array::from_fn(|g| a - sigma[g] * o))
        .collect();
    let mut d: Vec<Lanes> = vec![[0.0; SHIFT_LANES]; n];
    let bulk = if B > 0 { n.saturating_sub(b) } else { 0 };
    for k in 0..n {
        let reach = if k < bulk { B } else { b.min(n - 1 - k) };
        let (head, rest) = l.split_at_mut((k + 1) * w);
        let colk = &mut head[k * w..];
        let pivot = colk[0];
        if !pivot.iter().all(|p| p.is_finite() && *p != 0.0) {
            return None;
        }
        d[k] = pivot;
        let inv: Lanes = std::array::from_fn(|g| 1.0 / pivot[g]);
        for v in &mut colk[1..=reach] {
            v.iter_mut().zip(&inv).for_each(|(v, i)| *v *= i);
        }
        for i in 1..=reach {
            let li: Lanes = std::array::from_fn(|g| colk[i][g] * pivot[g]);
            let row = &mut rest[(i - 1) * w..(i - 1) * w + (reach - i) + 1];
            for (dst, c) in row.iter_mut().zip(&colk[i..=reach]) {
                for g in 0..SHIFT_LANES {
                    dst[g] -= li[g] * c[g];
                }
            }
        }
        colk[0] = [1.0; SHIFT_LANES];
    }
    // Right-hand sides lane by lane, then forward substitution, D^-1, back substitution.
    let mut x: Vec<Lanes> = (0..n)
        .map(|i| std::array::from_fn(|g| if g < c { y[g * n + i] } else { 0.0 }))
        .collect();
    for k in 0..n {
        let reach = if k < bulk { B } else { b.min(n - 1 - k) };
        let xk = x[k];
        for i in 1..=reach {
            let li = l[k * w + i];
            for g in 0..SHIFT_LANES {
                x[k + i][g] -= li[g] * xk[g];
            }
        }
    }
    for (xk, dk) in x.iter_mut().zip(&d) {
        xk.iter_mut().zip(dk).for_each(|(x, d)| *x /= d);
    }
    for k in (0..n).rev() {
        let reach = if k < bulk { B } else { b.min(n - 1 - k) };
        let mut s = [0.0; SHIFT_LANES];
        for i in (1..=reach).rev() {
            let (li, xi) = (l[k * w + i], x[k + i]);
            for g in 0..SHIFT_LANES {
                s[g] += li[g] * xi[g];
            }
        }
        for g in 0..SHIFT_LANES {
            x[k][g] -= s[g];
        }
    }
    for (g, col) in y.chunks_exact_mut(n).enumerate() {
        col.iter_mut().zip(&x).for_each(|(v, x)| *v = x[g]);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{band, columns};

    #[test]
    fn shifted_solves_match_one_factorisation_per_shift() {
        // 11 shifts: one full group of lanes and a partial one; bandwidths with and without a
        // compiled constant; a diagonal second matrix (different bandwidth).
        let shifts: Vec<f64> = (0..11).map(|j| -0.5 + 0.3 * j as f64).collect();
        for &(n, b, bm) in &[(6, 3, 3), (40, 7, 7), (300, 7, 7), (60, 13, 13), (50, 4, 0)] {
            let (a, m) = (band(n, b, 4.0), band(n, bm, 6.0));
            let rhs = columns(n, shifts.len());
            let mut y = rhs.as_slice().to_vec();
            a.solve_shifted(&m, &shifts, &mut y).unwrap();
            for (j, &s) in shifts.iter().enumerate() {
                let mut want = rhs.col(j).to_vec();
                a.ldlt_shifted(s, &m).unwrap().solve_in_place(&mut want);
                for (got, want) in y[j * n..(j + 1) * n].iter().zip(&want) {
                    assert!(
                        (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                        "n {n} b {b}"
                    );
                }
            }
        }
        // A shift that makes the first pivot zero: an error, not a NaN.
        let (a, m) = (band(20, 7, 4.0), band(20, 7, 6.0));
        let singular = a.get(0, 0) / m.get(0, 0);
        let mut y = vec![1.0; 20 * 2];
        assert!(a.solve_shifted(&m, &[0.0, singular], &mut y).is_none());
    }
}
