//! The problem a fit solves: value and gradient of -log L over a parameter set.

use std::sync::Arc;

use latentflow_data::SpikeData;
use latentflow_likelihood::{GradRequest, Gradients, Likelihood, LikelihoodError};
use latentflow_spectral::{BoundaryMode, EigenSolver, FpModes, Grid};

use crate::{OptimError, Params, SpikeCounts};

/// What one evaluation of the training objective returns.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Training -log L (of the mini-batch when one is used).
    pub value: f64,
    /// Its gradients.
    pub grad: Gradients,
    /// -log L of the validation data under the same model, if there are validation data.
    pub validation: Option<f64>,
    /// Feature complexity of the model (1/4) int F^2 peq.
    pub feature_complexity: f64,
    /// The model's equilibrium density on the nodes.
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
    ) -> Result<(f64, Gradients), OptimError>;

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

/// Spikes per neuron in `trials`, for `num_neurons` neurons.
fn count_spikes<'a>(
    trials: impl Iterator<Item = &'a latentflow_data::Trial>,
    num_neurons: usize,
) -> SpikeCounts {
    let mut per_neuron = vec![0u64; num_neurons];
    for t in trials {
        for n in t.neuron().iter().flatten() {
            per_neuron[*n as usize] += 1;
        }
    }
    SpikeCounts { per_neuron }
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
        let counts = count_spikes(train.trials().iter(), train.num_neurons());
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

    /// Sets up the likelihood of `params`, warm-started when possible.
    pub fn setup(&self, params: &Params) -> Result<Likelihood, OptimError> {
        let model = params.to_model(&self.grid, self.boundary)?;
        Ok(match &self.warm {
            Some(w) => Likelihood::with_warm_start(&model, self.nv, self.solver.as_ref(), w)?,
            None => Likelihood::new(&model, self.nv, self.solver.as_ref())?,
        })
    }

    /// An evaluation whose training value and gradients (and whatever else the passes give)
    /// come from `passes` on the training trials `batch`.
    fn evaluate_by<T>(
        &mut self,
        params: &Params,
        batch: Option<&[usize]>,
        passes: impl FnOnce(&Likelihood, &SpikeData) -> Result<(f64, Gradients, T), LikelihoodError>,
    ) -> Result<(Evaluation, T), OptimError> {
        let lik = self.setup(params)?;
        let subset;
        let data = match batch {
            Some(idx) => {
                subset = self.train.subset(idx)?;
                &subset
            }
            None => &self.train,
        };
        let (value, grad, extra) = passes(&lik, data)?;
        let validation = match &self.validation {
            Some(v) => Some(lik.neg_loglik(v)?),
            None => None,
        };
        let model = lik.model();
        let feature_complexity =
            latentflow_likelihood::feature_complexity(self.grid.w(), model.peq(), &params.force)?;
        let peq = model.peq().to_vec();
        self.warm = Some(lik.into_modes());
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
        let (eval, ()) = self.evaluate_by(params, batch, |lik, data| {
            let (value, grad) = lik.neg_loglik_and_grad(data, request)?;
            Ok((value, grad, ()))
        })?;
        Ok(eval)
    }

    fn gradient(
        &mut self,
        params: &Params,
        request: GradRequest,
        batch: Option<&[usize]>,
    ) -> Result<(f64, Gradients), OptimError> {
        let lik = self.setup(params)?;
        let (value, grad) = match batch {
            Some(idx) => lik.neg_loglik_and_grad(&self.train.subset(idx)?, request)?,
            None => lik.neg_loglik_and_grad(&self.train, request)?,
        };
        self.warm = Some(lik.into_modes());
        Ok((value, grad))
    }

    fn evaluate_with_v1_sign_term(
        &mut self,
        params: &Params,
        request: GradRequest,
        batch: Option<&[usize]>,
    ) -> Result<(Evaluation, Vec<f64>), OptimError> {
        self.evaluate_by(params, batch, |lik, data| {
            lik.neg_loglik_grad_and_v1_sign_term(data, request)
        })
    }

    fn value(&mut self, params: &Params, batch: Option<&[usize]>) -> Result<f64, OptimError> {
        let lik = self.setup(params)?;
        Ok(match batch {
            Some(idx) => lik.neg_loglik(&self.train.subset(idx)?)?,
            None => lik.neg_loglik(&self.train)?,
        })
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
