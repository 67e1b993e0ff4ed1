//! Densities on a grid: validation, feature complexity and divergences.
//!
//! A density is given by its values `p[i]` at the grid nodes together with quadrature weights
//! `w[i] > 0` such that `integral g ~ sum_i w[i] g[i]`. Densities must be finite, non-negative and
//! normalised: `|sum w p - 1| <=` [`NORMALISATION_TOL`]. All logarithms are natural (divergences in nats).

use crate::SelectError;
pub use latentflow_spectral::NORMALISATION_TOL;
use serde::{Deserialize, Serialize};

/// Checks quadrature weights: non-empty, finite, strictly positive.
pub(crate) fn check_weights(w: &[f64]) -> Result<(), SelectError> {
    if w.is_empty() {
        return Err(SelectError::Empty {
            what: "quadrature weights w".into(),
        });
    }
    for (index, &value) in w.iter().enumerate() {
        if !value.is_finite() {
            return Err(SelectError::NonFinite {
                what: "w".into(),
                index,
                value,
            });
        }
        if value <= 0.0 {
            return Err(SelectError::NonPositiveWeight { index, value });
        }
    }
    Ok(())
}

/// Checks that `v` has `n` finite entries.
pub(crate) fn check_finite(v: &[f64], n: usize, what: &str) -> Result<(), SelectError> {
    if v.len() != n {
        return Err(SelectError::LengthMismatch {
            what: what.into(),
            expected: n,
            found: v.len(),
        });
    }
    if let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(SelectError::NonFinite {
            what: what.into(),
            index,
            value,
        });
    }
    Ok(())
}

/// Checks a density against already-checked weights: length, finite, non-negative, normalised.
pub(crate) fn check_density(w: &[f64], p: &[f64], what: &str) -> Result<(), SelectError> {
    check_finite(p, w.len(), what)?;
    if let Some((index, &value)) = p.iter().enumerate().find(|(_, x)| **x < 0.0) {
        return Err(SelectError::Negative {
            what: what.into(),
            index,
            value,
        });
    }
    let integral: f64 = w.iter().zip(p).map(|(wi, pi)| wi * pi).sum();
    if (integral - 1.0).abs() > NORMALISATION_TOL {
        return Err(SelectError::NotNormalised {
            what: what.into(),
            integral,
        });
    }
    Ok(())
}

/// The divergence used to compare two densities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Divergence {
    /// `(KL(p||q) + KL(q||p)) / 2`, see [`symmetric_kl`].
    SymmetricKl,
    /// Jensen–Shannon divergence, see [`jensen_shannon`].
    JensenShannon,
}

impl Divergence {
    /// The conventional selection threshold: 0.01 for symmetric KL (the paper), 0.002 for JS.
    pub fn default_threshold(self) -> f64 {
        match self {
            Divergence::SymmetricKl => 0.01,
            Divergence::JensenShannon => 0.002,
        }
    }

    /// Computes this divergence between two densities (inputs validated as in [`symmetric_kl`]).
    ///
    /// # Errors
    /// As [`symmetric_kl`] / [`jensen_shannon`].
    pub fn compute(self, w: &[f64], p: &[f64], q: &[f64]) -> Result<f64, SelectError> {
        match self {
            Divergence::SymmetricKl => symmetric_kl(w, p, q),
            Divergence::JensenShannon => jensen_shannon(w, p, q),
        }
    }
}

fn check_pair(w: &[f64], p: &[f64], q: &[f64]) -> Result<(), SelectError> {
    check_weights(w)?;
    check_density(w, p, "p")?;
    check_density(w, q, "q")
}

/// Kullback–Leibler divergence `KL(p||q) = sum_i w_i p_i log(p_i / q_i)` (nats).
///
/// Computed as `sum_i w_i [p_i log(p_i/q_i) - p_i + q_i]`: every term is >= 0, so the result is
/// never negative, and it equals the definition for normalised inputs (the extra terms sum to
/// `sum w q - sum w p`, zero within the normalisation tolerance). `0 log 0 = 0`.
///
/// # Errors
/// Empty input, length mismatch, non-finite or negative entries, non-positive weights,
/// `|sum w p - 1| > 1e-6` (likewise q), and `q_i = 0` where `p_i > 0` (infinite divergence;
/// the error names the node).
pub fn kl_divergence(w: &[f64], p: &[f64], q: &[f64]) -> Result<f64, SelectError> {
    check_pair(w, p, q)?;
    kl_kernel(w, p, q).map_err(|index| zero_error("q", "p", index, p[index]))
}

