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
//!
//! [`recovery`] holds the rule by which the synthetic experiments judge a selected model
//! against the ground truth.
//!
//! # Example
//!
//! Simulate the paper's double well, fit both halves on a coarse grid for a few iterations
//! and read both selections:
//!
//! ```
//! use latentflow::likelihood::{Model, ModelParts};
//! use latentflow::optim::FitConfig;
//! use latentflow::spectral::BoundaryMode;
//! use latentflow::synth::{
//!     Amount, Potential, SimulationConfig, Simulator, TrialLength, TuningCurve,
//! };
//! use latentflow::{GridSpec, Pipeline, PipelineConfig};
//!
//! let data = Simulator::new(SimulationConfig::paper())?
//!     .run(Amount::Seconds(4.0), TrialLength::Fixed(0.5), 1)?
//!     .data;
//! // The initial model: peq ~ cos^2, the paper's neuron, D = 10, on 8 elements of 6 nodes.
//! let spec = GridSpec { xbegin: -1.0, xend: 1.0, ne: 8, np: 6 };
//! let grid = spec.build()?;
//! let initial = Model::new(grid.clone(), ModelParts {
//!     boundary: BoundaryMode::Reflecting,
//!     peq: Potential::cos_squared().peq(grid.x(), grid.w())?,
//!     p0: None,
//!     d: 10.0,
//!     rates: vec![TuningCurve::paper().rates_on(grid.x())],
//! })?;
//! let config = PipelineConfig {
//!     grid: spec,
//!     nv: 16,
//!     fit: FitConfig { iterations: 10, ..FitConfig::default() },
//!     ..PipelineConfig::default()
//! };
//! let result = Pipeline::new(&data, &initial, config)?.run([None, None])?;
//! assert_eq!(result.paths[0].records.len(), 10);
//! assert!(result.feature_consistency.m_star >= 0.0);
//! assert!(result.best_generalization[0].feature_complexity >= 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
pub mod recovery;

pub use initial::{DefaultInitial, InitialRates, initial_tuning, mean_rates, paper_initial_model};
pub use latentflow_spectral::GridSpec;
pub use model_file::ModelFile;
pub use pipeline::{Pipeline, PipelineConfig, PipelineResult, initial_params};

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
    /// Inconsistent settings.
    #[error("invalid settings: {0}")]
    Config(String),
    /// A file could not be read or written, or has the wrong content.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}
