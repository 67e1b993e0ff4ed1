//! The fit loop: runs a [`Method`] on a [`Problem`], records every iteration, saves models on a
//! schedule into a [`FitPath`], checkpoints, and reports to observers.

use std::path::{Path, PathBuf};

use latentflow_likelihood::{GradRequest, Gradients};
use latentflow_spectral::BoundaryMode;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, read_checkpoint, write_checkpoint};
use crate::method::{Floors, LearningRates, Method, MethodState, step};
use crate::{Observer, OptimError, Params, Problem, Rates};

/// Which iterations keep their model in the path: every one below `dense_until`, then
/// `per_decade` log-spaced ones per factor of ten (the selection needs the whole path, and
/// paths run to 50,000+ iterations). The schedule depends on the iteration alone, so a resumed
/// fit keeps exactly the models an uninterrupted one keeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SaveSchedule {
    /// Save every iteration below this.
    pub dense_until: u64,
    /// Log-spaced saves per decade after that.
    pub per_decade: u32,
}

impl Default for SaveSchedule {
    fn default() -> Self {
        SaveSchedule {
            dense_until: 100,
            per_decade: 100,
        }
    }
}

impl SaveSchedule {
    /// True if iteration `i` is saved.
    pub fn saves(&self, i: u64) -> bool {
        if i < self.dense_until.max(1) {
            return true;
        }
        let bucket = |k: u64| (self.per_decade as f64 * (k as f64).log10()).floor() as i64;
        bucket(i) > bucket(i - 1)
    }
}

/// Mini-batches: `size` trials drawn without replacement each iteration from a stream seeded
/// by (`seed`, iteration), so a resumed fit draws the same batches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Minibatch {
    /// Trials per batch.
    pub size: usize,
    /// Seed.
    pub seed: u64,
}

/// Backtracking (Armijo) line search for the scalar parameters D and C, whose scale differs
/// from F's by orders of magnitude. When enabled, D and C take a gradient step of length
/// alpha * lr with alpha = 1, 1/2, 1/4, ... (at most `max_halvings` halvings) until
/// -log L(theta_DC(alpha)) <= -log L(theta) - `armijo` * alpha * lr * |g_DC|^2, evaluated with the
/// other parameters held at their current values (a block-coordinate step; F, F0 and Fr take
/// their usual step from the same gradient). If no alpha passes, D and C stay put.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LineSearch {
    /// Most halvings of the step.
    pub max_halvings: u32,
    /// Sufficient-decrease constant (0 < armijo < 1).
    pub armijo: f64,
}

impl Default for LineSearch {
    fn default() -> Self {
        LineSearch {
            max_halvings: 10,
            armijo: 1e-4,
        }
    }
}

/// Where and how often to checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointConfig {
    /// Checkpoint file (written atomically: a temporary file, then a rename).
    pub path: PathBuf,
    /// Write every this many iterations (and at the end of a run).
    pub every: u64,
}

/// Settings of a fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// Iterations in total (a resumed fit continues up to this number).
    pub iterations: u64,
    /// Update rule.
    pub method: Method,
    /// Learning rates per parameter.
    pub learning_rates: LearningRates,
    /// Parameters to fit (the paper: F only).
    pub fit: GradRequest,
    /// Lower bounds for D and C.
    pub floors: Floors,
    /// Line search for D and C (`None`: fixed learning rates, the paper's choice).
    #[serde(default)]
    pub line_search: Option<LineSearch>,
    /// Mini-batches of trials; `None` uses all training trials every iteration.
    pub minibatch: Option<Minibatch>,
    /// Which models the path keeps.
    pub save: SaveSchedule,
    /// Periodic checkpoints.
    pub checkpoint: Option<CheckpointConfig>,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            iterations: 1000,
            method: Method::GradientDescent,
            learning_rates: LearningRates::default(),
            fit: GradRequest::FORCE,
            floors: Floors::default(),
            line_search: None,
            minibatch: None,
            save: SaveSchedule::default(),
            checkpoint: None,
        }
    }
}

/// One iteration's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IterationRecord {
    /// Iteration (0 = the initial model).
    pub iteration: u64,
    /// Training -log L (of the batch, with mini-batches).
    pub train_neg_loglik: f64,
    /// Validation -log L, if there are validation data.
    pub validation_neg_loglik: Option<f64>,
    /// Feature complexity (1/4) int F^2 peq.
    pub feature_complexity: f64,
}

/// A model kept in the path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// Its numbers.
    pub record: IterationRecord,
    /// Its parameters.
    pub params: Params,
    /// Its equilibrium density on the nodes (sum w peq = 1).
    pub peq: Vec<f64>,
}

/// The result of a fit: every iteration's numbers and the models kept on the schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitPath {
    /// Grid: left end, right end, elements, GLL nodes per element.
    pub grid: (f64, f64, usize, usize),
    /// Boundary mode.
    pub boundary: BoundaryMode,
    /// Modes kept.
    pub nv: usize,
    /// One record per iteration, in order.
    pub records: Vec<IterationRecord>,
    /// The saved models, in iteration order.
    pub models: Vec<SavedModel>,
}

