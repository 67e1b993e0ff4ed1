//! A terminal progress bar that observes a fit.

use indicatif::{ProgressBar, ProgressStyle};
use latentflow::optim::{IterationRecord, Observer};

/// A terminal progress bar with iteration, -log L, validation -log L, feature complexity and ETA.
#[derive(Debug)]
pub struct ProgressObserver {
    bar: ProgressBar,
}

impl ProgressObserver {
    /// A progress bar labelled `label` (e.g. "half 1").
    pub fn new(label: &str, total: u64) -> ProgressObserver {
        let bar = ProgressBar::new(total);
        let style =
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} (eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        ProgressObserver { bar }
    }

    /// The bar (e.g. to add it to an `indicatif::MultiProgress`).
    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }
}

impl Observer for ProgressObserver {
    fn observe(&mut self, r: &IterationRecord, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(r.iteration + 1);
        let val = r
            .validation_neg_loglik
            .map(|v| format!(" val {v:.3}"))
            .unwrap_or_default();
        self.bar.set_message(format!(
            "-logL {:.3}{val} FC {:.3}",
            r.train_neg_loglik, r.feature_complexity
        ));
    }
    fn finish(&mut self) {
        self.bar.finish();
    }
}
