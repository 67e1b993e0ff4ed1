//! The latent Langevin model: grid, boundary, peq, optional p0, D and firing rates.

use std::sync::Arc;

use latentflow_spectral::{BoundaryMode, Grid, NORMALISATION_TOL};
use serde::{Deserialize, Serialize};

use crate::LikelihoodError;

/// A validated model of latent dynamics and spiking.
///
/// Conventions: the latent state lives on the grid's interval [a, b]; `peq` and `p0` are
/// densities on the grid nodes with sum_i w_i p_i = 1; `d` is D in 1/s; `rates[n][i]` is the
/// firing rate of neuron n at node i in Hz. `p0 = None` is the equilibrium model (p0 = peq,
/// moving with F).
#[derive(Debug, Clone)]
pub struct Model {
    grid: Arc<Grid>,
    boundary: BoundaryMode,
    peq: Vec<f64>,
    p0: Option<Vec<f64>>,
    d: f64,
    rates: Vec<Vec<f64>>,
}

/// The plain parts of a [`Model`], for files and for building models field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParts {
    /// Boundary mode.
    pub boundary: BoundaryMode,
    /// Equilibrium density on the nodes.
    pub peq: Vec<f64>,
    /// Initial density on the nodes, `None` for the equilibrium model.
    pub p0: Option<Vec<f64>>,
    /// D (1/s).
    pub d: f64,
    /// Firing rates (Hz), one vector of node values per neuron.
    pub rates: Vec<Vec<f64>>,
}

impl Model {
    /// Builds and validates a model: lengths match the grid, densities positive, finite and
    /// normalised (relative [`NORMALISATION_TOL`]), D finite and > 0, at least one neuron, rates
    /// finite and >= 0.
    pub fn new(grid: Arc<Grid>, parts: ModelParts) -> Result<Model, LikelihoodError> {
        let n = grid.n();
        check_density(&grid, "peq", &parts.peq)?;
        if let Some(p0) = &parts.p0 {
            check_density(&grid, "p0", p0)?;
        }
        if parts.boundary == BoundaryMode::Reflecting && Grid::ne(&grid) < 2 {
            return Err(LikelihoodError::InvalidModel(format!(
                "a reflecting model needs a grid of at least 2 elements, the grid has ne = {}",
                Grid::ne(&grid)
            )));
        }
        if !(parts.d.is_finite() && parts.d > 0.0) {
            return Err(LikelihoodError::InvalidModel(format!(
                "D must be finite and > 0, got {}",
                parts.d
            )));
        }
        if parts.rates.is_empty() {
            return Err(LikelihoodError::InvalidModel(
                "the model needs at least one neuron's firing rate".into(),
            ));
        }
        for (k, r) in parts.rates.iter().enumerate() {
            if r.len() != n {
                return Err(LikelihoodError::InvalidModel(format!(
                    "firing rate of neuron {k} has {} values, the grid has {n} nodes",
                    r.len()
                )));
            }
            if let Some(i) = r.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(LikelihoodError::InvalidModel(format!(
                    "firing rate of neuron {k} at node {i} is {} (must be finite and >= 0)",
                    r[i]
                )));
            }
        }
        Ok(Model {
            grid,
            boundary: parts.boundary,
            peq: parts.peq,
            p0: parts.p0,
            d: parts.d,
            rates: parts.rates,
        })
    }

    /// The grid.
    pub fn grid(&self) -> &Arc<Grid> {
        &self.grid
    }
    /// The boundary mode.
    pub fn boundary(&self) -> BoundaryMode {
        self.boundary
    }
    /// Equilibrium density on the nodes.
    pub fn peq(&self) -> &[f64] {
        &self.peq
    }
    /// Initial density, `None` for the equilibrium model.
    pub fn p0(&self) -> Option<&[f64]> {
        self.p0.as_deref()
    }
    /// D (1/s).
    pub fn d(&self) -> f64 {
        self.d
    }
    /// Firing rates (Hz) per neuron.
    pub fn rates(&self) -> &[Vec<f64>] {
        &self.rates
    }
    /// Number of neurons.
    pub fn num_neurons(&self) -> usize {
        self.rates.len()
    }
    /// The driving force F = d log peq / dx on the nodes.
    pub fn force(&self) -> Vec<f64> {
        log_derivative(&self.grid, &self.peq)
    }
    /// The plain parts of this model.
    pub fn parts(&self) -> ModelParts {
        ModelParts {
            boundary: self.boundary,
            peq: self.peq.clone(),
            p0: self.p0.clone(),
            d: self.d,
            rates: self.rates.clone(),
        }
    }
    /// A copy with another equilibrium density (validated).
    pub fn with_peq(&self, peq: Vec<f64>) -> Result<Model, LikelihoodError> {
        Model::new(
            self.grid.clone(),
            ModelParts {
                peq,
                ..self.parts()
            },
        )
    }
}

