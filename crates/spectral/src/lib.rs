//! Spectral-element discretisation on [a, b] and the eigen solvers of latentflow.
//!
//! - [`Grid`]: Ne equal elements of Np Gauss–Lobatto–Legendre nodes, shared element ends;
//!   quadrature, derivative and antiderivative of element-wise interpolants in O(N Np).
//! - [`SturmLiouville`]: -(p y')' + q y = lambda w y with Dirichlet, Neumann (strong), natural
//!   Neumann or Robin ends, assembled in weak form into a banded pencil.
//! - [`EigenSolver`]: the lowest eigenpairs of such a pencil; [`DenseSolver`] (reference) and
//!   [`BandedSolver`] (shift-invert Lanczos, warm-started Rayleigh-quotient iteration).
//! - [`FokkerPlanck`]: -(D peq phi')' = lambda peq phi with reflecting or absorbing ends.
//!
//! ```
//! use latentflow_spectral::{BandedSolver, BoundaryMode, FokkerPlanck, Grid};
//!
//! let grid = Grid::new(-1.0, 1.0, 16, 8)?;
//! let peq = vec![0.5; grid.n()]; // uniform density on [-1, 1]
//! let modes = FokkerPlanck::new(&grid, &peq, 1.0, BoundaryMode::Reflecting)?
//!     .solve(4, &BandedSolver::default(), None)?;
//! // Free diffusion with reflecting walls: lambda_k = D (k pi / 2)^2.
//! let expected = (std::f64::consts::PI / 2.0).powi(2);
//! assert!((modes.lambda[1] - expected).abs() < 1e-9 * expected);
//! # Ok::<(), latentflow_spectral::SpectralError>(())
//! ```

mod banded;
pub mod dense;
mod fp;
mod gll;
mod grid;
mod pencil;
mod solver;
mod vector;

pub use banded::{BandLdlt, BandSym, SHIFT_LANES};
pub use fp::{FokkerPlanck, FpModes};
pub use gll::gll_nodes_weights;
pub use grid::{Grid, GridSpec, MAX_NODES, MAX_NP, NORMALISATION_TOL};
pub use pencil::{BandedPencil, BoundaryCondition, Eigenpairs, SturmLiouville};
pub use solver::{BandedSolver, DenseSolver, EigenSolver, Solution};
pub use vector::{dot, norm};

/// Boundary condition of the latent dynamics at both ends of the domain.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum BoundaryMode {
    /// Zero flux (Neumann, imposed strongly): probability is conserved, lambda_0 = 0.
    #[default]
    Reflecting,
    /// p = 0 at both ends (Dirichlet): a trial ends when the latent state exits.
    Absorbing,
}

/// Errors of the spectral crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpectralError {
    /// Bad grid parameters.
    #[error("invalid grid: {0}")]
    InvalidGrid(String),
    /// An array of the wrong length.
    #[error("{what} has {got} values, expected {expected}")]
    LengthMismatch {
        /// What the array is.
        what: String,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A value that must be positive is not.
    #[error("{0}")]
    NotPositive(String),
    /// A value is NaN or infinite.
    #[error("non-finite input: {0}")]
    NonFinite(String),
    /// Bad boundary condition.
    #[error("invalid boundary condition: {0}")]
    InvalidBoundary(String),
    /// More modes than the discretisation has (or none).
    #[error("asked for {requested} eigenmodes, but 1..={available} are available on this grid")]
    TooManyModes {
        /// Requested.
        requested: usize,
        /// Available.
        available: usize,
    },
    /// A matrix that must be positive definite is not.
    #[error("{0} is not positive definite")]
    NotPositiveDefinite(String),
    /// The eigen solver failed.
    #[error("eigen solver failed: {0}")]
    Solver(String),
}
