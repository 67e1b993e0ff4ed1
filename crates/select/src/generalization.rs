//! Best generalisation: the baseline the paper argues against (docs/method.md §6).

use crate::{PathPoint, SelectError};
use serde::{Deserialize, Serialize};

/// Outcome of [`best_generalization`], with the validation curve it was read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestGeneralizationResult {
    /// Index of the selected point in the path.
    pub index: usize,
    /// Its iteration.
    pub iteration: u64,
    /// Its validation -log L (the minimum along the path).
    pub validation_neg_loglik: f64,
    /// Its feature complexity.
    pub feature_complexity: f64,
    /// Iteration of every point of the path.
    pub iterations: Vec<u64>,
    /// Validation -log L of every point (`None` where it was not computed).
    pub validation: Vec<Option<f64>>,
}

/// Selects the model at the minimum of the validation -log L along the path; ties go to the
/// earliest point. Points without a validation value are ignored.
///
/// # Errors
/// An empty path; a non-finite validation value (names the point); no point with a validation
/// value.
pub fn best_generalization(points: &[PathPoint]) -> Result<BestGeneralizationResult, SelectError> {
    if points.is_empty() {
        return Err(SelectError::Empty {
            what: "path".into(),
        });
    }
    let mut best: Option<(usize, f64)> = None;
    for (k, point) in points.iter().enumerate() {
        let Some(v) = point.validation_neg_loglik else {
            continue;
        };
        if !v.is_finite() {
            return Err(SelectError::NonFinite {
                what: format!(
                    "validation -log L of path point {k} (iteration {})",
                    point.iteration
                ),
                index: k,
                value: v,
            });
        }
        if best.is_none_or(|(_, b)| v < b) {
            best = Some((k, v));
        }
    }
    let (index, validation_neg_loglik) = best.ok_or(SelectError::NoValidation)?;
    Ok(BestGeneralizationResult {
        index,
        iteration: points[index].iteration,
        validation_neg_loglik,
        feature_complexity: points[index].feature_complexity,
        iterations: points.iter().map(|p| p.iteration).collect(),
        validation: points.iter().map(|p| p.validation_neg_loglik).collect(),
    })
}
