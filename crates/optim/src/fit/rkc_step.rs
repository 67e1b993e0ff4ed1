//! The RKC step of the fit loop ([`crate::Rkc`], method.md §5): the velocity of the flow
//! gradient descent follows, the spectral-radius estimate that sets the stages, and one
//! error-controlled step that never passes a saved iteration or the limit it is given (the end
//! of the run or the next early-stop check).

use latentflow_spectral::norm;

use super::{AcceptedPoint, Fit, diverged};
use crate::method::{Method, MethodState, flow_coordinates, step, with_flow_coordinates};
use crate::rkc::{RADIUS_SAFETY, Rkc, RkcState, coefficients, error_norm, next_step, stages};
use crate::{IterationRecord, OptimError, ParamGradients, Params, Problem};

impl<P: Problem> Fit<P> {
    /// The parameters' velocity along the flow gradient descent follows: one full step of
    /// gradient descent from `params` (gradient `grad`), in flow coordinates, with the learning
    /// rates times the step factor (1 unless gradient descent's own step had to be shortened).
    fn velocity(&self, params: &Params, grad: &ParamGradients) -> Result<Vec<f64>, OptimError> {
        let c = &self.config;
        let scale = c.learning_rates.scale;
        let mut next = params.clone();
        step(
            Method::GradientDescent,
            &mut MethodState::default(),
            &mut next,
            grad,
            c.fit,
            &c.learning_rates,
            &c.floors,
            &self.problem.spike_counts(None),
            self.state.step_factor,
        )?;
        let (y0, y1) = (
            flow_coordinates(params, c.fit, scale)?,
            flow_coordinates(&next, c.fit, scale)?,
        );
        Ok(y1.iter().zip(&y0).map(|(a, b)| a - b).collect())
    }

    /// The flow's velocity at flow coordinates `y` (relative to `base`'s other parameters),
    /// from a gradient-only evaluation: `Ok(None)` if the model cannot be evaluated there.
    fn velocity_at(&mut self, base: &Params, y: &[f64]) -> Result<Option<Vec<f64>>, OptimError> {
        let c = &self.config;
        let params = with_flow_coordinates(base, c.fit, c.learning_rates.scale, &c.floors, y)?;
        self.state.evaluations += 1;
        let grad = match self.problem.gradient(&params, c.fit, None) {
            Ok((value, grad)) if value.is_finite() && grad.is_finite() => grad,
            _ => return Ok(None),
        };
        self.velocity(&params, &grad).map(Some)
    }

    /// Sets the step factor to `factor`, scaling the flow's spectral radius with it (the
    /// velocity is linear in the factor).
    fn set_step_factor(&mut self, factor: f64) {
        if let Some(r) = self.state.rkc.as_mut() {
            r.radius *= factor / self.state.step_factor;
        }
        self.state.step_factor = factor;
    }

    /// One RKC step of `h` iterations from `from` (for h = 1 the gradient-descent step): the
    /// proposed parameters, or `Ok(None)` if an inner evaluation failed.
    fn rkc_proposal(&mut self, from: &AcceptedPoint, h: u64) -> Result<Option<Params>, OptimError> {
        let c = &self.config;
        let (fit, scale, floors) = (c.fit, c.learning_rates.scale, c.floors);
        let radius = self.state.rkc.as_ref().map_or(0.0, |r| r.radius);
        let h = h as f64;
        let coef = coefficients(stages(h, radius));
        let y0 = flow_coordinates(&from.params, fit, scale)?;
        let v0 = self.velocity(&from.params, &from.grad)?;
        let mut older = y0.clone();
        if h <= 1.0 {
            // One iteration is gradient descent's own step.
            let next: Vec<f64> = y0.iter().zip(&v0).map(|(y, v)| y + v).collect();
            let params = with_flow_coordinates(&from.params, fit, scale, &floors, &next)?;
            return Ok(params.is_finite().then_some(params));
        }
        let mut last: Vec<f64> = y0
            .iter()
            .zip(&v0)
            .map(|(y, v)| y + coef.first * h * v)
            .collect();
        for st in &coef.rest {
            let Some(v) = self.velocity_at(&from.params, &last)? else {
                return Ok(None);
            };
            let next: Vec<f64> = (0..y0.len())
                .map(|i| {
                    (1.0 - st.mu - st.nu) * y0[i]
                        + st.mu * last[i]
                        + st.nu * older[i]
                        + st.mu_tilde * h * v[i]
                        + st.gamma_tilde * h * v0[i]
                })
                .collect();
            older = std::mem::replace(&mut last, next);
        }
        let params = with_flow_coordinates(&from.params, fit, scale, &floors, &last)?;
        Ok(params.is_finite().then_some(params))
    }

