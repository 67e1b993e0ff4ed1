//! The Runge–Kutta–Chebyshev path method ([`Rkc`]): the descent path of gradient descent with
//! far fewer gradient evaluations.
//!
//! Gradient descent with learning rates P moves the parameters by v(theta) = -P grad(-log L)
//! per iteration: it is the forward Euler scheme, step 1, for the gradient flow
//! d theta / dt = v(theta), t counted in iterations (docs/method.md, "The path method"). Its
//! step is bounded by the stiffest direction of the problem, while the slow directions — the
//! features selection is about — take tens of thousands of steps. The damped second-order RKC
//! scheme (van der Houwen & Sommeijer 1980; Sommeijer, Shampine & Verwer 1997) takes one step
//! of h iterations with s gradient evaluations and is stable for h rho <= 0.65 (s^2 - 1), rho
//! the spectral radius of v's Jacobian: evaluations per iteration fall like 1 / sqrt(h). The
//! step h is chosen by a local error estimate, so the path follows the flow to a tolerance
//! (where that asks for h < 1 — the fast start of a fit — it takes gradient descent's own
//! steps of one iteration). A step may pass iterations the save schedule keeps: their models
//! are interpolated within the step and evaluated, so the path keeps models as densely as
//! gradient descent's.

use serde::{Deserialize, Serialize};

use crate::OptimError;

/// Settings of the RKC path method.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rkc {
    /// Local error tolerance per step, relative and absolute, on the fitted parameters (F on
    /// the nodes, D, ln C ...): the RMS of error / (tolerance (1 + |theta|)) must stay <= 1.
    pub tolerance: f64,
    /// Accepted steps between estimates of the spectral radius.
    pub radius_every: u32,
}

impl Default for Rkc {
    fn default() -> Self {
        Rkc {
            tolerance: 1e-3,
            radius_every: 10,
        }
    }
}

impl Rkc {
    /// Checks the ranges: 0 < tolerance < 1, radius_every >= 1.
    pub fn validate(&self) -> Result<(), OptimError> {
        if !(self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err(OptimError::Config(format!(
                "the RKC tolerance {} must lie in (0, 1)",
                self.tolerance
            )));
        }
        if self.radius_every == 0 {
            return Err(OptimError::Config(
                "the RKC spectral-radius period must be at least 1 step".into(),
            ));
        }
        Ok(())
    }
}

/// What the RKC method carries from step to step (checkpointed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RkcState {
    /// Step length (iterations) the error control proposes next.
    pub step: f64,
    /// Estimate of the spectral radius of v's Jacobian (per iteration), with a safety factor.
    pub radius: f64,
    /// The direction of the last power iteration (flow coordinates).
    pub radius_vector: Vec<f64>,
    /// Accepted steps since the radius was estimated.
    pub since_radius: u32,
}

/// Damping of the scheme (the usual epsilon = 2/13).
const DAMPING: f64 = 2.0 / 13.0;

/// Safety factor on the estimated spectral radius.
pub(crate) const RADIUS_SAFETY: f64 = 1.2;

/// Stages for a step of `h` iterations when the spectral radius is `radius`: the smallest s
/// >= 2 with h radius <= 0.65 (s^2 - 1).
pub(crate) fn stages(h: f64, radius: f64) -> usize {
    (1.0 + (1.0 + 1.54 * h * radius).sqrt()).floor().max(2.0) as usize
}

/// One stage's coefficients: Y_j = (1 - mu - nu) Y_0 + mu Y_{j-1} + nu Y_{j-2}
/// + mu_tilde h v(Y_{j-1}) + gamma_tilde h v(Y_0).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stage {
    pub mu: f64,
    pub nu: f64,
    pub mu_tilde: f64,
    pub gamma_tilde: f64,
}

/// Coefficients of the s-stage scheme: Y_1 = Y_0 + `first` h v(Y_0), then `rest` for
/// j = 2..s; Y_s is the step's result.
pub(crate) struct Coefficients {
    pub first: f64,
    pub rest: Vec<Stage>,
}

