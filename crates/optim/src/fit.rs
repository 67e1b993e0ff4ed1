//! The fit loop: runs a [`Method`] on a [`Problem`], rejects steps that make the fit worse
//! ([`crate::Backtracking`]), records every iteration, saves models on a schedule into a
//! [`FitPath`], checkpoints, and reports to observers.

mod rkc_step;

use std::path::Path;

use latentflow_spectral::{BoundaryMode, GridSpec};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{
    Checkpoint, ModelLog, Resumed, fingerprint, read_checkpoint, write_checkpoint,
};
use crate::line_search::line_search;
use crate::method::{Method, MethodState, step};
use crate::rkc::RkcState;
use crate::{
    Evaluation, FitConfig, FitPath, IterationRecord, Observer, OptimError, ParamGradients, Params,
    Problem, Rates, SavedModel,
};

/// The last accepted model: where a rejected step returns to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedPoint {
    /// Its iteration.
    pub iteration: u64,
    /// Its parameters.
    pub params: Params,
    /// The update rule's state before the step from it.
    pub method_state: MethodState,
    /// Its training -log L.
    pub value: f64,
    /// Its gradients.
    pub grad: ParamGradients,
}

/// Everything needed to continue a fit: the next iteration, the parameters to evaluate there,
/// the method's state, the step control's state, the path so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitState {
    /// Next iteration to run (for the RKC method: the iteration of its last accepted model).
    pub iteration: u64,
    /// Parameters of that iteration.
    pub params: Params,
    /// Update-rule state (Adam moments).
    pub method_state: MethodState,
    /// Factor on the learning rates of the step that led to `params` (1 unless steps were
    /// rejected).
    pub step_factor: f64,
    /// Steps accepted in a row since the factor last changed.
    pub accepted_in_a_row: u64,
    /// The last accepted model: with gradient descent the model `params` was stepped from
    /// (`None` at iteration 0 and without backtracking); with the RKC method `params` itself,
    /// evaluated (`None` before the first evaluation).
    pub accepted: Option<AcceptedPoint>,
    /// Gradient evaluations so far (all of them: rejected steps, inner stages).
    pub evaluations: u64,
    /// The RKC method's step control (`None` for the other methods, and before its first step).
    pub rkc: Option<RkcState>,
    /// The path so far.
    pub path: FitPath,
}

/// A fit in progress. Drive it with [`Fit::run`] or one iteration at a time with [`Fit::step`]
/// (e.g. two fits in lockstep).
#[derive(Debug)]
pub struct Fit<P: Problem> {
    problem: P,
    config: FitConfig,
    state: FitState,
    /// What checkpoints are stamped with ([`crate::checkpoint`]).
    fingerprint: u32,
    /// Set when [`Fit::resume`] had to read the previous checkpoint.
    resume_note: Option<String>,
    /// Iteration and evaluation count of the good checkpoint this fit wrote or read at the
    /// configured path (none if unknown): only a good one is kept as the fallback when the
    /// next is written, and an unchanged state is not written twice.
    checkpointed: Option<(u64, u64)>,
    /// How far the models file of the configured checkpoint goes (none: start it anew).
    model_log: Option<ModelLog>,
}

impl<P: Problem> Fit<P> {
    /// A new fit from `initial` parameters; the settings are checked
    /// ([`FitConfig::validate`]). `grid` and `boundary` are recorded in the path.
    pub fn new(
        problem: P,
        initial: Params,
        config: FitConfig,
        grid: GridSpec,
        boundary: BoundaryMode,
        nv: usize,
    ) -> Result<Fit<P>, OptimError> {
        config.validate()?;
        if config.v1_sign_term.is_some() && initial.force0.is_some() {
            return Err(OptimError::Config(
                "the paper's code's sign term needs an equilibrium model (no separate p0)".into(),
            ));
        }
        if initial.conditions.is_some()
            && (config.v1_sign_term.is_some()
                || config.line_search.is_some()
                || config.minibatch.is_some())
        {
            return Err(OptimError::Config(
                "a fit of several conditions takes neither the paper's code's sign term, nor a \
                 line search on D and C, nor mini-batches"
                    .into(),
            ));
        }
        Ok(Fit {
            fingerprint: fingerprint(&problem, &config),
            resume_note: None,
            checkpointed: None,
            model_log: None,
            problem,
            config,
            state: FitState {
                iteration: 0,
                params: initial,
                method_state: MethodState::default(),
                step_factor: 1.0,
                accepted_in_a_row: 0,
                accepted: None,
                evaluations: 0,
                rkc: None,
                path: FitPath {
                    grid,
                    boundary,
                    nv,
                    records: Vec::new(),
                    models: Vec::new(),
                },
            },
        })
    }

