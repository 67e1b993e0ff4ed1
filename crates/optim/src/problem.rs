//! The problem a fit solves: value and gradient of -log L over a parameter set.

use std::sync::Arc;

use latentflow_data::SpikeData;
use latentflow_likelihood::{
    ConditionLikelihoods, GradRequest, Gradients, Likelihood, LikelihoodError,
};
use latentflow_spectral::{BoundaryMode, EigenSolver, FpModes, Grid};

use crate::{OptimError, ParamGradients, Params, SpikeCounts};

/// What one evaluation of the training objective returns.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Training -log L (of the mini-batch when one is used).
    pub value: f64,
    /// Its gradients.
    pub grad: ParamGradients,
    /// -log L of the validation data under the same model, if there are validation data.
    pub validation: Option<f64>,
    /// Feature complexity of the model (1/4) int F^2 peq, plus (1/4) int F0^2 p0 for a
    /// non-stationary model; of several conditions, the mean over the conditions.
    pub feature_complexity: f64,
    /// The model's equilibrium density on the nodes (condition 0's).
    pub peq: Vec<f64>,
}

/// A differentiable objective over [`Params`].
pub trait Problem {
    /// Evaluates -log L and the requested gradients at `params`, on the trials `batch` (all
    /// training trials if `None`), plus the validation -log L.
    fn evaluate(
        &mut self,
        params: &Params,
        request: GradRequest,
        batch: Option<&[usize]>,
    ) -> Result<Evaluation, OptimError>;

    /// Training -log L and the requested gradients at `params` (no validation, no feature
    /// complexity): the inner evaluations of a path method. Updates the warm state as
    /// [`Problem::evaluate`] does.
    fn gradient(
        &mut self,
        params: &Params,
        request: GradRequest,
        batch: Option<&[usize]>,
    ) -> Result<(f64, ParamGradients), OptimError>;

    /// [`Problem::evaluate`] and, on the nodes, the term the paper's code added to the F
    /// gradient when its solver returned the ground state negated (docs/method.md §10,
    /// [`crate::V1SignTerm`]). Problems that cannot give it refuse.
    fn evaluate_with_v1_sign_term(
        &mut self,
        _params: &Params,
        _request: GradRequest,
        _batch: Option<&[usize]>,
    ) -> Result<(Evaluation, Vec<f64>), OptimError> {
        Err(OptimError::Config(
            "this problem cannot give the paper's code's sign term".into(),
        ))
    }

    /// Training -log L only (no gradients, no validation) at `params`, on `batch` — for line
    /// searches. Does not change the warm state.
    fn value(&mut self, params: &Params, batch: Option<&[usize]>) -> Result<f64, OptimError>;

    /// Number of training trials (for mini-batches).
    fn num_trials(&self) -> usize;

    /// Identifies what the objective is built from (data, grid, model class): checkpoints are
    /// stamped with it, and one made for another problem is refused on resume.
    fn fingerprint(&self) -> u32;

    /// Spikes of the training trials `batch` (all if `None`), per neuron: what per-spike
    /// learning rates are scaled by.
    fn spike_counts(&self, batch: Option<&[usize]>) -> SpikeCounts;

    /// State that makes the next evaluation depend on the previous one (e.g. a warm-start
    /// basis); checkpoints store it so that a resumed fit repeats the same bits.
    fn warm_state(&self) -> Option<FpModes> {
        None
    }

    /// Restores what [`Problem::warm_state`] returned.
    fn restore_warm_state(&mut self, _state: Option<FpModes>) {}
}

/// -log L of spike data under the latent model (`latentflow-likelihood`), with the eigen
/// solver warm-started from the previous evaluation.
#[derive(Debug)]
pub struct SpikeProblem {
    grid: Arc<Grid>,
    boundary: BoundaryMode,
    train: SpikeData,
    validation: Option<SpikeData>,
    nv: usize,
    solver: Box<dyn EigenSolver>,
    warm: Option<FpModes>,
    counts: SpikeCounts,
}

/// Spikes per neuron in `trials`, for `num_neurons` neurons, in all and (for data of several
/// conditions) per condition.
fn count_spikes<'a>(
    trials: impl Iterator<Item = &'a latentflow_data::Trial>,
    num_neurons: usize,
    num_conditions: usize,
) -> SpikeCounts {
    let mut per_neuron = vec![0u64; num_neurons];
    let mut per_condition = vec![vec![0u64; num_neurons]; num_conditions];
    for t in trials {
        for n in t.neuron().iter().flatten() {
            per_neuron[*n as usize] += 1;
            if num_conditions > 1 {
                per_condition[t.condition() as usize][*n as usize] += 1;
            }
        }
    }
    if num_conditions <= 1 {
        per_condition.clear();
    }
    SpikeCounts {
        per_neuron,
        per_condition,
    }
}