/// The damped RKC2 coefficients for `s` >= 2 stages, from the Chebyshev polynomials T_j and
/// their derivatives at w0 = 1 + epsilon / s^2.
pub(crate) fn coefficients(s: usize) -> Coefficients {
    let s = s.max(2);
    let w0 = 1.0 + DAMPING / (s * s) as f64;
    let (mut t, mut dt, mut ddt) = (vec![0.0; s + 1], vec![0.0; s + 1], vec![0.0; s + 1]);
    t[0] = 1.0;
    t[1] = w0;
    dt[1] = 1.0;
    for j in 2..=s {
        t[j] = 2.0 * w0 * t[j - 1] - t[j - 2];
        dt[j] = 2.0 * t[j - 1] + 2.0 * w0 * dt[j - 1] - dt[j - 2];
        ddt[j] = 4.0 * dt[j - 1] + 2.0 * w0 * ddt[j - 1] - ddt[j - 2];
    }
    let w1 = dt[s] / ddt[s];
    let mut b = vec![0.0; s + 1];
    for j in 2..=s {
        b[j] = ddt[j] / (dt[j] * dt[j]);
    }
    b[0] = b[2];
    b[1] = b[2];
    let a = |j: usize| 1.0 - b[j] * t[j];
    let rest = (2..=s)
        .map(|j| {
            let mu_tilde = 2.0 * w1 * b[j] / b[j - 1];
            Stage {
                mu: 2.0 * w0 * b[j] / b[j - 1],
                nu: -b[j] / b[j - 2],
                mu_tilde,
                gamma_tilde: -a(j - 1) * mu_tilde,
            }
        })
        .collect();
    Coefficients {
        first: b[1] * w1,
        rest,
    }
}

/// The local error of a step of `h` iterations from `y0` (velocity `v0`) to `y1` (velocity
/// `v1`), 0.8 (y0 - y1) + 0.4 h (v0 + v1), as an RMS in units of tolerance (1 + |y|):
/// <= 1 passes.
pub(crate) fn error_norm(y0: &[f64], y1: &[f64], v0: &[f64], v1: &[f64], h: f64, tol: f64) -> f64 {
    let n = y0.len().max(1) as f64;
    let sum: f64 = (0..y0.len())
        .map(|i| {
            let e = 0.8 * (y0[i] - y1[i]) + 0.4 * h * (v0[i] + v1[i]);
            let scale = tol * (1.0 + y0[i].abs().max(y1[i].abs()));
            (e / scale).powi(2)
        })
        .sum();
    (sum / n).sqrt()
}

/// The next step length after a step of `h` with error `err` (the usual cube-root rule, at
/// most doubling, at least a tenth).
pub(crate) fn next_step(h: f64, err: f64) -> f64 {
    h * (0.8 / err.max(1e-10).cbrt()).clamp(0.1, 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One RKC step on the linear problem y' = -lambda y: the stability polynomial.
    fn step_linear(lambda: f64, h: f64, s: usize) -> f64 {
        let c = coefficients(s);
        let v = |y: f64| -lambda * y;
        let y0 = 1.0;
        let mut ym2 = y0;
        let mut ym1 = y0 + c.first * h * v(y0);
        for st in &c.rest {
            let y = (1.0 - st.mu - st.nu) * y0
                + st.mu * ym1
                + st.nu * ym2
                + st.mu_tilde * h * v(ym1)
                + st.gamma_tilde * h * v(y0);
            ym2 = ym1;
            ym1 = y;
        }
        ym1
    }

    #[test]
    fn second_order_on_the_slow_end() {
        // exp(-z) to second order: the error of one step scales like z^3.
        for s in [2, 5, 17] {
            let e1 = (step_linear(1.0, 0.01, s) - (-0.01f64).exp()).abs();
            let e2 = (step_linear(1.0, 0.005, s) - (-0.005f64).exp()).abs();
            assert!(e1 < 1e-6, "s {s}: {e1}");
            let order = (e1 / e2).log2();
            assert!(order > 2.7 && order < 3.3, "s {s}: local order {order}");
        }
    }

    #[test]
    fn stable_out_to_the_chosen_stages() {
        // The stage rule keeps |R(-h lambda)| < 1 on the whole interval it claims.
        for h in [1.0, 10.0, 100.0, 1000.0] {
            let radius = 0.75;
            let s = stages(h, radius);
            for k in 0..=200 {
                let lambda = radius * k as f64 / 200.0;
                let r = step_linear(lambda, h, s).abs();
                assert!(r <= 1.0 + 1e-12, "h {h} s {s} lambda {lambda}: |R| = {r}");
            }
            // and forward Euler with the same h is unstable beyond 2 / h
            if h * radius > 2.0 {
                assert!((1.0 - h * radius).abs() > 1.0);
            }
        }
    }

    #[test]
    fn error_norm_zero_on_a_linear_path() {
        // On a constant velocity the estimate vanishes.
        let y0 = [1.0, 2.0];
        let v = [0.1, -0.2];
        let y1 = [1.0 + 10.0 * 0.1, 2.0 - 10.0 * 0.2];
        assert!(error_norm(&y0, &y1, &v, &v, 10.0, 1e-4) < 1e-9);
        assert!(error_norm(&y0, &y1, &v, &[0.2, -0.2], 10.0, 1e-4) > 1.0);
    }
}