    /// Continues a fit from a checkpoint written by an earlier run with the same problem and
    /// settings (the number of iterations may differ). A checkpoint of another fit is refused;
    /// if the checkpoint is missing or corrupt, the previous one (kept beside it as
    /// `PATH.prev`) is read instead and [`Fit::resume_note`] says so.
    pub fn resume(
        mut problem: P,
        config: FitConfig,
        checkpoint: &Path,
    ) -> Result<Fit<P>, OptimError> {
        config.validate()?;
        let expected = fingerprint(&problem, &config);
        let Resumed {
            checkpoint: Checkpoint { state, warm, .. },
            log,
            note,
        } = read_checkpoint(checkpoint, expected)?;
        problem.restore_warm_state(warm);
        Ok(Fit {
            checkpointed: note
                .is_none()
                .then_some((state.iteration, state.evaluations)),
            problem,
            config,
            state,
            fingerprint: expected,
            resume_note: note,
            model_log: Some(log),
        })
    }

    /// Why [`Fit::resume`] read the previous checkpoint instead of the current one, if it did.
    pub fn resume_note(&self) -> Option<&str> {
        self.resume_note.as_deref()
    }

    /// The state (next iteration, parameters, path so far).
    pub fn state(&self) -> &FitState {
        &self.state
    }
    /// The path so far.
    pub fn path(&self) -> &FitPath {
        &self.state.path
    }
    /// The problem.
    pub fn problem(&self) -> &P {
        &self.problem
    }
    /// The settings.
    pub fn config(&self) -> &FitConfig {
        &self.config
    }
    /// True once `config.iterations` iterations have run.
    pub fn is_done(&self) -> bool {
        self.state.iteration >= self.config.iterations
    }

    fn batch(&self) -> Option<Vec<usize>> {
        let mb = self.config.minibatch?;
        let n = self.problem.num_trials();
        let mut idx: Vec<usize> = (0..n).collect();
        let stream = mb.seed ^ self.state.iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = rand::rngs::StdRng::seed_from_u64(stream);
        idx.shuffle(&mut rng);
        idx.truncate(mb.size.clamp(1, n));
        idx.sort_unstable();
        Some(idx)
    }

    /// Evaluates `params` (with the paper's code's sign error when the settings
    /// ask for it, [`crate::V1SignTerm`]); an evaluation that fails or gives a non-finite value
    /// or gradient is an `Err` with the reason.
    fn evaluate(&mut self, params: &Params, batch: Option<&[usize]>) -> Result<Evaluation, String> {
        let fit = self.config.fit;
        let eval = match self.config.v1_sign_term {
            Some(v1) if v1.negated(self.state.iteration) => self
                .problem
                .evaluate_with_v1_sign_term(params, fit, batch)
                .map(|(mut eval, delta)| {
                    if let Some(g) = &mut eval.grad.first.force {
                        g.iter_mut().zip(&delta).for_each(|(g, d)| *g += d);
                    }
                    eval
                }),
            _ => self.problem.evaluate(params, fit, batch),
        }
        .map_err(|e| e.to_string())?;
        if !eval.value.is_finite() || !eval.grad.is_finite() {
            return Err(format!("non-finite -log L ({}) or gradient", eval.value));
        }
        Ok(eval)
    }

    /// The parameters one step from `base` (value `value`, gradient `grad`) with the learning
    /// rates times `self.state.step_factor`; updates `method_state`.
    fn update(
        &mut self,
        base: &Params,
        method_state: &mut MethodState,
        value: f64,
        grad: &ParamGradients,
        batch: Option<&[usize]>,
    ) -> Result<Params, OptimError> {
        let mut next = base.clone();
        let searched = self
            .config
            .line_search
            .filter(|_| self.config.fit.d || self.config.fit.c);
        let mut fit = self.config.fit;
        if searched.is_some() {
            (fit.d, fit.c) = (false, false);
        }
        let counts = self.problem.spike_counts(batch);
        let factor = self.state.step_factor;
        step(
            self.config.method,
            method_state,
            &mut next,
            grad,
            fit,
            &self.config.learning_rates,
            &self.config.floors,
            &counts,
            factor,
        )?;
        if let Some(ls) = searched {
            let (d, c) = line_search(
                &mut self.problem,
                base,
                &self.config,
                &counts,
                factor,
                ls,
                value,
                grad,
                batch,
            );
            next.d = d;
            if let (Some(c), Rates::Log { c: next_c, .. }) = (c, &mut next.rates) {
                *next_c = c;
            }
        }
        Ok(next)
    }