fn check_density(grid: &Grid, name: &str, p: &[f64]) -> Result<(), LikelihoodError> {
    let n = grid.n();
    if p.len() != n {
        return Err(LikelihoodError::InvalidModel(format!(
            "{name} has {} values, the grid has {n} nodes",
            p.len()
        )));
    }
    if let Some(i) = p.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(LikelihoodError::InvalidModel(format!(
            "{name} at node {i} is {} (a density must be finite and > 0)",
            p[i]
        )));
    }
    let z = grid.integrate(p);
    if (z - 1.0).abs() > NORMALISATION_TOL {
        return Err(LikelihoodError::InvalidModel(format!(
            "{name} is not normalised: its integral is {z} (normalise it, e.g. with peq_from_force)"
        )));
    }
    Ok(())
}

/// d log p / dx on the nodes (p > 0).
fn log_derivative(grid: &Grid, p: &[f64]) -> Vec<f64> {
    let log_p: Vec<f64> = p.iter().map(|v| v.ln()).collect();
    grid.derivative(&log_p)
}

/// peq = exp(int_a^x F) / Z from a driving force on the nodes (normalised: sum w peq = 1).
pub fn peq_from_force(grid: &Grid, force: &[f64]) -> Result<Vec<f64>, LikelihoodError> {
    if force.len() != grid.n() {
        return Err(LikelihoodError::InvalidModel(format!(
            "force has {} values, the grid has {} nodes",
            force.len(),
            grid.n()
        )));
    }
    if let Some(i) = force.iter().position(|v| !v.is_finite()) {
        return Err(LikelihoodError::InvalidModel(format!(
            "force at node {i} is {}",
            force[i]
        )));
    }
    let phi = grid.antiderivative(force);
    // Shift by the maximum so that exp never overflows; Z absorbs the shift.
    let top = phi.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut p: Vec<f64> = phi.iter().map(|v| (v - top).exp()).collect();
    let z = grid.integrate(&p);
    if !(z.is_finite() && z > 0.0) {
        return Err(LikelihoodError::InvalidModel(format!(
            "the force gives a density that cannot be normalised (integral {z})"
        )));
    }
    p.iter_mut().for_each(|v| *v /= z);
    if let Some(i) = p.iter().position(|v| *v <= 0.0) {
        return Err(LikelihoodError::InvalidModel(format!(
            "the force is too steep: peq underflows to 0 at node {i}"
        )));
    }
    Ok(p)
}

/// F = d log peq / dx on the nodes (peq must be positive).
pub fn force_from_peq(grid: &Grid, peq: &[f64]) -> Result<Vec<f64>, LikelihoodError> {
    check_density(grid, "peq", peq)?;
    Ok(log_derivative(grid, peq))
}

/// Firing rate f = C exp(int_a^x Fr) on the nodes from its log-derivative Fr and C = f(a) (Hz).
pub fn rate_from_fr(grid: &Grid, fr: &[f64], c: f64) -> Result<Vec<f64>, LikelihoodError> {
    if fr.len() != grid.n() || !(c.is_finite() && c > 0.0) || fr.iter().any(|v| !v.is_finite()) {
        return Err(LikelihoodError::InvalidModel(format!(
            "Fr must have {} finite values and C must be finite and > 0 (C = {c})",
            grid.n()
        )));
    }
    Ok(grid
        .antiderivative(fr)
        .iter()
        .map(|v| c * v.exp())
        .collect())
}

/// (Fr, C) from a strictly positive firing rate: Fr = d log f / dx, C = f(a).
pub fn fr_from_rate(grid: &Grid, rate: &[f64]) -> Result<(Vec<f64>, f64), LikelihoodError> {
    if rate.len() != grid.n() || rate.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(LikelihoodError::InvalidModel(format!(
            "a firing rate must have {} finite values > 0 to be written as C exp(int Fr)",
            grid.n()
        )));
    }
    Ok((log_derivative(grid, rate), rate[0]))
}