/// A set-up likelihood: of one model, or of one model per condition.
enum Setup {
    One(Box<Likelihood>),
    Several(ConditionLikelihoods),
}

impl Setup {
    fn neg_loglik(&self, data: &SpikeData) -> Result<f64, LikelihoodError> {
        match self {
            Setup::One(l) => l.neg_loglik(data),
            Setup::Several(l) => l.neg_loglik(data),
        }
    }

    fn neg_loglik_and_grad(
        &self,
        data: &SpikeData,
        request: GradRequest,
    ) -> Result<(f64, ParamGradients), LikelihoodError> {
        Ok(match self {
            Setup::One(l) => {
                let (v, g) = l.neg_loglik_and_grad(data, request)?;
                (v, ParamGradients::single(g))
            }
            Setup::Several(l) => {
                let (v, g) = l.neg_loglik_and_grad(data, request)?;
                (v, ParamGradients::from_conditions(g, l.likelihoods().len()))
            }
        })
    }

    /// Feature complexity and condition 0's peq. The complexity of one condition's model is
    /// (1/4) int F^2 peq, plus (1/4) int F0^2 p0 for a non-stationary model (its p0's
    /// features count too); of several conditions, the mean over the conditions.
    fn complexity_and_peq(
        &self,
        grid: &Grid,
        params: &Params,
    ) -> Result<(f64, Vec<f64>), LikelihoodError> {
        let liks = match self {
            Setup::One(l) => std::slice::from_ref(&**l),
            Setup::Several(l) => l.likelihoods(),
        };
        let mut total = 0.0;
        for (c, lik) in liks.iter().enumerate() {
            let (force, force0) = params.forces_of(c);
            let model = lik.model();
            total += latentflow_likelihood::feature_complexity(grid.w(), model.peq(), force)?;
            if let (Some(f0), Some(p0)) = (force0, model.p0()) {
                total += latentflow_likelihood::feature_complexity(grid.w(), p0, f0)?;
            }
        }
        Ok((total / liks.len() as f64, liks[0].model().peq().to_vec()))
    }

    /// The eigenpairs to warm-start the next evaluation from (condition 0's).
    fn into_modes(self) -> FpModes {
        match self {
            Setup::One(l) => (*l).into_modes(),
            Setup::Several(l) => l.likelihoods()[0].modes().clone(),
        }
    }
}

impl SpikeProblem {
    /// A problem on `train` (and optional held-out `validation` data) with `nv` modes.
    pub fn new(
        grid: Arc<Grid>,
        boundary: BoundaryMode,
        train: SpikeData,
        validation: Option<SpikeData>,
        nv: usize,
        solver: Box<dyn EigenSolver>,
    ) -> SpikeProblem {
        let counts = count_spikes(
            train.trials().iter(),
            train.num_neurons(),
            train.num_conditions(),
        );
        SpikeProblem {
            grid,
            boundary,
            train,
            validation,
            nv,
            solver,
            warm: None,
            counts,
        }
    }

    /// The grid.
    pub fn grid(&self) -> &Arc<Grid> {
        &self.grid
    }

    /// The boundary mode.
    pub fn boundary(&self) -> BoundaryMode {
        self.boundary
    }

    /// Number of modes kept.
    pub fn nv(&self) -> usize {
        self.nv
    }

    /// Sets up the likelihood of `params` (a one-condition model), warm-started when possible.
    pub fn setup(&self, params: &Params) -> Result<Likelihood, OptimError> {
        match self.setup_any(params)? {
            Setup::One(lik) => Ok(*lik),
            Setup::Several(_) => Err(OptimError::Config(
                "this needs a model of one condition".into(),
            )),
        }
    }

    /// Sets up the likelihood of `params`: of one model, or of each condition's.
    fn setup_any(&self, params: &Params) -> Result<Setup, OptimError> {
        if params.conditions.is_some() {
            let models = params.to_models(&self.grid, self.boundary)?;
            let solver = self.solver.as_ref();
            return Ok(Setup::Several(match &self.warm {
                Some(w) => ConditionLikelihoods::with_warm_start(&models, self.nv, solver, w)?,
                None => ConditionLikelihoods::new(&models, self.nv, solver)?,
            }));
        }
        let model = params.to_model(&self.grid, self.boundary)?;
        Ok(Setup::One(Box::new(match &self.warm {
            Some(w) => Likelihood::with_warm_start(&model, self.nv, self.solver.as_ref(), w)?,
            None => Likelihood::new(&model, self.nv, self.solver.as_ref())?,
        })))
    }