    /// Runs one step. Gradient descent and Adam evaluate the current model, record it (and
    /// save it on schedule) and step one iteration; [`Method::Rkc`] steps as many iterations as
    /// its error control allows, never past the configured end, and records the step's end (and
    /// the saved iterations it passed). See [`Fit::run_until`].
    pub fn step(&mut self) -> Result<IterationRecord, OptimError> {
        match self.config.method {
            Method::Rkc(rkc) => self.step_rkc(rkc),
            Method::GradientDescent | Method::Adam { .. } => self.step_iteration(),
        }
    }

    /// One iteration of gradient descent or Adam: evaluate, record, save on schedule, update.
    /// With [`crate::Backtracking`] (full batch), a model whose training -log L rose by more
    /// than the tolerance over the last accepted one — or could not be evaluated — is
    /// rejected: the step from the last accepted model is taken again with smaller rates until
    /// one passes. An evaluation that fails with no model to return to, or a factor below the
    /// minimum, returns [`OptimError::Diverged`] and leaves the state (the last good
    /// parameters and the path so far) untouched.
    fn step_iteration(&mut self) -> Result<IterationRecord, OptimError> {
        let i = self.state.iteration;
        let batch = self.batch();
        let guard = self.config.backtracking.filter(|_| batch.is_none());
        let before = (
            self.state.params.clone(),
            self.state.method_state.clone(),
            self.state.step_factor,
        );
        let mut rejected = 0u32;
        let eval = loop {
            let params = self.state.params.clone();
            let outcome = self.evaluate(&params, batch.as_deref());
            self.state.evaluations += 1;
            let (Some(bt), Some(accepted)) = (guard, &self.state.accepted) else {
                match outcome {
                    Ok(eval) => break eval,
                    Err(reason) => return Err(diverged(i, reason)),
                }
            };
            let reason = match &outcome {
                Ok(e) if e.value <= accepted.value + bt.tolerance => None,
                Ok(e) => Some(format!(
                    "the training -log L rose by {:.3} nats",
                    e.value - accepted.value
                )),
                Err(reason) => Some(reason.clone()),
            };
            let Some(reason) = reason else {
                break outcome.expect("accepted above");
            };
            let factor = self.state.step_factor * bt.shrink;
            if factor < bt.min_factor {
                (
                    self.state.params,
                    self.state.method_state,
                    self.state.step_factor,
                ) = before;
                return Err(diverged(
                    i,
                    format!(
                        "no step from the model of iteration {} lowers the training -log L, even \
                         with the learning rates reduced by {factor:.1e} (last try: {reason})",
                        i.saturating_sub(1)
                    ),
                ));
            }
            rejected += 1;
            self.state.step_factor = factor;
            self.state.accepted_in_a_row = 0;
            let accepted = self.state.accepted.take().expect("checked above");
            let mut method_state = accepted.method_state.clone();
            let retry = self.update(
                &accepted.params,
                &mut method_state,
                accepted.value,
                &accepted.grad,
                batch.as_deref(),
            );
            self.state.accepted = Some(accepted);
            self.state.params = retry?;
            self.state.method_state = method_state;
        };
        let record = self.record_at(i, &eval, rejected);
        if guard.is_some() && rejected == 0 && i > 0 {
            self.state.accepted_in_a_row += 1;
        }
        if let Some(bt) = guard
            && bt.regrow_after > 0
            && self.state.step_factor < 1.0
            && self.state.accepted_in_a_row >= bt.regrow_after
        {
            self.state.step_factor = (2.0 * self.state.step_factor).min(1.0);
            self.state.accepted_in_a_row = 0;
        }
        let base = self.state.params.clone();
        let mut method_state = self.state.method_state.clone();
        let next = self.update(
            &base,
            &mut method_state,
            eval.value,
            &eval.grad,
            batch.as_deref(),
        )?;
        if !next.is_finite() {
            return Err(diverged(
                i,
                "the update produced non-finite parameters".into(),
            ));
        }
        self.keep(record, &base, eval.peq);
        let before_step = std::mem::replace(&mut self.state.method_state, method_state);
        self.state.accepted = guard.map(|_| AcceptedPoint {
            iteration: i,
            params: base,
            method_state: before_step,
            value: eval.value,
            grad: eval.grad,
        });
        self.state.params = next;
        self.state.iteration = i + 1;
        Ok(record)
    }

