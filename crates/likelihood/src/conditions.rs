//! Several task conditions in one data set (docs/method.md §12): one model per condition, each
//! parameter either shared by all conditions or kept per condition, -log L summed over the
//! conditions' trials and the gradients of shared parameters summed over the conditions.

use latentflow_data::SpikeData;
use latentflow_spectral::{EigenSolver, FpModes};
use serde::{Deserialize, Serialize};

use crate::{GradRequest, Gradients, Likelihood, LikelihoodError, Model};

/// Whether a parameter is one for all conditions or one per condition (the original package's
/// parameter size 1 or the number of conditions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sharing {
    /// One value for every condition.
    #[default]
    Shared,
    /// A value per condition.
    PerCondition,
}

/// How each parameter is shared: the potential (F, i.e. peq), the initial density (F0, i.e.
/// p0), D, and the firing rates (Fr and C together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ParameterSharing {
    /// F (peq).
    pub force: Sharing,
    /// F0 (p0).
    pub force0: Sharing,
    /// D.
    pub d: Sharing,
    /// The firing rates.
    pub rates: Sharing,
}

/// A value of a parameter, or its gradient: one for all conditions, or one per condition.
#[derive(Debug, Clone, PartialEq)]
pub enum ByCondition<T> {
    /// Shared by all conditions (a gradient: summed over them).
    Shared(T),
    /// One per condition, in condition order.
    PerCondition(Vec<T>),
}

/// One validated model per condition: same grid, boundary mode and neurons, and equal values
/// of every shared parameter.
#[derive(Debug, Clone)]
pub struct ConditionModels {
    models: Vec<Model>,
    sharing: ParameterSharing,
}

impl ConditionModels {
    /// Checks `models` (condition c's model at index c) against `sharing`.
    ///
    /// # Errors
    /// [`LikelihoodError::InvalidModel`] naming the condition and parameter: no models, models
    /// on different grids or boundary modes or with different neuron counts, a shared parameter
    /// that differs between conditions, or p0 given for some conditions and not others.
    pub fn new(
        models: Vec<Model>,
        sharing: ParameterSharing,
    ) -> Result<ConditionModels, LikelihoodError> {
        let first = models
            .first()
            .ok_or_else(|| LikelihoodError::InvalidModel("no condition models".into()))?;
        for (c, m) in models.iter().enumerate().skip(1) {
            let differs = |what: &str| {
                LikelihoodError::InvalidModel(format!(
                    "condition {c}: {what} differs from condition 0's"
                ))
            };
            let (g, g0) = (m.grid(), first.grid());
            if g.x() != g0.x() {
                return Err(differs("the grid"));
            }
            if m.boundary() != first.boundary() {
                return Err(differs("the boundary mode"));
            }
            if m.num_neurons() != first.num_neurons() {
                return Err(differs("the number of neurons"));
            }
            if m.p0().is_some() != first.p0().is_some() {
                return Err(differs("whether p0 is given (equilibrium or not)"));
            }
            let shared = |s: Sharing| s == Sharing::Shared;
            if shared(sharing.force) && m.peq() != first.peq() {
                return Err(differs("the shared potential (peq)"));
            }
            if shared(sharing.force0) && m.p0() != first.p0() {
                return Err(differs("the shared initial density (p0)"));
            }
            if shared(sharing.d) && m.d() != first.d() {
                return Err(differs("the shared D"));
            }
            if shared(sharing.rates) && m.rates() != first.rates() {
                return Err(differs("the shared firing rates"));
            }
        }
        Ok(ConditionModels { models, sharing })
    }

    /// The models, condition c at index c.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// How the parameters are shared.
    pub fn sharing(&self) -> ParameterSharing {
        self.sharing
    }
}

/// The likelihood set-up of every condition's model.
#[derive(Debug, Clone)]
pub struct ConditionLikelihoods {
    liks: Vec<Likelihood>,
    sharing: ParameterSharing,
}

/// The gradients of -log L over all conditions, shared parameters summed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConditionGradients {
    /// d(-log L)/dF.
    pub force: Option<ByCondition<Vec<f64>>>,
    /// d(-log L)/dD.
    pub d: Option<ByCondition<f64>>,
    /// d(-log L)/dF0.
    pub force0: Option<ByCondition<Vec<f64>>>,
    /// d(-log L)/dFr_n, per neuron.
    pub fr: Option<ByCondition<Vec<Vec<f64>>>>,
    /// d(-log L)/dC_n, per neuron.
    pub c: Option<ByCondition<Vec<f64>>>,
}

