//! The parameters a fit moves, in the representation gradient descent acts on.

use std::sync::Arc;

use latentflow_likelihood::{
    ConditionModels, Model, ModelParts, ParameterSharing, Sharing, fr_from_rate, peq_from_force,
    rate_from_fr,
};
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
/// a separate initial density (non-equilibrium models), and the firing rates. With several
/// task conditions (docs/method.md §12) these fields are condition 0's, and the shared ones
/// are every condition's; [`Params::conditions`] holds the rest.
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
    /// The further conditions of a multi-condition model; `None` for one condition.
    pub conditions: Option<Conditions>,
}

/// Conditions 1, 2, ... of a multi-condition [`Params`]: how each parameter is shared, and
/// each further condition's own values of the parameters kept per condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    /// Which parameters are shared.
    pub sharing: ParameterSharing,
    /// Condition c's values at index c - 1.
    pub others: Vec<ConditionParams>,
}

/// One further condition's values of the per-condition parameters: a field is `Some` exactly
/// when [`Conditions::sharing`] keeps that parameter per condition (F0 also needs a p0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionParams {
    /// F.
    pub force: Option<Vec<f64>>,
    /// D (1/s).
    pub d: Option<f64>,
    /// F0.
    pub force0: Option<Vec<f64>>,
    /// Firing rates.
    pub rates: Option<Rates>,
}

/// The (Fr, C) or fixed representation of `model`'s rates.
fn rates_of(model: &Model, log_rates: bool) -> Result<Rates, OptimError> {
    let grid = model.grid();
    Ok(if log_rates {
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
    })
}

/// F0 of `model`, `None` for an equilibrium model.
fn force0_of(model: &Model) -> Result<Option<Vec<f64>>, OptimError> {
    Ok(match model.p0() {
        None => None,
        Some(p0) => Some(latentflow_likelihood::force_from_peq(model.grid(), p0)?),
    })
}

/// Node rates of a [`Rates`].
fn node_rates(grid: &Arc<Grid>, rates: &Rates) -> Result<Vec<Vec<f64>>, OptimError> {
    Ok(match rates {
        Rates::Fixed(r) => r.clone(),
        Rates::Log { fr, c } => fr
            .iter()
            .zip(c)
            .map(|(f, c)| rate_from_fr(grid, f, *c))
            .collect::<Result<_, _>>()?,
    })
}

fn rates_finite(rates: &Rates) -> bool {
    match rates {
        Rates::Fixed(r) => r.iter().flatten().all(|v| v.is_finite()),
        Rates::Log { fr, c } => fr.iter().flatten().chain(c).all(|v| v.is_finite()),
    }
}

impl Params {
    /// Parameters of an existing model. `log_rates` stores the rates as (Fr, C), which fitting
    /// Fr or C requires (rates must then be > 0 everywhere).
    pub fn from_model(model: &Model, log_rates: bool) -> Result<Params, OptimError> {
        Ok(Params {
            force: model.force(),
            d: model.d(),
            force0: force0_of(model)?,
            rates: rates_of(model, log_rates)?,
            conditions: None,
        })
    }

    /// Parameters of a multi-condition model (one condition: as [`Params::from_model`]).
    pub fn from_models(models: &ConditionModels, log_rates: bool) -> Result<Params, OptimError> {
        let (first, rest) = models
            .models()
            .split_first()
            .ok_or_else(|| OptimError::Config("no condition models".into()))?;
        let mut params = Params::from_model(first, log_rates)?;
        if rest.is_empty() {
            return Ok(params);
        }
        let sharing = models.sharing();
        let own = |s: Sharing| s == Sharing::PerCondition;
        let others = rest
            .iter()
            .map(|m| {
                Ok(ConditionParams {
                    force: own(sharing.force).then(|| m.force()),
                    d: own(sharing.d).then(|| m.d()),
                    force0: if own(sharing.force0) {
                        force0_of(m)?
                    } else {
                        None
                    },
                    rates: if own(sharing.rates) {
                        Some(rates_of(m, log_rates)?)
                    } else {
                        None
                    },
                })
            })
            .collect::<Result<_, OptimError>>()?;
        params.conditions = Some(Conditions { sharing, others });
        Ok(params)
    }

