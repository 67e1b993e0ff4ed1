//! The RKC step of the fit loop ([`crate::Rkc`], method.md §5): the velocity of the flow
//! gradient descent follows, the spectral-radius estimate that sets the stages, and one
//! error-controlled step that never passes the end of the run, with the saved iterations it
//! passes interpolated.

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

    /// One step of the RKC path method from the last accepted model (on the first call, the
    /// initial model, evaluated and recorded first), ending at most at the configured end: the
    /// proposed model is evaluated; if the step fails the error control (or raises the training
    /// -log L by more than the backtracking tolerance, or cannot be evaluated) it is taken
    /// again, shorter. Once accepted, the models of the saved iterations the step passed are
    /// interpolated (the cubic through both ends and their velocities), evaluated and kept, then
    /// the step's end is recorded and becomes the accepted model.
    pub(super) fn step_rkc(&mut self, rkc: Rkc) -> Result<IterationRecord, OptimError> {
        let here = match self.state.accepted.take() {
            Some(here) => here,
            None => self.start_rkc()?,
        };
        let t = here.iteration;
        // Past the configured end (a caller stepping on), the next step is one iteration.
        let limit = self.config.iterations.max(t + 1);
        let before = (
            self.state.rkc.clone(),
            self.state.step_factor,
            self.state.accepted_in_a_row,
        );
        let result = self.rkc_step_from(rkc, &here, limit);
        if result.is_err() {
            // Keep the last good state: the accepted model.
            (
                self.state.rkc,
                self.state.step_factor,
                self.state.accepted_in_a_row,
            ) = before;
            self.state.accepted = Some(here);
        }
        result
    }

    /// Evaluates and records the initial model: the first accepted point.
    fn start_rkc(&mut self) -> Result<AcceptedPoint, OptimError> {
        let params = self.state.params.clone();
        let outcome = self.evaluate(&params, None);
        self.state.evaluations += 1;
        let eval = outcome.map_err(|reason| diverged(self.state.iteration, reason))?;
        let record = self.record_at(self.state.iteration, &eval, 0);
        self.keep(record, &params, eval.peq);
        Ok(AcceptedPoint {
            iteration: self.state.iteration,
            params,
            method_state: MethodState::default(),
            value: eval.value,
            grad: eval.grad,
        })
    }

    /// [`Fit::step_rkc`] from the accepted model `here` (iteration < `limit`).
    fn rkc_step_from(
        &mut self,
        rkc: Rkc,
        here: &AcceptedPoint,
        limit: u64,
    ) -> Result<IterationRecord, OptimError> {
        let t = here.iteration;
        let state = self.state.rkc.get_or_insert_with(|| RkcState {
            step: 1.0,
            ..RkcState::default()
        });
        let due = state.radius == 0.0 || state.since_radius >= rkc.radius_every;
        let mut h = state.step.min((limit - t) as f64).max(1.0) as u64;
        let mut v0 = self.velocity(&here.params, &here.grad)?;
        if due {
            self.estimate_radius(&here.params, &v0, if t == 0 { 20 } else { 5 })?;
        }
        let rise = self.config.backtracking.map(|b| b.tolerance);
        let scale = self.config.learning_rates.scale;
        let y0 = flow_coordinates(&here.params, self.config.fit, scale)?;
        let mut rejected = 0u32;
        let mut last_reason = String::new();
        let (proposal, eval, y1, v1, err) = loop {
            let Some(proposal) = self.proposal_from(here, &mut h, &last_reason)? else {
                continue;
            };
            let outcome = self.evaluate(&proposal, None);
            self.state.evaluations += 1;
            let (reason, err) = match outcome {
                Err(reason) => (reason, None),
                Ok(e) => {
                    let y1 = flow_coordinates(&proposal, self.config.fit, scale)?;
                    let v1 = self.velocity(&proposal, &e.grad)?;
                    let err = error_norm(&y0, &y1, &v0, &v1, h as f64, rkc.tolerance);
                    // A step of one iteration is gradient descent's: never too long.
                    if err > 1.0 && h > 1 {
                        (
                            format!("local error {err:.2} times the tolerance"),
                            Some(err),
                        )
                    } else if let Some(tol) = rise
                        && e.value > here.value + tol
                    {
                        let r = e.value - here.value;
                        (
                            format!("the training -log L rose by {r:.3} nats"),
                            Some(err),
                        )
                    } else {
                        break (proposal, e, y1, v1, err);
                    }
                }
            };
            rejected += 1;
            last_reason = reason;
            // Shorter, down to gradient descent's single iteration; a failed single
            // iteration ends the fit.
            let shorter = match err {
                Some(err) => next_step(h as f64, err).min(0.5 * h as f64),
                None => 0.25 * h as f64,
            };
            h = if h > 1 { shorter.max(1.0) as u64 } else { 0 };
            // Gradient descent's own step too long: shorten it as gradient descent's
            // backtracking does, by lowering the learning rates (the radius scales with them).
            if h == 0
                && let Some(bt) = self.config.backtracking
                && self.state.step_factor * bt.shrink >= bt.min_factor
            {
                self.set_step_factor(self.state.step_factor * bt.shrink);
                self.state.accepted_in_a_row = 0;
                h = 1;
            }
            // Instability shows as a large error: estimate the radius afresh (the velocity
            // scales with the step factor).
            v0 = self.velocity(&here.params, &here.grad)?;
            self.estimate_radius(&here.params, &v0, 10)?;
        };
        let t1 = t + h;
        for (record, params, peq) in self.interpolated(here, &y0, &v0, &y1, &v1, t1)? {
            self.keep(record, &params, peq);
        }
        let record = self.record_at(t1, &eval, rejected);
        self.keep(record, &proposal, eval.peq);
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
        let state = self.state.rkc.as_mut().expect("set above");
        state.step = next_step(h as f64, err);
        state.since_radius += 1;
        self.state.params = proposal.clone();
        self.state.iteration = t1;
        self.state.accepted = Some(AcceptedPoint {
            iteration: t1,
            params: proposal,
            method_state: MethodState::default(),
            value: eval.value,
            grad: eval.grad,
        });
        Ok(record)
    }

    /// The proposal of a step of `h` iterations from `from`; a proposal that cannot be
    /// evaluated inside is retried with a quarter of the step (`Ok(None)`, `h` shortened), and
    /// `h` = 0 (no step left) is an error naming `last_reason`.
    fn proposal_from(
        &mut self,
        from: &AcceptedPoint,
        h: &mut u64,
        last_reason: &str,
    ) -> Result<Option<Params>, OptimError> {
        if *h == 0 {
            let why = if last_reason.is_empty() {
                "no step can be evaluated".to_string()
            } else {
                format!("last try: {last_reason}")
            };
            return Err(diverged(
                from.iteration,
                format!(
                    "the path method finds no step from the model of iteration {} ({why})",
                    from.iteration
                ),
            ));
        }
        let proposal = self.rkc_proposal(from, *h)?;
        if proposal.is_none() {
            *h = if *h > 1 { (*h / 4).max(1) } else { 0 };
        }
        Ok(proposal)
    }

    /// The records and models (with their peq) of the saved iterations strictly between the
    /// accepted model `from` (flow coordinates `y0`, velocity `v0`) and the step's end (`y1`,
    /// `v1`) at iteration `t1`: cubic Hermite interpolation in flow coordinates,
    /// whose error is of the order of the step's own, then evaluated.
    fn interpolated(
        &mut self,
        from: &AcceptedPoint,
        y0: &[f64],
        v0: &[f64],
        y1: &[f64],
        v1: &[f64],
        t1: u64,
    ) -> Result<Vec<(IterationRecord, Params, Vec<f64>)>, OptimError> {
        let (t0, save) = (from.iteration, self.config.save);
        let c = &self.config;
        let (fit, scale, floors) = (c.fit, c.learning_rates.scale, c.floors);
        let h = (t1 - t0) as f64;
        let mut kept = Vec::new();
        for i in (t0 + 1..t1).filter(|&i| save.saves(i)) {
            let y = hermite(y0, v0, y1, v1, h, (i - t0) as f64 / h);
            let params = with_flow_coordinates(&from.params, fit, scale, &floors, &y)?;
            let outcome = self.evaluate(&params, None);
            self.state.evaluations += 1;
            let eval = outcome.map_err(|reason| {
                diverged(
                    t0,
                    format!("the path method cannot evaluate its model of iteration {i}: {reason}"),
                )
            })?;
            kept.push((self.record_at(i, &eval, 0), params, eval.peq));
        }
        Ok(kept)
    }
}

/// The cubic Hermite interpolant at `theta` in [0, 1] of a step of `h` iterations from `y0`
/// (velocity `v0`, per iteration) to `y1` (velocity `v1`).
fn hermite(y0: &[f64], v0: &[f64], y1: &[f64], v1: &[f64], h: f64, theta: f64) -> Vec<f64> {
    let (t2, t3) = (theta * theta, theta * theta * theta);
    let (a0, b0) = (2.0 * t3 - 3.0 * t2 + 1.0, h * (t3 - 2.0 * t2 + theta));
    let (a1, b1) = (3.0 * t2 - 2.0 * t3, h * (t3 - t2));
    (0..y0.len())
        .map(|k| a0 * y0[k] + b0 * v0[k] + a1 * y1[k] + b1 * v1[k])
        .collect()
}