/// Symmetrised KL divergence `(KL(p||q) + KL(q||p)) / 2 = (1/2) sum_i w_i (p_i - q_i) log(p_i/q_i)`
/// (nats; every term >= 0). Nodes where both densities vanish contribute 0.
///
/// # Errors
/// As [`kl_divergence`]; a node where exactly one of p, q is zero makes the divergence
/// infinite and is an error naming which density is zero.
pub fn symmetric_kl(w: &[f64], p: &[f64], q: &[f64]) -> Result<f64, SelectError> {
    check_pair(w, p, q)?;
    let lp: Vec<f64> = p.iter().map(|x| x.ln()).collect();
    let lq: Vec<f64> = q.iter().map(|x| x.ln()).collect();
    sym_kl_kernel(w, p, &lp, q, &lq).map_err(|index| {
        if p[index] == 0.0 {
            zero_error("p", "q", index, q[index])
        } else {
            zero_error("q", "p", index, p[index])
        }
    })
}

/// Jensen–Shannon divergence `(KL(p||m) + KL(q||m)) / 2` with `m = (p + q) / 2` (nats, so it
/// lies in `[0, ln 2]`). Always finite: zeros are allowed.
///
/// # Errors
/// Empty input, length mismatch, non-finite or negative entries, non-positive weights,
/// non-normalised p or q.
pub fn jensen_shannon(w: &[f64], p: &[f64], q: &[f64]) -> Result<f64, SelectError> {
    check_pair(w, p, q)?;
    Ok(js_kernel(w, p, q))
}

fn zero_error(zero: &str, other: &str, index: usize, other_value: f64) -> SelectError {
    SelectError::ZeroDensity {
        zero: zero.into(),
        other: other.into(),
        index,
        other_value,
    }
}

/// `log(a / b)` for `a, b > 0`: through `log1p` when the ratio is near 1 (keeps digits of small
/// differences), as a difference of logs otherwise (no overflow, no loss when `a << b`).
fn log_ratio(a: f64, b: f64) -> f64 {
    let d = (a - b) / b;
    if d.abs() < 0.5 {
        d.ln_1p()
    } else {
        a.ln() - b.ln()
    }
}

/// `sum w [p log(p/q) - p + q]` on validated input; `Err(i)` if `q_i = 0 < p_i`.
fn kl_kernel(w: &[f64], p: &[f64], q: &[f64]) -> Result<f64, usize> {
    let mut sum = 0.0;
    for i in 0..w.len() {
        let (pi, qi) = (p[i], q[i]);
        let term = if pi == 0.0 {
            qi
        } else if qi == 0.0 {
            return Err(i);
        } else {
            pi * log_ratio(pi, qi) - (pi - qi)
        };
        sum += w[i] * term.max(0.0);
    }
    Ok(sum)
}

/// `(1/2) sum w (p - q)(log p - log q)` on validated input with precomputed logs;
/// `Err(i)` if exactly one of `p_i`, `q_i` is zero.
pub(crate) fn sym_kl_kernel(
    w: &[f64],
    p: &[f64],
    lp: &[f64],
    q: &[f64],
    lq: &[f64],
) -> Result<f64, usize> {
    let mut sum = 0.0;
    for i in 0..w.len() {
        let (pi, qi) = (p[i], q[i]);
        if pi == qi {
            continue;
        }
        if pi == 0.0 || qi == 0.0 {
            return Err(i);
        }
        sum += w[i] * (pi - qi) * (lp[i] - lq[i]);
    }
    Ok(0.5 * sum)
}

