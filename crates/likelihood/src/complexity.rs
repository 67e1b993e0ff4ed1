//! Feature complexity: how much structure a model's potential has (`docs/method.md` §6).

use crate::LikelihoodError;

/// Feature complexity of an equilibrium model, `FC = (1/4) sum_i w_i F_i^2 peq_i`
/// (= `integral (d sqrt(peq)/dx)^2 dx`; units 1/length^2 of the latent axis), from the
/// quadrature weights `w`, the density `peq` and the driving force `F = d log peq / dx` at the
/// nodes. A flat potential has FC 0; the paper's double well about 8.6.
///
/// # Errors
/// Lengths that differ, or a non-finite entry.
pub fn feature_complexity(w: &[f64], peq: &[f64], force: &[f64]) -> Result<f64, LikelihoodError> {
    if peq.len() != w.len() || force.len() != w.len() {
        return Err(LikelihoodError::InvalidModel(format!(
            "feature complexity needs w, peq and F of one length (got {}, {}, {})",
            w.len(),
            peq.len(),
            force.len()
        )));
    }
    if let Some(i) =
        (0..w.len()).find(|&i| !(w[i].is_finite() && peq[i].is_finite() && force[i].is_finite()))
    {
        return Err(LikelihoodError::InvalidModel(format!(
            "feature complexity: a non-finite value at node {i}"
        )));
    }
    Ok(0.25
        * w.iter()
            .zip(peq)
            .zip(force)
            .map(|((wi, pi), fi)| wi * fi * fi * pi)
            .sum::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_complexity_of_a_gaussian_is_one_over_four_sigma_squared() {
        let n = 4001;
        let h = 24.0 / (n - 1) as f64;
        let x: Vec<f64> = (0..n).map(|i| -12.0 + h * i as f64).collect();
        let mut w = vec![h; n];
        w[0] = h / 2.0;
        w[n - 1] = h / 2.0;
        let (mu, sigma) = (0.3, 0.8);
        let p: Vec<f64> = x
            .iter()
            .map(|xi| (-(xi - mu) * (xi - mu) / (2.0 * sigma * sigma)).exp())
            .collect();
        let z: f64 = p.iter().zip(&w).map(|(p, w)| p * w).sum();
        let p: Vec<f64> = p.iter().map(|p| p / z).collect();
        let force: Vec<f64> = x.iter().map(|xi| -(xi - mu) / (sigma * sigma)).collect();
        let fc = feature_complexity(&w, &p, &force).unwrap();
        let expected = 1.0 / (4.0 * sigma * sigma);
        assert!(
            (fc - expected).abs() < 1e-9 * expected,
            "{fc} vs {expected}"
        );
        assert!(feature_complexity(&w, &p, &force[1..]).is_err());
        let mut bad = force.clone();
        bad[7] = f64::INFINITY;
        assert!(feature_complexity(&w, &p, &bad).is_err());
    }
}