    /// The record of the model of `iteration`, evaluated as `eval` after `rejected` rejected
    /// steps.
    fn record_at(&self, iteration: u64, eval: &Evaluation, rejected: u32) -> IterationRecord {
        IterationRecord {
            iteration,
            train_neg_loglik: eval.value,
            validation_neg_loglik: eval.validation,
            feature_complexity: eval.feature_complexity,
            step_factor: self.state.step_factor,
            rejected_steps: rejected,
            evaluations: self.state.evaluations,
        }
    }

    /// Appends `record` to the path, and the model (`params`, `peq`) if the save schedule
    /// keeps its iteration.
    fn keep(&mut self, record: IterationRecord, params: &Params, peq: Vec<f64>) {
        if self.config.save.saves(record.iteration) {
            self.state.path.models.push(SavedModel {
                record,
                params: params.clone(),
                peq,
            });
        }
        self.state.path.records.push(record);
    }

    /// Runs steps until the iteration reaches `target` (at most the configured number):
    /// gradient descent and Adam stop at `target`, an RKC step may pass it (never the
    /// configured end), so where a fit stops does not depend on the targets it was run to. A
    /// checkpoint is written after each step that reaches or passes a multiple of the
    /// checkpoint period (with gradient descent, at the multiples; an RKC step is not shortened
    /// for a checkpoint, and resuming from one repeats the same steps).
    pub fn run_until(
        &mut self,
        target: u64,
        observers: &mut [&mut dyn Observer],
    ) -> Result<(), OptimError> {
        let total = self.config.iterations;
        let target = target.min(total);
        while self.state.iteration < target {
            let before = self.state.iteration;
            let record = match self.step() {
                Ok(r) => r,
                Err(e) => {
                    // Keep the last good state: the parameters before the failed step.
                    self.checkpoint()?;
                    return Err(e);
                }
            };
            for o in observers.iter_mut() {
                o.observe(&record, total);
            }
            if let Some(cp) = &self.config.checkpoint
                && cp.every > 0
                && self.state.iteration / cp.every > before / cp.every
            {
                self.checkpoint()?;
            }
            if observers.iter().any(|o| o.stop_requested()) {
                self.checkpoint()?;
                return Err(OptimError::Interrupted {
                    iteration: self.state.iteration,
                });
            }
        }
        Ok(())
    }

    /// Runs until `config.iterations`, checkpointing on schedule and at the end.
    pub fn run(&mut self, observers: &mut [&mut dyn Observer]) -> Result<(), OptimError> {
        self.run_until(self.config.iterations, observers)?;
        self.checkpoint()?;
        for o in observers.iter_mut() {
            o.finish();
        }
        Ok(())
    }

    /// Writes the configured checkpoint ([`FitConfig::checkpoint`]; nothing if none is
    /// configured or this state's is written already), keeping the one it replaces as
    /// `PATH.prev`.
    pub fn checkpoint(&mut self) -> Result<(), OptimError> {
        let Some(cp) = &self.config.checkpoint else {
            return Ok(());
        };
        let here = (self.state.iteration, self.state.evaluations);
        if self.checkpointed == Some(here) {
            return Ok(());
        }
        let models = std::mem::take(&mut self.state.path.models);
        let state = self.state.clone();
        self.state.path.models = models;
        write_checkpoint(
            &cp.path,
            self.fingerprint,
            state,
            self.problem.warm_state(),
            &self.state.path.models,
            &mut self.model_log,
            self.checkpointed.is_some(),
        )?;
        self.checkpointed = Some(here);
        Ok(())
    }

    /// Ends the fit and returns its path.
    pub fn into_path(self) -> FitPath {
        self.state.path
    }
}

fn diverged(iteration: u64, reason: String) -> OptimError {
    OptimError::Diverged { iteration, reason }
}
