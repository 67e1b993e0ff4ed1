//! Whether a selected model recovers a known ground truth: the recovery rule of the synthetic
//! experiments (`docs/method.md` §8). A selected density recovers the truth when its
//! symmetrised KL divergence to the true peq is below [`RECOVERY_KL`] and its potential
//! Phi = -ln peq has as many wells (prominence >= [`WELL_PROMINENCE`]) as the truth's.
//!
//! ```
//! use latentflow::recovery::{Recovery, wells};
//! use latentflow::spectral::Grid;
//! use latentflow::synth::Potential;
//!
//! let grid = Grid::new(-1.0, 1.0, 32, 6)?;
//! let truth = Potential::paper_double_well().peq(grid.x(), grid.w())?;
//! let true_wells = wells(&grid, &truth)?.len();
//! assert_eq!(true_wells, 2);
//! // The truth recovers itself; a flat density has no well and does not.
//! assert!(Recovery::new(&grid, &truth, &truth)?.recovers(true_wells));
//! let flat = vec![0.5; grid.n()];
//! assert!(!Recovery::new(&grid, &flat, &truth)?.recovers(true_wells));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use latentflow_select::{SelectError, find_wells, symmetric_kl};
use latentflow_spectral::Grid;

/// Prominence (in units of Phi = -ln peq) a minimum needs to count as a well.
pub const WELL_PROMINENCE: f64 = 0.5;

/// Largest symmetrised KL divergence (nats) to the ground truth of a recovering model.
pub const RECOVERY_KL: f64 = 0.05;

/// Positions (ascending) of the wells of Phi = -ln peq on the grid's nodes: interior minima of
/// prominence at least [`WELL_PROMINENCE`] (see [`find_wells`]).
///
/// # Errors
/// `peq` of the wrong length, not finite or not positive.
pub fn wells(grid: &Grid, peq: &[f64]) -> Result<Vec<f64>, SelectError> {
    find_wells(grid.x(), peq, WELL_PROMINENCE)
}

/// How one selected density compares with the ground truth on the same grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// Symmetrised KL divergence to the true peq (nats).
    pub kl_to_truth: f64,
    /// Its wells, as [`wells`] finds them.
    pub wells: Vec<f64>,
}

impl Recovery {
    /// Compares `peq` with the true density `truth` (both normalised on the grid).
    ///
    /// # Errors
    /// Densities of the wrong length, not finite, negative or not normalised; `peq` not
    /// positive.
    pub fn new(grid: &Grid, peq: &[f64], truth: &[f64]) -> Result<Recovery, SelectError> {
        Ok(Recovery {
            kl_to_truth: symmetric_kl(grid.w(), peq, truth)?,
            wells: wells(grid, peq)?,
        })
    }

    /// The recovery rule: KL below [`RECOVERY_KL`] and `true_wells` wells.
    pub fn recovers(&self, true_wells: usize) -> bool {
        self.kl_to_truth < RECOVERY_KL && self.wells.len() == true_wells
    }
}
