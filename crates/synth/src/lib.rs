//! Ground truth for latentflow: potentials, tuning curves, and seeded simulations of the
//! latent Langevin dynamics dx/dt = D F(x) + sqrt(2 D) xi(t) on [a, b] (F = -Phi' =
//! d log peq / dx) with K neurons firing as inhomogeneous Poisson processes at rates f_n(x(t))
//! (Hz). Conventions follow `docs/method.md` §1 and §7.
//!
//! - [`Potential`]: Phi(x), [`Potential::force`] F = -Phi', [`Potential::peq`] on any grid
//!   (nodes and quadrature weights), normalised so that sum w peq = 1. Shapes: uniform, linear
//!   ramp, single well, the paper's double well, wells through given extrema (triple and four
//!   wells of docs/method.md §7), cos^2 (with a floor), mixtures of densities, tables and user
//!   functions.
//! - [`TuningCurve`]: f(x) = max(shape(x), floor) in Hz; [`TuningCurve::paper`] is the paper's
//!   max(100 (x + 1), 1) Hz.
//! - [`Simulator`]: Euler–Maruyama paths (reflecting or absorbing bounds), spikes by time
//!   rescaling, [`SpikeData`](latentflow_data::SpikeData) output. Trial i of seed s always
//!   gives the same bits, whatever the thread count.
//!
//! Units: time in seconds, D in 1/s, rates in Hz, x and Phi dimensionless.
//!
//! ```
//! use latentflow_synth::{Amount, SimulationConfig, Simulator, TrialLength};
//!
//! // The paper's ground truth: double well, D = 10, one neuron 100 (x + 1) Hz, reflecting.
//! let sim = Simulator::new(SimulationConfig::paper())?;
//! let out = sim.run(Amount::Seconds(4.0), TrialLength::Fixed(2.0), 7)?;
//! assert_eq!(out.data.num_trials(), 2);
//! // The mean rate is int peq f = 100 Hz (peq is symmetric), so about 400 spikes.
//! let spikes = out.data.num_spikes();
//! assert!(spikes > 200 && spikes < 600);
//! // Same seed, same data.
//! assert_eq!(sim.run(Amount::Seconds(4.0), TrialLength::Fixed(2.0), 7)?, out);
//! # Ok::<(), latentflow_synth::SynthError>(())
//! ```

mod config;
mod interp;
mod potential;
mod simulate;
mod tuning;

pub use config::{Amount, DEFAULT_DT, InitialState, SimulationConfig, TrialLength};
pub use interp::{Table, Wells};
pub use potential::{COS_SQUARED_FLOOR, Mixture, Potential, UserFunction};
pub use simulate::{
    LatentPath, MAX_DIFFUSION_STEP, MAX_DRIFT_STEP, Simulator, Spike, Synthetic, TrialSample,
    reflect,
};
pub use tuning::{GaussianPeak, RateFunction, TuningCurve, TuningShape};

/// Errors of the synthetic-data crate.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A parameter out of range (the message names it).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The domain [a, b] is not a finite interval with a < b.
    #[error("invalid domain [{a}, {b}]: need finite a < b")]
    InvalidDomain {
        /// Left end.
        a: f64,
        /// Right end.
        b: f64,
    },
    /// Bad extrema or table points (empty, unsorted, not finite, ...).
    #[error("invalid points: {0}")]
    InvalidTable(String),
    /// A potential whose density cannot be formed (non-finite Phi or F, underflow).
    #[error("invalid density: {0}")]
    InvalidDensity(String),
    /// A firing rate that is negative or not finite.
    #[error("neuron {neuron}: firing rate {rate} Hz at x = {x} (rates must be finite and >= 0)")]
    InvalidRate {
        /// Neuron id.
        neuron: usize,
        /// Where.
        x: f64,
        /// The rate.
        rate: f64,
    },
    /// dt too large for the dynamics.
    #[error("dt = {dt} s is too large: {reason}; use dt <= {suggested:e} s")]
    TimeStepTooLarge {
        /// The dt given (s).
        dt: f64,
        /// Which limit it breaks.
        reason: String,
        /// A dt that passes (s).
        suggested: f64,
    },
    /// The requested amount of data could not be reached.
    #[error("the requested amount of data was not reached: {0}")]
    NotReached(String),
    /// The simulated trials were rejected by the data crate.
    #[error(transparent)]
    Data(#[from] latentflow_data::DataError),
}
