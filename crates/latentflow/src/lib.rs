//! latentflow: discover the latent dynamics behind neural spike trains and select the model
//! that deserves interpretation (Genkin & Engel, Nature Machine Intelligence 2020).
//!
//! This facade re-exports the component crates and adds the end-to-end [`pipeline`]: split a
//! data set into two halves, fit both from the same initial model (each validated on the other
//! half), and select by feature consistency and by best generalisation.
//!
//! | module | crate | job |
//! |---|---|---|
//! | [`data`] | latentflow-data | spike trains, validation, JSON / .npz files |
//! | [`spectral`] | latentflow-spectral | GLL grid, eigen solvers |
//! | [`likelihood`] | latentflow-likelihood | the model, exact -log L and gradients |
//! | [`optim`] | latentflow-optim | gradient descent / Adam, the fit loop, checkpoints |
//! | [`select`] | latentflow-select | feature complexity, divergences, selection |
//! | [`synth`] | latentflow-synth | ground-truth potentials, simulated spikes |

pub use latentflow_data as data;
pub use latentflow_likelihood as likelihood;
pub use latentflow_optim as optim;
pub use latentflow_select as select;
pub use latentflow_spectral as spectral;
pub use latentflow_synth as synth;

mod initial;
mod model_file;
pub mod orientation;
pub mod pipeline;

pub use initial::initial_tuning;
pub use model_file::{GridSpec, ModelFile};
pub use pipeline::{Pipeline, PipelineConfig, PipelineResult};

/// Errors of the facade: any component's error, or a file problem.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Spike data.
    #[error(transparent)]
    Data(#[from] latentflow_data::DataError),
    /// Grid or eigen solver.
    #[error(transparent)]
    Spectral(#[from] latentflow_spectral::SpectralError),
    /// Model or likelihood.
    #[error(transparent)]
    Likelihood(#[from] latentflow_likelihood::LikelihoodError),
    /// Fitting.
    #[error(transparent)]
    Optim(#[from] latentflow_optim::OptimError),
    /// Model selection.
    #[error(transparent)]
    Select(#[from] latentflow_select::SelectError),
    /// Synthetic data.
    #[error(transparent)]
    Synth(#[from] latentflow_synth::SynthError),
    /// A file could not be read or written, or has the wrong content.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}
