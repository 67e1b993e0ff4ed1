//! The Fokker–Planck eigenproblem -(D peq phi')' = lambda peq phi.

use serde::{Deserialize, Serialize};

use crate::dense::Mat;
use crate::pencil::{BoundaryCondition, SturmLiouville, check_finite};
use crate::{BoundaryMode, EigenSolver, Grid, SpectralError};

/// The Fokker–Planck operator of an equilibrium density on the grid, discretised: stiffness
/// from D peq, mass diag(w peq); reflecting = Neumann imposed strongly, absorbing = Dirichlet.
#[derive(Debug, Clone)]
pub struct FokkerPlanck {
    problem: SturmLiouville,
    sqrt_peq: Vec<f64>,
}

/// Lowest eigenpairs of the Fokker–Planck operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FpModes {
    /// Eigenvalues lambda_0 <= lambda_1 <= ... (1/s).
    pub lambda: Vec<f64>,
    /// phi_k on all nodes (N x nv), sum_i w_i peq_i phi_k phi_l = delta_kl; 0 at absorbing ends.
    pub phi: Mat,
    /// psi_k = sqrt(peq) phi_k (orthonormal: sum_i w_i psi_k psi_l = delta_kl).
    pub psi: Mat,
    /// The solver's basis, for warm starts.
    basis: Mat,
}

impl FpModes {
    /// Number of modes.
    pub fn nv(&self) -> usize {
        self.lambda.len()
    }
}

impl FokkerPlanck {
    /// The problem for `peq` (> 0 on every node, length N) and `d` > 0 (1/s).
    pub fn new(
        grid: &Grid,
        peq: &[f64],
        d: f64,
        mode: BoundaryMode,
    ) -> Result<FokkerPlanck, SpectralError> {
        if peq.len() != grid.n() {
            return Err(SpectralError::LengthMismatch {
                what: "peq".into(),
                expected: grid.n(),
                got: peq.len(),
            });
        }
        check_finite("peq", peq)?;
        if let Some(i) = peq.iter().position(|v| *v <= 0.0) {
            return Err(SpectralError::NotPositive(format!(
                "peq at node {i} is {} (must be > 0)",
                peq[i]
            )));
        }
        if !(d.is_finite() && d > 0.0) {
            return Err(SpectralError::NotPositive(format!(
                "D must be finite and > 0, got {d}"
            )));
        }
        let bc = match mode {
            BoundaryMode::Reflecting => BoundaryCondition::Neumann,
            BoundaryMode::Absorbing => BoundaryCondition::Dirichlet,
        };
        let p: Vec<f64> = peq.iter().map(|v| d * v).collect();
        let q = vec![0.0; grid.n()];
        Ok(FokkerPlanck {
            problem: SturmLiouville::new(grid, &p, &q, peq, bc, bc)?,
            sqrt_peq: peq.iter().map(|v| v.sqrt()).collect(),
        })
    }

    /// The underlying Sturm–Liouville problem (its banded pencil and reduction).
    pub fn problem(&self) -> &SturmLiouville {
        &self.problem
    }

    /// Modes available (N - 2 in both boundary modes).
    pub fn max_modes(&self) -> usize {
        self.problem.max_modes()
    }

    /// The lowest `nv` modes, warm-started from a nearby problem's modes when given.
    pub fn solve(
        &self,
        nv: usize,
        solver: &dyn EigenSolver,
        warm: Option<&FpModes>,
    ) -> Result<FpModes, SpectralError> {
        let pairs = self
            .problem
            .solve_from_basis(nv, solver, warm.map(|w| &w.basis))?;
        let mut psi = pairs.vectors.clone();
        for k in 0..nv {
            psi.col_mut(k)
                .iter_mut()
                .zip(&self.sqrt_peq)
                .for_each(|(v, s)| *v *= s);
        }
        Ok(FpModes {
            lambda: pairs.values,
            phi: pairs.vectors,
            psi,
            basis: pairs.basis,
        })
    }
}
