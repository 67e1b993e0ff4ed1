//! The parameters a fit moves, in the representation gradient descent acts on.

use std::sync::Arc;

use latentflow_likelihood::{Model, ModelParts, fr_from_rate, peq_from_force, rate_from_fr};
use latentflow_spectral::{BoundaryMode, Grid};
use serde::{Deserialize, Serialize};

use crate::OptimError;

/// Firing rates: fixed node values, or the log-representation f_n = C_n exp(int_a^x Fr_n) that
/// gradient descent on Fr and C acts on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Rates {
    /// Rates (Hz) on the nodes, one vector per neuron; not fitted.
    Fixed(Vec<Vec<f64>>),
    /// Fr_n on the nodes and C_n = f_n(a) (Hz) per neuron.
    Log {
        /// Log-derivatives of the rates.
        fr: Vec<Vec<f64>>,
        /// Rates at the left end of the domain (Hz).
        c: Vec<f64>,
    },
}

/// Model parameters: driving force F (the fitted object of the paper), D (1/s), the force F0 of
/// a separate initial density (non-equilibrium models), and the firing rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// F = d log peq / dx on the nodes.
    pub force: Vec<f64>,
    /// D (1/s).
    pub d: f64,
    /// F0 = d log p0 / dx, `None` for the equilibrium model.
    pub force0: Option<Vec<f64>>,
    /// Firing rates.
    pub rates: Rates,
}

impl Params {
    /// Parameters of an existing model. `log_rates` stores the rates as (Fr, C), which fitting
    /// Fr or C requires (rates must then be > 0 everywhere).
    pub fn from_model(model: &Model, log_rates: bool) -> Result<Params, OptimError> {
        let grid = model.grid();
        let rates = if log_rates {
            let mut fr = Vec::new();
            let mut c = Vec::new();
            for r in model.rates() {
                let (f, c0) = fr_from_rate(grid, r)?;
                fr.push(f);
                c.push(c0);
            }
            Rates::Log { fr, c }
        } else {
            Rates::Fixed(model.rates().to_vec())
        };
        let force0 = match model.p0() {
            None => None,
            Some(p0) => Some(latentflow_likelihood::force_from_peq(grid, p0)?),
        };
        Ok(Params {
            force: model.force(),
            d: model.d(),
            force0,
            rates,
        })
    }

    /// The validated model these parameters describe (peq = exp(int F) / Z, and likewise p0).
    pub fn to_model(&self, grid: &Arc<Grid>, boundary: BoundaryMode) -> Result<Model, OptimError> {
        let rates = match &self.rates {
            Rates::Fixed(r) => r.clone(),
            Rates::Log { fr, c } => fr
                .iter()
                .zip(c)
                .map(|(f, c)| rate_from_fr(grid, f, *c))
                .collect::<Result<_, _>>()?,
        };
        let p0 = match &self.force0 {
            None => None,
            Some(f0) => Some(peq_from_force(grid, f0)?),
        };
        Ok(Model::new(
            grid.clone(),
            ModelParts {
                boundary,
                peq: peq_from_force(grid, &self.force)?,
                p0,
                d: self.d,
                rates,
            },
        )?)
    }

    /// True if every number is finite.
    pub fn is_finite(&self) -> bool {
        let rates_ok = match &self.rates {
            Rates::Fixed(r) => r.iter().flatten().all(|v| v.is_finite()),
            Rates::Log { fr, c } => fr.iter().flatten().chain(c).all(|v| v.is_finite()),
        };
        self.force.iter().all(|v| v.is_finite())
            && self.d.is_finite()
            && self.force0.iter().flatten().all(|v| v.is_finite())
            && rates_ok
    }
}
