//! Model selection along a fit path: which of the fitted models deserves interpretation
//! (docs/method.md §6; Genkin & Engel 2020).
//!
//! A fit produces a *path* of models — equilibrium densities `peq` on a grid, one per saved
//! iteration ([`PathPoint`]). This crate offers
//! - divergences between densities on a grid: [`kl_divergence`], [`symmetric_kl`],
//!   [`jensen_shannon`] (nats);
//! - **feature consistency** ([`FeatureConsistency::select`]), the paper's method: fit two data
//!   halves separately, compare the two paths at equal feature complexity and select the model at
//!   `M*`, the last complexity before the paths' models start to disagree;
//! - **best generalisation** ([`best_generalization`]), the baseline: the minimum of the
//!   validation -log L;
//! - [`find_wells`], to count the wells of a selected potential `Phi = -log peq`.
//!
//! Conventions: a density is given by its values at the grid nodes plus quadrature weights `w`
//! (`integral g ~ sum_i w_i g_i`, `w_i > 0`); densities must be finite, non-negative and
//! normalised (`|sum w p - 1| <=` [`NORMALISATION_TOL`], the tolerance `latentflow-spectral`
//! defines for every density on a grid, its only use of that crate). The crate works on plain
//! slices: quantities that need the grid's derivative operator (the force `F = d log peq / dx`)
//! are passed in.
//!
//! # Example
//!
//! Two paths whose models agree up to FC 1 and then drift apart:
//!
//! ```
//! use latentflow_select::{FeatureConsistency, PathPoint, best_generalization, symmetric_kl};
//!
//! // A uniform grid on [-1, 1] with trapezoid weights.
//! let n = 201;
//! let h = 2.0 / (n - 1) as f64;
//! let x: Vec<f64> = (0..n).map(|i| -1.0 + h * i as f64).collect();
//! let mut w = vec![h; n];
//! w[0] = h / 2.0;
//! w[n - 1] = h / 2.0;
//! let density = |a: f64| -> Vec<f64> {
//!     let p: Vec<f64> = x.iter().map(|xi| 1.0 + a * (3.0 * xi).sin()).collect();
//!     let z: f64 = p.iter().zip(&w).map(|(p, w)| p * w).sum();
//!     p.iter().map(|p| p / z).collect()
//! };
//! // Model k sits at FC 0.1 k; path 2 departs from path 1 beyond FC 1.
//! let path = |departure: f64| -> Vec<PathPoint> {
//!     (0..=20)
//!         .map(|k| {
//!             let fc = 0.1 * k as f64;
//!             PathPoint {
//!                 iteration: 100 * k as u64,
//!                 feature_complexity: fc,
//!                 peq: density(departure * (fc - 1.0).max(0.0)),
//!                 p0: None,
//!                 condition_densities: Vec::new(),
//!                 validation_neg_loglik: Some((fc - 0.5).powi(2)),
//!             }
//!         })
//!         .collect()
//! };
//! let (path1, path2) = (path(0.0), path(0.5));
//!
//! // Radius 0.05: exactly one model per path at each axis point.
//! let config = FeatureConsistency { radius: 0.05, ..FeatureConsistency::kl() };
//! let result = config.select(&w, &path1, &path2)?;
//! assert_eq!(result.axis.len(), 21);
//! let k = result.selected.axis_index;
//! assert!(result.divergence[k].unwrap() <= result.threshold);
//! assert!(result.divergence[k + 1].unwrap() > result.threshold);
//! assert!(result.m_star > 1.0 && result.m_star < 2.0);
//! let (i, j) = (result.selected.index1, result.selected.index2);
//! let d = symmetric_kl(&w, &path1[i].peq, &path2[j].peq)?;
//! assert!((d - result.selected.divergence).abs() < 1e-15);
//!
//! // The baseline picks the validation minimum.
//! assert_eq!(best_generalization(&path1)?.iteration, 500);
//! # Ok::<(), latentflow_select::SelectError>(())
//! ```

mod consistency;
mod density;
mod error;
mod generalization;
mod wells;

pub use consistency::{
    FeatureConsistency, FeatureConsistencyResult, GapSide, MAX_AXIS_POINTS, PathPoint,
    SelectedPair, SelectionWarning,
};
pub use density::{Divergence, NORMALISATION_TOL, jensen_shannon, kl_divergence, symmetric_kl};
pub use error::SelectError;
pub use generalization::{BestGeneralizationResult, best_generalization};
pub use wells::find_wells;
