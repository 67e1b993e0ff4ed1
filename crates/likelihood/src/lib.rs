//! The exact likelihood of spike trains under a latent Langevin model, and its gradients
//! (Genkin & Engel 2020; `docs/method.md` §3–§4).
//!
//! A [`Model`] holds the grid, boundary mode, equilibrium density `peq` (and optionally a
//! separate initial density `p0`), D (1/s) and the firing rates f_n(x) (Hz). A [`Likelihood`]
//! is the per-model setup (H0 eigenpairs, dark operator, spike operators), computed once and
//! then evaluated on any number of trials in parallel: [`Likelihood::neg_loglik`] runs only the
//! forward passes, [`Likelihood::neg_loglik_and_grad`] adds the backward passes and returns the
//! gradients asked for, and [`Likelihood::neg_loglik_grad_and_v1_sign_term`] also the term the
//! paper's code added to the F gradient through a sign error (for experiments on its effect).
//! Decoding (§11): [`Likelihood::posterior`] gives the posterior of the latent on a trial at
//! chosen times, [`Likelihood::viterbi`] the most likely path on the grid (as the original
//! package computes it) and [`Likelihood::predicted_rates`] the model's PSTH.
//!
//! ```
//! use std::sync::Arc;
//! use latentflow_data::{SpikeData, Trial};
//! use latentflow_likelihood::{GradRequest, Likelihood, Model, ModelParts, peq_from_force};
//! use latentflow_spectral::{BandedSolver, BoundaryMode, Grid};
//!
//! let grid = Arc::new(Grid::new(-1.0, 1.0, 8, 6)?);
//! let force: Vec<f64> = grid.x().iter().map(|x| -4.0 * x).collect();
//! let peq = peq_from_force(&grid, &force)?;
//! let rate: Vec<f64> = grid.x().iter().map(|x| 50.0 * (x + 1.0) + 1.0).collect();
//! let model = Model::new(grid.clone(), ModelParts {
//!     boundary: BoundaryMode::Reflecting, peq, p0: None, d: 2.0, rates: vec![rate],
//! })?;
//! let trial = Trial::new(vec![0.01, 0.02, 0.05], vec![Some(0), Some(0), None])?;
//! let data = SpikeData::new(1, vec![trial])?;
//! let lik = Likelihood::new(&model, 16, &BandedSolver::default())?;
//! let (nll, grads) = lik.neg_loglik_and_grad(&data, GradRequest::FORCE)?;
//! assert!(nll.is_finite() && grads.force.unwrap().len() == grid.n());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod accumulate;
mod complexity;
mod conditions;
mod decays;
mod gradient;
mod kernels;
mod model;
mod passes;
mod posterior;
mod prior;
mod setup;
mod v1_sign;
mod viterbi;

pub use complexity::feature_complexity;
pub use conditions::{
    ByCondition, ConditionGradients, ConditionLikelihoods, ConditionModels, ParameterSharing,
    Sharing,
};
pub use gradient::{GradRequest, Gradients};
pub use latentflow_spectral::NORMALISATION_TOL;
pub use model::{Model, ModelParts, force_from_peq, fr_from_rate, peq_from_force, rate_from_fr};
pub use posterior::{BAND, Density, Posterior};
pub use setup::Likelihood;
pub use viterbi::ViterbiPath;

/// Errors of the likelihood crate.
#[derive(Debug, thiserror::Error)]
pub enum LikelihoodError {
    /// The model's parameters are invalid (the message says which and why).
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The data do not fit the model (e.g. more neurons than firing rates).
    #[error("data do not match the model: {0}")]
    DataModelMismatch(String),
    /// A spike of a neuron whose rate is zero wherever the latent state can be.
    #[error(
        "trial {trial}, event {event}: neuron {neuron} spiked where the model gives it zero probability"
    )]
    ImpossibleSpike {
        /// Trial index.
        trial: usize,
        /// Event (interval) index within the trial.
        event: usize,
        /// Neuron id.
        neuron: u32,
    },
    /// A neuron id beyond the model's neurons.
    #[error(
        "trial {trial}, event {event}: neuron {neuron} is out of range (model has {num_neurons})"
    )]
    NeuronOutOfRange {
        /// Trial index.
        trial: usize,
        /// Event index.
        event: usize,
        /// Neuron id.
        neuron: u32,
        /// Neurons in the model.
        num_neurons: usize,
    },
    /// The probability of a trial is not positive (normaliser c_end <= 0 or not finite).
    #[error(
        "trial {trial}: the model gives this trial a non-positive probability (normaliser {value})"
    )]
    NonPositiveNormaliser {
        /// Trial index.
        trial: usize,
        /// The offending normaliser.
        value: f64,
    },
    /// A gradient was asked for that the model cannot give.
    #[error("invalid gradient request: {0}")]
    InvalidRequest(String),
    /// The eigen solver or the grid failed.
    #[error(transparent)]
    Spectral(#[from] latentflow_spectral::SpectralError),
}
