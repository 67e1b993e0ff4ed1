//! Spectral-element (GLL) discretisation on [a, b] and Fokker–Planck / Sturm–Liouville eigen
//! solvers. (Being written; see docs/architecture.md for the contract.)

/// Boundary condition of the latent dynamics at both ends of the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoundaryMode {
    /// Zero flux (Neumann, imposed strongly): probability is conserved, lambda_0 = 0.
    #[default]
    Reflecting,
    /// p = 0 at both ends (Dirichlet): a trial ends when the latent state exits.
    Absorbing,
}
