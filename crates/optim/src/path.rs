//! What a fit leaves behind: one [`IterationRecord`] per iteration and the models kept on the
//! save schedule ([`FitPath`]).

use std::path::Path;

use latentflow_spectral::{BoundaryMode, GridSpec};
use serde::{Deserialize, Serialize};

use crate::{OptimError, Params};

/// One recorded model's numbers (every iteration for gradient descent and Adam, every step
/// for the RKC method).
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
    /// Factor on the learning rates of the step that led to this model (1: the configured
    /// rates; see [`crate::Backtracking`]).
    #[serde(default = "one")]
    pub step_factor: f64,
    /// Steps rejected before this model was accepted (each raised the training -log L).
    #[serde(default)]
    pub rejected_steps: u32,
    /// Gradient evaluations of the fit up to this record (inner stages and rejected steps
    /// included; 0 in paths written before it was recorded).
    #[serde(default)]
    pub evaluations: u64,
}

fn one() -> f64 {
    1.0
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
    /// The grid.
    pub grid: GridSpec,
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
    /// The saved models up to iteration `iteration` (they are in iteration order).
    pub fn models_until(&self, iteration: u64) -> &[SavedModel] {
        let n = self
            .models
            .partition_point(|m| m.record.iteration <= iteration);
        &self.models[..n]
    }

    /// Drops the records and models after `iteration`: the path as it was there.
    pub fn truncate(&mut self, iteration: u64) {
        let n = self.models_until(iteration).len();
        self.models.truncate(n);
        let n = self.records.partition_point(|r| r.iteration <= iteration);
        self.records.truncate(n);
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
