//! Observers of a running fit (a progress bar in the command-line tool, or nothing).

use crate::IterationRecord;

/// Told about every recorded model of a fit (observers of two fits run on two threads).
pub trait Observer: Send {
    /// Called after each iteration; `total` is the planned number of iterations.
    fn observe(&mut self, record: &IterationRecord, total: u64);
    /// Called once when the run ends.
    fn finish(&mut self) {}
    /// Asked after each step: `true` ends the fit with [`crate::OptimError::Interrupted`],
    /// its last state checkpointed (a user's Ctrl-C, for example).
    fn stop_requested(&self) -> bool {
        false
    }
}