    /// Estimates the spectral radius of the flow's Jacobian at `at` (velocity `v`) by
    /// `iterations` power iterations on finite differences of the velocity, starting from the
    /// last estimate's direction.
    fn estimate_radius(
        &mut self,
        at: &Params,
        v: &[f64],
        iterations: u32,
    ) -> Result<(), OptimError> {
        let c = &self.config;
        let y = flow_coordinates(at, c.fit, c.learning_rates.scale)?;
        let mut state = self.state.rkc.take().unwrap_or_default();
        let mut z = if state.radius_vector.len() == y.len() {
            std::mem::take(&mut state.radius_vector)
        } else {
            // A fixed start with weight on every component.
            (0..y.len()).map(|i| 1.0 + (i % 7) as f64).collect()
        };
        let delta = 1e-6 * (1.0 + norm(&y));
        let mut radius = state.radius / RADIUS_SAFETY;
        for _ in 0..iterations {
            let nz = norm(&z);
            if !(nz > 0.0 && nz.is_finite()) {
                break;
            }
            let yz: Vec<f64> = y.iter().zip(&z).map(|(a, b)| a + delta * b / nz).collect();
            let Some(vz) = self.velocity_at(at, &yz)? else {
                break;
            };
            z = vz.iter().zip(v).map(|(a, b)| (a - b) / delta).collect();
            radius = norm(&z);
        }
        state.radius = RADIUS_SAFETY * radius;
        state.radius_vector = z;
        state.since_radius = 0;
        self.state.rkc = Some(state);
        Ok(())
    }

