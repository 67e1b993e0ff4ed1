//! The dot product and Euclidean norm every crate of latentflow uses, summed in one fixed
//! order so that results are the same bits on every machine and thread count.

/// Dot product of two equally long vectors: eight independent partial sums (a short
/// dependency chain the compiler vectorises), combined pairwise in a fixed order, then the
/// remainder.
#[inline(always)]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
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
pub fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

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