impl FitPath {
    /// The path as model selection reads it.
    pub fn path_points(&self) -> Vec<latentflow_select::PathPoint> {
        self.models
            .iter()
            .map(|m| latentflow_select::PathPoint {
                iteration: m.record.iteration,
                feature_complexity: m.record.feature_complexity,
                peq: m.peq.clone(),
                validation_neg_loglik: m.record.validation_neg_loglik,
            })
            .collect()
    }

    /// The largest increase of the training -log L from one iteration to the next, as (the
    /// iteration where it rose, the rise in nats); `None` if it never rose. Full-batch gradient
    /// descent with a suitable learning rate lowers it at every step, so a rise means the steps
    /// overshoot (with mini-batches the batches differ and a rise means nothing).
    pub fn largest_rise(&self) -> Option<(u64, f64)> {
        self.records
            .windows(2)
            .map(|w| {
                (
                    w[1].iteration,
                    w[1].train_neg_loglik - w[0].train_neg_loglik,
                )
            })
            .filter(|&(_, rise)| rise > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Writes the path as JSON (atomically).
    pub fn write_json(&self, path: &Path) -> Result<(), OptimError> {
        let text = serde_json::to_vec(self).map_err(|e| OptimError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        crate::checkpoint::write_atomic(path, &text)
    }

    /// Reads a path written by [`FitPath::write_json`].
    pub fn read_json(path: &Path) -> Result<FitPath, OptimError> {
        let text = std::fs::read(path).map_err(|e| OptimError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        serde_json::from_slice(&text).map_err(|e| OptimError::Io {
            path: path.to_path_buf(),
            message: format!("not a fit path: {e}"),
        })
    }
}

/// Everything needed to continue a fit: the next iteration, the parameters to evaluate there,
/// the method's state, the path so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitState {
    /// Next iteration to run.
    pub iteration: u64,
    /// Parameters of that iteration.
    pub params: Params,
    /// Update-rule state (Adam moments).
    pub method_state: MethodState,
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
}

impl<P: Problem> Fit<P> {
    /// A new fit from `initial` parameters. `grid` and `boundary` are recorded in the path.
    pub fn new(
        problem: P,
        initial: Params,
        config: FitConfig,
        grid: (f64, f64, usize, usize),
        boundary: BoundaryMode,
        nv: usize,
    ) -> Fit<P> {
        Fit {
            problem,
            config,
            state: FitState {
                iteration: 0,
                params: initial,
                method_state: MethodState::default(),
                path: FitPath {
                    grid,
                    boundary,
                    nv,
                    records: Vec::new(),
                    models: Vec::new(),
                },
            },
        }
    }

    /// Continues a fit from a checkpoint written by an earlier run with the same problem.
    pub fn resume(
        mut problem: P,
        config: FitConfig,
        checkpoint: &Path,
    ) -> Result<Fit<P>, OptimError> {
        let Checkpoint { state, warm } = read_checkpoint(checkpoint)?;
        problem.restore_warm_state(warm);
        Ok(Fit {
            problem,
            config,
            state,
        })
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

    /// Runs one iteration: evaluate, record, save on schedule, update. A failed evaluation or
    /// a non-finite value or gradient returns [`OptimError::Diverged`] and leaves the state
    /// (the last good parameters and the path so far) untouched.
    pub fn step(&mut self) -> Result<IterationRecord, OptimError> {
        let i = self.state.iteration;
        let batch = self.batch();
        let diverged = |reason: String| OptimError::Diverged {
            iteration: i,
            reason,
        };
        let eval = self
            .problem
            .evaluate(&self.state.params, self.config.fit, batch.as_deref())
            .map_err(|e| diverged(e.to_string()))?;
        let grad_finite = [&eval.grad.force, &eval.grad.force0]
            .iter()
            .filter_map(|g| g.as_ref())
            .flatten()
            .chain(eval.grad.d.iter())
            .chain(eval.grad.c.iter().flatten())
            .chain(eval.grad.fr.iter().flatten().flatten())
            .all(|v| v.is_finite());
        if !eval.value.is_finite() || !grad_finite {
            return Err(diverged(format!(
                "non-finite -log L ({}) or gradient",
                eval.value
            )));
        }
        let record = IterationRecord {
            iteration: i,
            train_neg_loglik: eval.value,
            validation_neg_loglik: eval.validation,
            feature_complexity: eval.feature_complexity,
        };
        let mut next = self.state.params.clone();
        let mut method_state = self.state.method_state.clone();
        let searched = self
            .config
            .line_search
            .filter(|_| self.config.fit.d || self.config.fit.c);
        let mut fit = self.config.fit;
        if searched.is_some() {
            (fit.d, fit.c) = (false, false);
        }
        step(
            self.config.method,
            &mut method_state,
            &mut next,
            &eval.grad,
            fit,
            &self.config.learning_rates,
            &self.config.floors,
        )?;
        if let Some(ls) = searched {
            let (d, c) = self.line_search(ls, eval.value, &eval.grad, batch.as_deref())?;
            next.d = d;
            if let (Some(c), Rates::Log { c: next_c, .. }) = (c, &mut next.rates) {
                *next_c = c;
            }
        }
        if !next.is_finite() {
            return Err(diverged("the update produced non-finite parameters".into()));
        }
        if self.config.save.saves(i) {
            self.state.path.models.push(SavedModel {
                record,
                params: self.state.params.clone(),
                peq: eval.peq,
            });
        }
        self.state.path.records.push(record);
        self.state.params = next;
        self.state.method_state = method_state;
        self.state.iteration = i + 1;
        Ok(record)
    }

    /// The D and C of a backtracking line search from the current parameters (see
    /// [`LineSearch`]); `value` is -log L there.
    fn line_search(
        &mut self,
        ls: LineSearch,
        value: f64,
        grad: &Gradients,
        batch: Option<&[usize]>,
    ) -> Result<(f64, Option<Vec<f64>>), OptimError> {
        let params = &self.state.params;
        let (lr, floors, fit) = (
            self.config.learning_rates,
            self.config.floors,
            self.config.fit,
        );
        let current_c = match &params.rates {
            Rates::Log { c, .. } => Some(c.clone()),
            Rates::Fixed(_) => None,
        };
        let g_d = if fit.d { grad.d.unwrap_or(0.0) } else { 0.0 };
        let g_c: Vec<f64> = match (&current_c, fit.c, &grad.c) {
            (Some(_), true, Some(g)) => g.clone(),
            (Some(c), _, _) => vec![0.0; c.len()],
            (None, _, _) => Vec::new(),
        };
        let decrease = lr.d * g_d * g_d + lr.c * g_c.iter().map(|g| g * g).sum::<f64>();
        let mut trial = params.clone();
        let mut alpha = 1.0;
        for _ in 0..=ls.max_halvings {
            trial.d = (params.d - alpha * lr.d * g_d).max(floors.d);
            if let (Some(c0), Rates::Log { c, .. }) = (&current_c, &mut trial.rates) {
                for ((c, c0), g) in c.iter_mut().zip(c0).zip(&g_c) {
                    *c = (c0 - alpha * lr.c * g).max(floors.c);
                }
            }
            // A trial point the model rejects (e.g. an impossible spike) counts as no decrease.
            if let Ok(v) = self.problem.value(&trial, batch)
                && v.is_finite()
                && v <= value - ls.armijo * alpha * decrease
            {
                let c = match trial.rates {
                    Rates::Log { c, .. } => Some(c),
                    Rates::Fixed(_) => None,
                };
                return Ok((trial.d, c));
            }
            alpha *= 0.5;
        }
        Ok((params.d, current_c))
    }

    /// Runs until `config.iterations`, checkpointing on schedule and at the end.
    pub fn run(&mut self, observers: &mut [&mut dyn Observer]) -> Result<(), OptimError> {
        let total = self.config.iterations;
        while !self.is_done() {
            let record = match self.step() {
                Ok(r) => r,
                Err(e) => {
                    // Keep the last good state: the parameters before the failed iteration.
                    if let Some(cp) = &self.config.checkpoint {
                        self.write_checkpoint(&cp.path)?;
                    }
                    return Err(e);
                }
            };
            for o in observers.iter_mut() {
                o.observe(&record, total);
            }
            if let Some(cp) = &self.config.checkpoint
                && cp.every > 0
                && self.state.iteration.is_multiple_of(cp.every)
            {
                self.write_checkpoint(&cp.path)?;
            }
        }
        if let Some(cp) = &self.config.checkpoint {
            self.write_checkpoint(&cp.path)?;
        }
        for o in observers.iter_mut() {
            o.finish();
        }
        Ok(())
    }

    /// Writes a checkpoint (atomically) from which [`Fit::resume`] continues bit-identically.
    pub fn write_checkpoint(&self, path: &Path) -> Result<(), OptimError> {
        write_checkpoint(
            path,
            &Checkpoint {
                state: self.state.clone(),
                warm: self.problem.warm_state(),
            },
        )
    }

    /// Ends the fit and returns its path.
    pub fn into_path(self) -> FitPath {
        self.state.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_with_losses(losses: &[f64]) -> FitPath {
        FitPath {
            grid: (-1.0, 1.0, 4, 3),
            boundary: BoundaryMode::Reflecting,
            nv: 4,
            records: losses
                .iter()
                .enumerate()
                .map(|(i, &l)| IterationRecord {
                    iteration: i as u64,
                    train_neg_loglik: l,
                    validation_neg_loglik: None,
                    feature_complexity: 0.0,
                })
                .collect(),
            models: Vec::new(),
        }
    }

    #[test]
    fn largest_rise_finds_the_biggest_step_up() {
        assert_eq!(path_with_losses(&[5.0, 4.0, 3.5, 3.4]).largest_rise(), None);
        assert_eq!(path_with_losses(&[]).largest_rise(), None);
        assert_eq!(
            path_with_losses(&[5.0, 7.0, 3.0, 6.5, 6.0]).largest_rise(),
            Some((3, 3.5))
        );
    }
}
