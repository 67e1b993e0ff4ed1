//! Gauss–Lobatto–Legendre nodes and weights on the reference element [-1, 1], and the
//! reference-element operators built on them.

/// Legendre polynomials P_0..P_k at x (returns all k+1 values).
pub(crate) fn legendre_all(k: usize, x: f64) -> Vec<f64> {
    let mut p = vec![0.0; k + 1];
    p[0] = 1.0;
    if k >= 1 {
        p[1] = x;
    }
    for j in 2..=k {
        p[j] = ((2 * j - 1) as f64 * x * p[j - 1] - (j - 1) as f64 * p[j - 2]) / j as f64;
    }
    p
}

/// GLL nodes (ascending) and weights for `np` >= 2 points: the ends and the roots of P'_{np-1}.
/// Newton's method from the Chebyshev–Gauss–Lobatto points on the identity
/// (1 - x^2) P'_N = N (P_{N-1} - x P_N); accurate to a few ulps for np up to ~30.
pub fn gll_nodes_weights(np: usize) -> (Vec<f64>, Vec<f64>) {
    let n = np - 1;
    let nf = n as f64;
    let mut x: Vec<f64> = (0..np)
        .map(|i| -(std::f64::consts::PI * i as f64 / nf).cos())
        .collect();
    for xi in x.iter_mut() {
        for _ in 0..100 {
            let p = legendre_all(n, *xi);
            // Newton step for f(x) = x P_N - P_{N-1} (zero at the GLL nodes, ends included).
            let step = (*xi * p[n] - p[n - 1]) / (np as f64 * p[n]);
            *xi -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
    }
    x[0] = -1.0;
    x[n] = 1.0;
    // Symmetrise to remove round-off asymmetry.
    for i in 0..np / 2 {
        let v = 0.5 * (x[n - i] - x[i]);
        x[i] = -v;
        x[n - i] = v;
    }
    if np % 2 == 1 {
        x[n / 2] = 0.0;
    }
    let w = x
        .iter()
        .map(|&xi| {
            let p = legendre_all(n, xi)[n];
            2.0 / (nf * (nf + 1.0) * p * p)
        })
        .collect();
    (x, w)
}

/// Reference differentiation matrix (row-major, np x np): (D f)_i = sum_j D[i][j] f_j is the
/// derivative at node i of the interpolant through f. Barycentric form with the diagonal set
/// by the negative-sum trick (exact on constants).
pub(crate) fn diff_matrix(x: &[f64]) -> Vec<Vec<f64>> {
    let np = x.len();
    let bary: Vec<f64> = (0..np)
        .map(|j| {
            1.0 / (0..np)
                .filter(|&k| k != j)
                .map(|k| x[j] - x[k])
                .product::<f64>()
        })
        .collect();
    let mut d = vec![vec![0.0; np]; np];
    for i in 0..np {
        let mut diag = 0.0;
        for j in 0..np {
            if i != j {
                d[i][j] = (bary[j] / bary[i]) / (x[i] - x[j]);
                diag -= d[i][j];
            }
        }
        d[i][i] = diag;
    }
    d
}

/// Reference integration matrix (row-major): (I f)_i = int_{-1}^{x_i} of the interpolant.
/// Uses the discrete Legendre transform of the GLL interpolant and
/// int_{-1}^x P_k = (P_{k+1} - P_{k-1}) / (2k + 1).
pub(crate) fn integration_matrix(x: &[f64], w: &[f64]) -> Vec<Vec<f64>> {
    let np = x.len();
    let n = np - 1;
    let p: Vec<Vec<f64>> = x.iter().map(|&xi| legendre_all(n + 1, xi)).collect();
    // Discrete norms gamma_k = sum_i w_i P_k(x_i)^2.
    let gamma: Vec<f64> = (0..np)
        .map(|k| (0..np).map(|i| w[i] * p[i][k] * p[i][k]).sum())
        .collect();
    let mut m = vec![vec![0.0; np]; np];
    for i in 0..np {
        // Integral of P_k from -1 to x_i.
        let ip: Vec<f64> = (0..np)
            .map(|k| {
                if k == 0 {
                    x[i] + 1.0
                } else {
                    (p[i][k + 1] - p[i][k - 1]) / (2 * k + 1) as f64
                }
            })
            .collect();
        for j in 0..np {
            // Lagrange basis l_j = sum_k (w_j P_k(x_j) / gamma_k) P_k.
            m[i][j] = (0..np).map(|k| w[j] * p[j][k] / gamma[k] * ip[k]).sum();
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_small_rules() {
        let (x, w) = gll_nodes_weights(3);
        assert_eq!(x, vec![-1.0, 0.0, 1.0]);
        for (a, b) in w.iter().zip([1.0 / 3.0, 4.0 / 3.0, 1.0 / 3.0]) {
            assert!((a - b).abs() < 1e-15);
        }
        let (x, w) = gll_nodes_weights(4);
        let r = (1.0f64 / 5.0).sqrt();
        assert!((x[1] + r).abs() < 1e-15 && (x[2] - r).abs() < 1e-15);
        assert!((w[0] - 1.0 / 6.0).abs() < 1e-15 && (w[1] - 5.0 / 6.0).abs() < 1e-15);
    }

    #[test]
    fn rules_up_to_20_points_are_exact() {
        for np in 3..=20 {
            let (x, w) = gll_nodes_weights(np);
            // Exact for degree <= 2 np - 3.
            for deg in 0..=(2 * np - 3) {
                let q: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(deg as i32)).sum();
                let exact = if deg % 2 == 1 {
                    0.0
                } else {
                    2.0 / (deg as f64 + 1.0)
                };
                assert!(
                    (q - exact).abs() < 1e-14,
                    "np {np} degree {deg}: {q} vs {exact}"
                );
            }
            // Nodes are roots of P'_{np-1}: (1 - x^2) P' = N (P_{N-1} - x P_N).
            for &xi in &x[1..np - 1] {
                let p = legendre_all(np - 1, xi);
                assert!(
                    (p[np - 2] - xi * p[np - 1]).abs() < 1e-14,
                    "np {np} node {xi}"
                );
            }
        }
    }
}