impl ConditionLikelihoods {
    /// Sets up every condition's model with `nv` modes.
    pub fn new(
        models: &ConditionModels,
        nv: usize,
        solver: &dyn EigenSolver,
    ) -> Result<ConditionLikelihoods, LikelihoodError> {
        let liks = models
            .models
            .iter()
            .map(|m| Likelihood::new(m, nv, solver))
            .collect::<Result<_, _>>()?;
        Ok(ConditionLikelihoods {
            liks,
            sharing: models.sharing,
        })
    }

    /// [`ConditionLikelihoods::new`] with the eigen solver warm-started: condition 0 from
    /// `warm` (e.g. the previous evaluation's condition 0), each further condition from the
    /// condition before it (the same operator when F and D are shared).
    pub fn with_warm_start(
        models: &ConditionModels,
        nv: usize,
        solver: &dyn EigenSolver,
        warm: &FpModes,
    ) -> Result<ConditionLikelihoods, LikelihoodError> {
        let mut liks: Vec<Likelihood> = Vec::with_capacity(models.models.len());
        for m in &models.models {
            let from = liks.last().map_or(warm, |l| l.modes());
            let lik = Likelihood::with_warm_start(m, nv, solver, from)?;
            liks.push(lik);
        }
        Ok(ConditionLikelihoods {
            liks,
            sharing: models.sharing,
        })
    }

    /// The per-condition set-ups.
    pub fn likelihoods(&self) -> &[Likelihood] {
        &self.liks
    }

    /// The data's trials grouped by condition, checked against the models.
    fn split(&self, data: &SpikeData) -> Result<Vec<SpikeData>, LikelihoodError> {
        if data.num_conditions() != self.liks.len() {
            return Err(LikelihoodError::DataModelMismatch(format!(
                "the data have {} conditions, the models {}",
                data.num_conditions(),
                self.liks.len()
            )));
        }
        data.by_condition()
            .map_err(|e| LikelihoodError::DataModelMismatch(e.to_string()))
    }

    /// -log L of `data`: the sum over conditions of -log L of that condition's trials under its
    /// model.
    pub fn neg_loglik(&self, data: &SpikeData) -> Result<f64, LikelihoodError> {
        let parts = self.split(data)?;
        let mut total = 0.0;
        for (lik, part) in self.liks.iter().zip(&parts) {
            total += lik.neg_loglik(part)?;
        }
        Ok(total)
    }

    /// -log L and the gradients asked for; a shared parameter's gradient is the sum of the
    /// conditions' gradients (every condition's model holds the same value).
    pub fn neg_loglik_and_grad(
        &self,
        data: &SpikeData,
        request: GradRequest,
    ) -> Result<(f64, ConditionGradients), LikelihoodError> {
        let parts = self.split(data)?;
        let mut total = 0.0;
        let mut each: Vec<Gradients> = Vec::with_capacity(parts.len());
        for (lik, part) in self.liks.iter().zip(&parts) {
            let (nll, g) = lik.neg_loglik_and_grad(part, request)?;
            total += nll;
            each.push(g);
        }
        let s = self.sharing;
        let grads = ConditionGradients {
            force: combine(&each, |g| g.force.clone(), s.force, |a, b| add_vec(a, b)),
            d: combine(&each, |g| g.d, s.d, |a, b| *a += b),
            force0: combine(&each, |g| g.force0.clone(), s.force0, |a, b| add_vec(a, b)),
            fr: combine(
                &each,
                |g| g.fr.clone(),
                s.rates,
                |a, b| a.iter_mut().zip(b).for_each(|(a, b)| add_vec(a, b)),
            ),
            c: combine(&each, |g| g.c.clone(), s.rates, |a, b| add_vec(a, b)),
        };
        Ok((total, grads))
    }
}

fn add_vec(a: &mut [f64], b: Vec<f64>) {
    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
}

/// One parameter's gradients over the conditions: summed if shared, else listed.
fn combine<T>(
    each: &[Gradients],
    get: impl Fn(&Gradients) -> Option<T>,
    sharing: Sharing,
    add: impl Fn(&mut T, T),
) -> Option<ByCondition<T>> {
    let all: Vec<T> = each.iter().map(get).collect::<Option<_>>()?;
    Some(match sharing {
        Sharing::PerCondition => ByCondition::PerCondition(all),
        Sharing::Shared => {
            let mut it = all.into_iter();
            let mut sum = it.next()?;
            it.for_each(|g| add(&mut sum, g));
            ByCondition::Shared(sum)
        }
    })
}