    /// Number of conditions (1 without [`Params::conditions`]).
    pub fn num_conditions(&self) -> usize {
        self.conditions.as_ref().map_or(1, |c| c.others.len() + 1)
    }

    /// The validated model these parameters describe (peq = exp(int F) / Z, and likewise p0);
    /// condition 0's for a multi-condition model.
    pub fn to_model(&self, grid: &Arc<Grid>, boundary: BoundaryMode) -> Result<Model, OptimError> {
        model_of(
            grid,
            boundary,
            &self.force,
            self.d,
            self.force0.as_deref(),
            &self.rates,
        )
    }

    /// Every condition's model (one for a single condition), checked against the sharing.
    pub fn to_models(
        &self,
        grid: &Arc<Grid>,
        boundary: BoundaryMode,
    ) -> Result<ConditionModels, OptimError> {
        let mut models = vec![self.to_model(grid, boundary)?];
        let mut sharing = ParameterSharing::default();
        if let Some(conds) = &self.conditions {
            sharing = conds.sharing;
            for (k, o) in conds.others.iter().enumerate() {
                let check = |s: Sharing, what: &str, given: bool| match (s, given) {
                    (Sharing::PerCondition, false) => Err(OptimError::Config(format!(
                        "condition {}: {what} is kept per condition but not given",
                        k + 1
                    ))),
                    (Sharing::Shared, true) => Err(OptimError::Config(format!(
                        "condition {}: {what} is shared but given per condition",
                        k + 1
                    ))),
                    _ => Ok(()),
                };
                check(sharing.force, "F", o.force.is_some())?;
                check(sharing.d, "D", o.d.is_some())?;
                check(sharing.rates, "the rates", o.rates.is_some())?;
                if self.force0.is_some() {
                    check(sharing.force0, "F0", o.force0.is_some())?;
                } else if o.force0.is_some() {
                    return Err(OptimError::Config(format!(
                        "condition {}: F0 is given but condition 0 has no p0",
                        k + 1
                    )));
                }
                let (force, force0) = self.forces_of(k + 1);
                let rates = o.rates.as_ref().unwrap_or(&self.rates);
                let d = o.d.unwrap_or(self.d);
                models.push(model_of(grid, boundary, force, d, force0, rates)?);
            }
        }
        Ok(ConditionModels::new(models, sharing)?)
    }

    /// Condition `c`'s F and F0: its own where it keeps them, else condition 0's (the
    /// fields). A condition beyond the last gets condition 0's.
    pub fn forces_of(&self, c: usize) -> (&[f64], Option<&[f64]>) {
        let own = self
            .conditions
            .as_ref()
            .and_then(|k| c.checked_sub(1).and_then(|i| k.others.get(i)));
        (
            own.and_then(|o| o.force.as_deref()).unwrap_or(&self.force),
            own.and_then(|o| o.force0.as_deref())
                .or(self.force0.as_deref()),
        )
    }

    /// True if every number is finite.
    pub fn is_finite(&self) -> bool {
        let finite = |v: &[f64]| v.iter().all(|v| v.is_finite());
        let others_ok = self.conditions.iter().flat_map(|c| &c.others).all(|o| {
            o.force.as_deref().is_none_or(finite)
                && o.d.is_none_or(f64::is_finite)
                && o.force0.as_deref().is_none_or(finite)
                && o.rates.as_ref().is_none_or(rates_finite)
        });
        finite(&self.force)
            && self.d.is_finite()
            && self.force0.as_deref().is_none_or(finite)
            && rates_finite(&self.rates)
            && others_ok
    }
}

/// The validated model of one condition's values.
fn model_of(
    grid: &Arc<Grid>,
    boundary: BoundaryMode,
    force: &[f64],
    d: f64,
    force0: Option<&[f64]>,
    rates: &Rates,
) -> Result<Model, OptimError> {
    let p0 = match force0 {
        None => None,
        Some(f0) => Some(peq_from_force(grid, f0)?),
    };
    Ok(Model::new(
        grid.clone(),
        ModelParts {
            boundary,
            peq: peq_from_force(grid, force)?,
            p0,
            d,
            rates: node_rates(grid, rates)?,
        },
    )?)
}