    /// The training trials `batch` (all if `None`).
    fn batch_data(
        &self,
        batch: Option<&[usize]>,
    ) -> Result<std::borrow::Cow<'_, SpikeData>, OptimError> {
        Ok(match batch {
            Some(idx) => std::borrow::Cow::Owned(self.train.subset(idx)?),
            None => std::borrow::Cow::Borrowed(&self.train),
        })
    }

    /// An evaluation: training value and gradients from `passes` on the training trials
    /// `batch`, validation -log L, feature complexity and peq.
    fn evaluate_by<T>(
        &mut self,
        params: &Params,
        batch: Option<&[usize]>,
        passes: impl FnOnce(&Setup, &SpikeData) -> Result<(f64, ParamGradients, T), OptimError>,
    ) -> Result<(Evaluation, T), OptimError> {
        let setup = self.setup_any(params)?;
        let (value, grad, extra) = passes(&setup, &*self.batch_data(batch)?)?;
        let validation = match &self.validation {
            Some(v) => Some(setup.neg_loglik(v)?),
            None => None,
        };
        let (feature_complexity, peq) = setup.complexity_and_peq(&self.grid, params)?;
        self.warm = Some(setup.into_modes());
        let eval = Evaluation {
            value,
            grad,
            validation,
            feature_complexity,
            peq,
        };
        Ok((eval, extra))
    }
}

impl Problem for SpikeProblem {
    fn evaluate(
        &mut self,
        params: &Params,
        request: GradRequest,
        batch: Option<&[usize]>,
    ) -> Result<Evaluation, OptimError> {
        let (eval, ()) = self.evaluate_by(params, batch, |setup, data| {
            let (value, grad) = setup.neg_loglik_and_grad(data, request)?;
            Ok((value, grad, ()))
        })?;
        Ok(eval)
    }

    fn gradient(
        &mut self,
        params: &Params,
        request: GradRequest,
        batch: Option<&[usize]>,
    ) -> Result<(f64, ParamGradients), OptimError> {
        let setup = self.setup_any(params)?;
        let (value, grad) = setup.neg_loglik_and_grad(&*self.batch_data(batch)?, request)?;
        self.warm = Some(setup.into_modes());
        Ok((value, grad))
    }

    fn evaluate_with_v1_sign_term(
        &mut self,
        params: &Params,
        request: GradRequest,
        batch: Option<&[usize]>,
    ) -> Result<(Evaluation, Vec<f64>), OptimError> {
        self.evaluate_by(params, batch, |setup, data| {
            let Setup::One(lik) = setup else {
                return Err(OptimError::Config(
                    "the paper's code's sign term needs a model of one condition".into(),
                ));
            };
            let (v, g, term): (f64, Gradients, Vec<f64>) =
                lik.neg_loglik_grad_and_v1_sign_term(data, request)?;
            Ok((v, ParamGradients::single(g), term))
        })
    }

    fn value(&mut self, params: &Params, batch: Option<&[usize]>) -> Result<f64, OptimError> {
        let setup = self.setup_any(params)?;
        Ok(setup.neg_loglik(&*self.batch_data(batch)?)?)
    }

    fn num_trials(&self) -> usize {
        self.train.num_trials()
    }

    fn spike_counts(&self, batch: Option<&[usize]>) -> SpikeCounts {
        match batch {
            None => self.counts.clone(),
            Some(idx) => count_spikes(
                idx.iter().filter_map(|&i| self.train.trials().get(i)),
                self.train.num_neurons(),
                self.train.num_conditions(),
            ),
        }
    }

    fn fingerprint(&self) -> u32 {
        let spec = latentflow_spectral::GridSpec::of(&self.grid);
        let mut h = crc32fast::Hasher::new();
        h.update(&spec.xbegin.to_bits().to_le_bytes());
        h.update(&spec.xend.to_bits().to_le_bytes());
        h.update(&(spec.ne as u64).to_le_bytes());
        h.update(&(spec.np as u64).to_le_bytes());
        h.update(&[u8::from(self.boundary == BoundaryMode::Absorbing)]);
        h.update(&(self.nv as u64).to_le_bytes());
        h.update(&self.train.fingerprint().to_le_bytes());
        match &self.validation {
            Some(v) => h.update(&[&[1u8][..], &v.fingerprint().to_le_bytes()].concat()),
            None => h.update(&[0u8]),
        }
        h.finalize()
    }

    fn warm_state(&self) -> Option<FpModes> {
        self.warm.clone()
    }

    fn restore_warm_state(&mut self, state: Option<FpModes>) {
        self.warm = state;
    }
}
