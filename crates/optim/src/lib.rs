//! Fitting latent-dynamics models: the objective ([`Problem`], [`SpikeProblem`]), the update
//! rules ([`Method`]: gradient descent, Adam) and the loop that runs them ([`Fit`]), kept apart
//! as in argmin. The loop records training and validation -log L and the feature complexity
//! every iteration, keeps models on a log-spaced schedule in a [`FitPath`] (what model
//! selection reads), checkpoints atomically and resumes bit-identically. A fit over several task
//! conditions starts from [`Params::from_models`] (which parameters the conditions share and
//! which each keeps: docs/method.md §12); the loop is the same.
//!
//! ```
//! use latentflow_data::{SpikeData, Trial};
//! use latentflow_likelihood::{Model, ModelParts, peq_from_force};
//! use latentflow_optim::{Fit, FitConfig, Params, SpikeProblem};
//! use latentflow_spectral::{BandedSolver, BoundaryMode, GridSpec};
//!
//! let spec = GridSpec { xbegin: -1.0, xend: 1.0, ne: 8, np: 6 };
//! let grid = spec.build()?;
//! let peq = peq_from_force(&grid, &vec![0.0; grid.n()])?;
//! let rate: Vec<f64> = grid.x().iter().map(|x| 50.0 * (x + 1.0) + 1.0).collect();
//! let model = Model::new(grid.clone(), ModelParts {
//!     boundary: BoundaryMode::Reflecting, peq, p0: None, d: 2.0, rates: vec![rate],
//! })?;
//! let trial = Trial::new(vec![0.01, 0.02, 0.01, 0.05], vec![Some(0), Some(0), Some(0), None])?;
//! let data = SpikeData::new(1, vec![trial])?;
//! let problem = SpikeProblem::new(grid.clone(), BoundaryMode::Reflecting, data, None, 16,
//!     Box::new(BandedSolver::default()));
//! let config = FitConfig { iterations: 5, ..FitConfig::default() };
//! let mut fit = Fit::new(problem, Params::from_model(&model, false)?, config,
//!     spec, BoundaryMode::Reflecting, 16)?;
//! fit.run(&mut [])?;
//! assert_eq!(fit.path().records.len(), 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checkpoint;
mod config;
mod fit;
mod grads;
mod line_search;
mod method;
mod observe;
mod params;
mod path;
mod problem;
mod rkc;
mod v1_sign;

use std::path::PathBuf;

pub use checkpoint::checkpoint_exists;
pub use config::{Backtracking, CheckpointConfig, FitConfig, LineSearch, Minibatch, SaveSchedule};
pub use fit::{AcceptedPoint, Fit, FitState};
pub use grads::ParamGradients;
pub use method::{
    Floors, LearningRates, Method, MethodState, REFERENCE_SPIKES, RateScale, SpikeCounts,
};
pub use observe::Observer;
pub use params::{ConditionParams, Conditions, Params, Rates};
pub use path::{FitPath, IterationRecord, SavedModel};
pub use problem::{Evaluation, Problem, SpikeProblem};
pub use rkc::{Rkc, RkcState};
pub use v1_sign::V1SignTerm;

/// Errors of the optimiser.
#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    /// The fit stopped: the evaluation failed or gave non-finite numbers.
    #[error("the fit diverged at iteration {iteration}: {reason}")]
    Diverged {
        /// Iteration at which it stopped.
        iteration: u64,
        /// What went wrong.
        reason: String,
    },
    /// Inconsistent settings.
    #[error("invalid fit configuration: {0}")]
    Config(String),
    /// An observer asked the fit to stop ([`Observer::stop_requested`]).
    #[error("the fit was interrupted at iteration {iteration}")]
    Interrupted {
        /// Iteration reached.
        iteration: u64,
    },
    /// Reading or writing a file failed.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The likelihood failed.
    #[error(transparent)]
    Likelihood(#[from] latentflow_likelihood::LikelihoodError),
    /// The data failed.
    #[error(transparent)]
    Data(#[from] latentflow_data::DataError),
}
