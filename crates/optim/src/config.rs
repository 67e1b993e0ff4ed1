//! The settings of a fit: what is fitted and how ([`FitConfig`]), and the pieces it is made of.
//! Every type checks itself ([`FitConfig::validate`]): settings are rejected with a reason,
//! never clamped.

use std::path::PathBuf;

use latentflow_likelihood::GradRequest;
use serde::{Deserialize, Serialize};

use crate::method::{Floors, LearningRates, Method};
use crate::{OptimError, V1SignTerm};

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

/// Rejection of steps that make the fit worse (full-batch fits only: mini-batches differ from
/// step to step). A step that raises the training -log L by more than `tolerance` nats — or
/// leads to a model whose -log L cannot be evaluated or is not finite — is not taken: the fit
/// returns to the last accepted model, multiplies every learning rate by `shrink` and steps
/// again. After `regrow_after` accepted steps in a row the factor doubles back, never above 1.
/// A fit whose factor falls below `min_factor` stops as diverged. Paths that never rise take
/// exactly the steps plain gradient descent takes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Backtracking {
    /// Largest accepted rise of the training -log L in one step (nats).
    pub tolerance: f64,
    /// Factor on the learning rates at each rejected step (0 < shrink < 1).
    pub shrink: f64,
    /// Accepted steps in a row after which the factor doubles back (0: never).
    pub regrow_after: u64,
    /// Smallest factor before the fit gives up (0 < min_factor < 1).
    pub min_factor: f64,
}

impl Default for Backtracking {
    fn default() -> Self {
        Backtracking {
            tolerance: 1e-3,
            shrink: 0.5,
            regrow_after: 100,
            min_factor: 1e-9,
        }
    }
}

impl Backtracking {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), OptimError> {
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(config(format!(
                "backtracking tolerance {} must be finite and >= 0",
                self.tolerance
            )));
        }
        if !(self.shrink > 0.0 && self.shrink < 1.0) {
            return Err(config(format!(
                "backtracking shrink factor {} must lie in (0, 1)",
                self.shrink
            )));
        }
        if !(self.min_factor > 0.0 && self.min_factor < 1.0) {
            return Err(config(format!(
                "backtracking minimum factor {} must lie in (0, 1)",
                self.min_factor
            )));
        }
        Ok(())
    }
}

fn config(message: String) -> OptimError {
    OptimError::Config(message)
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
    /// Learning rates per parameter and how they scale with the data.
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
    /// Rejection of steps that raise the training -log L (full batch only); `None`: every
    /// step is taken.
    pub backtracking: Option<Backtracking>,
    /// Which models the path keeps.
    pub save: SaveSchedule,
    /// Periodic checkpoints.
    pub checkpoint: Option<CheckpointConfig>,
    /// The paper's code's sign error, reproduced to study its effect (docs/method.md §10);
    /// `None` (the default): exact gradients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1_sign_term: Option<V1SignTerm>,
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
            backtracking: Some(Backtracking::default()),
            save: SaveSchedule::default(),
            checkpoint: None,
            v1_sign_term: None,
        }
    }
}

impl FitConfig {
    /// Checks every setting: rates finite and > 0, at least one parameter fitted, positive
    /// floors, a line search with 0 < armijo < 1, a non-empty mini-batch, a checkpoint period of
    /// at least 1, a save schedule that saves something per decade, and the sign term only with
    /// F fitted and F0 not.
    pub fn validate(&self) -> Result<(), OptimError> {
        self.learning_rates.validate()?;
        let f = self.fit;
        if !(f.force || f.d || f.force0 || f.fr || f.c) {
            return Err(config("no parameter is fitted".into()));
        }
        if let Method::Adam {
            beta1,
            beta2,
            epsilon,
        } = self.method
            && !((0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2) && epsilon > 0.0)
        {
            return Err(config(format!(
                "Adam needs 0 <= beta1, beta2 < 1 and epsilon > 0 (got {beta1}, {beta2}, {epsilon})"
            )));
        }
        if let Method::Rkc(rkc) = self.method {
            rkc.validate()?;
            if self.minibatch.is_some() || self.line_search.is_some() {
                return Err(config(
                    "the RKC path method follows full-batch gradient descent: it takes neither \
                     mini-batches nor the D/C line search"
                        .into(),
                ));
            }
        }
        for (name, v) in [("D", self.floors.d), ("C", self.floors.c)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(config(format!(
                    "the floor of {name} is {v}; it must be > 0"
                )));
            }
        }
        if let Some(ls) = self.line_search
            && !(ls.armijo > 0.0 && ls.armijo < 1.0)
        {
            return Err(config(format!(
                "the line search's armijo constant {} must lie in (0, 1)",
                ls.armijo
            )));
        }
        if let Some(mb) = self.minibatch
            && mb.size == 0
        {
            return Err(config("a mini-batch must hold at least one trial".into()));
        }
        if let Some(bt) = &self.backtracking {
            bt.validate()?;
        }
        if let Some(cp) = &self.checkpoint
            && cp.every == 0
        {
            return Err(config(
                "checkpoints need a period of at least 1 iteration".into(),
            ));
        }
        if self.v1_sign_term.is_some() && (!f.force || f.force0) {
            return Err(config(
                "the paper's code's sign term acts on the F gradient of an equilibrium model: fit F and not F0"
                    .into(),
            ));
        }
        if self.v1_sign_term.is_some() && matches!(self.method, Method::Rkc(_)) {
            return Err(config(
                "the paper's code's sign term is drawn per iteration of gradient descent; the \
                 RKC path method cannot take it (use gradient descent)"
                    .into(),
            ));
        }
        if self.save.per_decade == 0 {
            return Err(config(
                "the save schedule must keep at least one model per decade".into(),
            ));
        }
        Ok(())
    }
}