    /// One step of the RKC path method: evaluates the proposed model; if the step that led
    /// to it fails the error control (or raises the training -log L by more than the
    /// backtracking tolerance, or cannot be evaluated) it is taken again, shorter, from the
    /// last accepted model; then records the model and proposes the next one, at most at
    /// iteration `limit`.
    pub(super) fn step_rkc(&mut self, rkc: Rkc, limit: u64) -> Result<IterationRecord, OptimError> {
        let before = (
            self.state.params.clone(),
            self.state.iteration,
            self.state.rkc.clone(),
        );
        let rise = self.config.backtracking.map(|b| b.tolerance);
        let mut rejected = 0u32;
        let mut step_error = None;
        let eval = loop {
            let outcome = self.evaluate(None);
            self.state.evaluations += 1;
            let Some(accepted) = self.state.accepted.take() else {
                match outcome {
                    Ok(eval) => break eval,
                    Err(reason) => return Err(diverged(self.state.iteration, reason)),
                }
            };
            let h = self.state.iteration - accepted.iteration;
            let (reason, err) = match &outcome {
                Err(reason) => (Some(reason.clone()), None),
                Ok(e) => {
                    let c = &self.config;
                    let scale = c.learning_rates.scale;
                    let err = error_norm(
                        &flow_coordinates(&accepted.params, c.fit, scale)?,
                        &flow_coordinates(&self.state.params, c.fit, scale)?,
                        &self.velocity(&accepted.params, &accepted.grad)?,
                        &self.velocity(&self.state.params, &e.grad)?,
                        h as f64,
                        rkc.tolerance,
                    );
                    // A step of one iteration is gradient descent's: never too long.
                    let reason = if err > 1.0 && h > 1 {
                        Some(format!("local error {err:.2} times the tolerance"))
                    } else if let Some(tol) = rise
                        && e.value > accepted.value + tol
                    {
                        Some(format!(
                            "the training -log L rose by {:.3} nats",
                            e.value - accepted.value
                        ))
                    } else {
                        None
                    };
                    (reason, Some(err))
                }
            };
            let Some(reason) = reason else {
                step_error = err.map(|e| (h, e));
                self.state.accepted = Some(accepted);
                break outcome.expect("accepted above");
            };
            rejected += 1;
            // Shorter, down to gradient descent's single iteration; a failed single
            // iteration ends the fit.
            let mut shorter = match err {
                Some(err) => next_step(h as f64, err).min(0.5 * h as f64),
                None => 0.25 * h as f64,
            };
            shorter = if h > 1 { shorter.max(1.0) } else { 0.0 };
            // Gradient descent's own step too long: shorten it as gradient descent's
            // backtracking does, by lowering the learning rates (the radius scales with them).
            if shorter < 1.0
                && let Some(bt) = self.config.backtracking
                && self.state.step_factor * bt.shrink >= bt.min_factor
            {
                self.set_step_factor(self.state.step_factor * bt.shrink);
                self.state.accepted_in_a_row = 0;
                shorter = 1.0;
            }
            // Instability shows as a large error: estimate the radius afresh.
            let v = self.velocity(&accepted.params, &accepted.grad)?;
            self.estimate_radius(&accepted.params, &v, 10)?;
            let proposal = loop {
                if shorter < 1.0 {
                    (self.state.params, self.state.iteration, self.state.rkc) = before;
                    self.state.accepted = Some(accepted);
                    return Err(diverged(
                        self.state.iteration,
                        format!(
                            "the path method finds no step from the model of iteration {} \
                             (last try: {reason})",
                            self.state.accepted.as_ref().map_or(0, |a| a.iteration)
                        ),
                    ));
                }
                match self.rkc_proposal(&accepted, shorter as u64)? {
                    Some(p) => break p,
                    None if shorter > 1.0 => shorter = (0.25 * shorter).max(1.0),
                    None => shorter = 0.0,
                }
            };
            self.state.params = proposal;
            self.state.iteration = accepted.iteration + shorter as u64;
            self.state.accepted = Some(accepted);
        };
        let t = self.state.iteration;
        // Past the configured end (a caller stepping on), the next step is one iteration.
        let limit = limit.max(t + 1);
        let record = self.record(&eval, rejected);
        let first = self.state.accepted.as_ref().map_or(0, |a| a.iteration + 1);
        let base = self.state.params.clone();
        self.keep(record, &base, eval.peq, first);
        // As gradient descent's backtracking: the rates double back after enough accepted
        // steps in a row.
        if let Some(bt) = self.config.backtracking
            && self.state.step_factor < 1.0
        {
            if rejected == 0 {
                self.state.accepted_in_a_row += 1;
            }
            if bt.regrow_after > 0 && self.state.accepted_in_a_row >= bt.regrow_after {
                self.set_step_factor((2.0 * self.state.step_factor).min(1.0));
                self.state.accepted_in_a_row = 0;
            }
        }
        let state = self.state.rkc.get_or_insert_with(|| RkcState {
            step: 1.0,
            ..RkcState::default()
        });
        if let Some((h, err)) = step_error {
            state.step = next_step(h as f64, err);
        }
        state.since_radius += 1;
        let due = state.radius == 0.0 || state.since_radius >= rkc.radius_every;
        let save = self.config.save;
        let next_save = (t + 1..limit).find(|&i| save.saves(i)).unwrap_or(limit);
        let mut h = state.step.min((next_save - t) as f64).max(1.0);
        let here = AcceptedPoint {
            iteration: t,
            params: base,
            method_state: MethodState::default(),
            value: eval.value,
            grad: eval.grad,
        };
        if due {
            let v = self.velocity(&here.params, &here.grad)?;
            self.estimate_radius(&here.params, &v, if t == 0 { 20 } else { 5 })?;
        }
        let proposal = loop {
            match self.rkc_proposal(&here, h as u64)? {
                Some(p) => break p,
                None if h > 1.0 => h = (0.25 * h).max(1.0),
                None => {
                    return Err(diverged(
                        t,
                        "the path method cannot evaluate any step from this model".into(),
                    ));
                }
            }
        };
        self.state.params = proposal;
        self.state.iteration = t + h as u64;
        self.state.accepted = Some(here);
        Ok(record)
    }
}