/// Jensen–Shannon divergence on validated input.
///
/// Per node, `p log(p/m) + q log(q/m)` with `m = (p + q)/2`; each node's term lies in
/// `[0, (p + q) ln 2]` (clamped there against rounding).
pub(crate) fn js_kernel(w: &[f64], p: &[f64], q: &[f64]) -> f64 {
    let mut sum = 0.0;
    for i in 0..w.len() {
        let (pi, qi) = (p[i], q[i]);
        let s = pi + qi;
        if s == 0.0 || pi == qi {
            continue;
        }
        let m = 0.5 * s;
        let a = if pi > 0.0 { pi * log_ratio(pi, m) } else { 0.0 };
        let b = if qi > 0.0 { qi * log_ratio(qi, m) } else { 0.0 };
        sum += w[i] * (a + b).clamp(0.0, s * std::f64::consts::LN_2);
    }
    0.5 * sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Trapezoid weights on a uniform grid of n nodes over [a, b].
    fn trapezoid(a: f64, b: f64, n: usize) -> (Vec<f64>, Vec<f64>) {
        let h = (b - a) / (n - 1) as f64;
        let x = (0..n).map(|i| a + h * i as f64).collect();
        let mut w = vec![h; n];
        w[0] = 0.5 * h;
        w[n - 1] = 0.5 * h;
        (x, w)
    }

    fn normalise(w: &[f64], mut p: Vec<f64>) -> Vec<f64> {
        let z: f64 = w.iter().zip(&p).map(|(a, b)| a * b).sum();
        p.iter_mut().for_each(|v| *v /= z);
        p
    }

    fn gaussian(w: &[f64], x: &[f64], mu: f64, sigma: f64) -> Vec<f64> {
        let p = x
            .iter()
            .map(|xi| (-(xi - mu).powi(2) / (2.0 * sigma * sigma)).exp())
            .collect();
        normalise(w, p)
    }

    /// A strictly positive density built from arbitrary positive node values.
    fn density() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
        (2usize..40).prop_flat_map(|n| {
            (
                prop::collection::vec(0.01f64..10.0, n),
                prop::collection::vec(1e-3f64..5.0, n),
                prop::collection::vec(1e-3f64..5.0, n),
            )
                .prop_map(|(w, p, q)| {
                    let p = normalise(&w, p);
                    let q = normalise(&w, q);
                    (w, p, q)
                })
        })
    }

    #[test]
    fn input_errors_name_the_problem() {
        let w = [0.5, 0.5];
        let p = [1.0, 1.0];
        let q = [0.4, 1.6];
        assert!(matches!(
            kl_divergence(&[], &[], &[]),
            Err(SelectError::Empty { .. })
        ));
        assert!(matches!(
            kl_divergence(&w, &p, &[1.0]),
            Err(SelectError::LengthMismatch { ref what, expected: 2, found: 1 }) if what == "q"
        ));
        assert!(matches!(
            symmetric_kl(&w, &[f64::NAN, 1.0], &q),
            Err(SelectError::NonFinite { ref what, index: 0, .. }) if what == "p"
        ));
        assert!(matches!(
            jensen_shannon(&w, &p, &[-0.2, 2.2]),
            Err(SelectError::Negative { ref what, index: 0, .. }) if what == "q"
        ));
        assert!(matches!(
            kl_divergence(&w, &[1.0, 1.1], &q),
            Err(SelectError::NotNormalised { ref what, .. }) if what == "p"
        ));
        assert!(matches!(
            kl_divergence(&[0.0, 1.0], &p, &q),
            Err(SelectError::NonPositiveWeight { index: 0, .. })
        ));
        // q = 0 where p > 0: KL(p||q) infinite.
        assert!(matches!(
            kl_divergence(&w, &p, &[0.0, 2.0]),
            Err(SelectError::ZeroDensity { ref zero, index: 0, .. }) if zero == "q"
        ));
        // p = 0 where q > 0 is fine for KL(p||q), but not for the symmetric one.
        assert!(kl_divergence(&w, &[0.0, 2.0], &p).is_ok());
        assert!(matches!(
            symmetric_kl(&w, &[0.0, 2.0], &p),
            Err(SelectError::ZeroDensity { ref zero, index: 0, .. }) if zero == "p"
        ));
        // Zeros at the same node are harmless; JS accepts any zeros.
        assert!(symmetric_kl(&w, &[0.0, 2.0], &[0.0, 2.0]).is_ok());
        assert!(jensen_shannon(&w, &[0.0, 2.0], &[2.0, 0.0]).is_ok());
    }

    #[test]
    fn disjoint_supports_give_js_ln2() {
        let w = [0.5, 0.5];
        let js = jensen_shannon(&w, &[0.0, 2.0], &[2.0, 0.0]).unwrap();
        assert!((js - std::f64::consts::LN_2).abs() < 1e-15);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn divergences_are_non_negative((w, p, q) in density()) {
            prop_assert!(kl_divergence(&w, &p, &q).unwrap() >= 0.0);
            prop_assert!(symmetric_kl(&w, &p, &q).unwrap() >= 0.0);
            prop_assert!(jensen_shannon(&w, &p, &q).unwrap() >= 0.0);
        }

        #[test]
        fn divergences_vanish_on_equal_inputs((w, p, _q) in density()) {
            prop_assert_eq!(kl_divergence(&w, &p, &p).unwrap(), 0.0);
            prop_assert_eq!(symmetric_kl(&w, &p, &p).unwrap(), 0.0);
            prop_assert_eq!(jensen_shannon(&w, &p, &p).unwrap(), 0.0);
        }

        #[test]
        fn symmetric_divergences_are_symmetric_and_consistent((w, p, q) in density()) {
            let s_pq = symmetric_kl(&w, &p, &q).unwrap();
            let s_qp = symmetric_kl(&w, &q, &p).unwrap();
            prop_assert!((s_pq - s_qp).abs() <= 1e-12 * s_pq.max(1e-300));
            let half_sum = 0.5 * (kl_divergence(&w, &p, &q).unwrap() + kl_divergence(&w, &q, &p).unwrap());
            prop_assert!((s_pq - half_sum).abs() <= 1e-9 * s_pq + 1e-13, "{} vs {}", s_pq, half_sum);
            let j_pq = jensen_shannon(&w, &p, &q).unwrap();
            let j_qp = jensen_shannon(&w, &q, &p).unwrap();
            prop_assert!((j_pq - j_qp).abs() <= 1e-12 * j_pq.max(1e-300));
        }

        #[test]
        fn js_is_at_most_ln2(
            (w, p, q) in density(),
            zeros in prop::collection::vec(any::<bool>(), 40),
        ) {
            // Zero out some nodes of p (and, elsewhere, of q) to approach disjoint supports.
            let n = w.len();
            let mut p = p;
            let mut q = q;
            for i in 0..n {
                if zeros[i] { p[i] = 0.0 } else if i % 2 == 0 { q[i] = 0.0 }
            }
            prop_assume!(p.iter().any(|v| *v > 0.0) && q.iter().any(|v| *v > 0.0));
            let p = normalise(&w, p);
            let q = normalise(&w, q);
            let js = jensen_shannon(&w, &p, &q).unwrap();
            prop_assert!((0.0..=std::f64::consts::LN_2 * (1.0 + 1e-12)).contains(&js), "{}", js);
        }

        #[test]
        fn kl_of_two_gaussians_matches_closed_form(
            mu1 in -1.0f64..1.0,
            mu2 in -1.0f64..1.0,
            s1 in 0.5f64..1.5,
            s2 in 0.5f64..1.5,
        ) {
            let (x, w) = trapezoid(-14.0, 14.0, 6001);
            let p = gaussian(&w, &x, mu1, s1);
            let q = gaussian(&w, &x, mu2, s2);
            let expected = (s2 / s1).ln() + (s1 * s1 + (mu1 - mu2).powi(2)) / (2.0 * s2 * s2) - 0.5;
            let kl = kl_divergence(&w, &p, &q).unwrap();
            prop_assert!((kl - expected).abs() < 1e-8, "{} vs {}", kl, expected);
            let expected_rev = (s1 / s2).ln() + (s2 * s2 + (mu1 - mu2).powi(2)) / (2.0 * s1 * s1) - 0.5;
            let sym = symmetric_kl(&w, &p, &q).unwrap();
            prop_assert!((sym - 0.5 * (expected + expected_rev)).abs() < 1e-8);
        }
    }
}
