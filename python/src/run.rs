//! The long calls — simulate, the likelihood, a fit, the selection pipeline — and what they
//! return. Each releases the GIL and runs on a worker thread while the calling thread polls
//! for Ctrl-C and reports progress ([`interruptible`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latentflow::data::Split;
use latentflow::likelihood::{GradRequest, Likelihood};
use latentflow::optim::{
    CheckpointConfig, Fit, FitConfig, FitPath, IterationRecord, LearningRates, Method, Observer,
    OptimError, Params, Rkc, SpikeProblem,
};
use latentflow::orientation::{Orientation, mirrored};
use latentflow::pipeline::EarlyStop;
use latentflow::recovery::Recovery;
use latentflow::select::{FeatureConsistency, FeatureConsistencyResult};
use latentflow::spectral::{BandedSolver, BoundaryMode, DenseSolver, EigenSolver};
use latentflow::synth::{Amount, Potential, SimulationConfig, Simulator, TrialLength, TuningCurve};
use latentflow::{Pipeline, PipelineConfig, PipelineResult};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::data::PySpikeData;
use crate::errors::{OrRaise, value_error};
use crate::model::{PyGrid, PyModel, boundary_name, named_potential};

/// How often the waiting thread looks for Ctrl-C and reports progress.
const POLL: Duration = Duration::from_millis(50);

/// Progress of the fits of one call, shared between the workers and the waiting thread.
struct Shared {
    stop: AtomicBool,
    /// (iterations done, planned iterations) per fit.
    progress: Mutex<Vec<(u64, u64)>>,
}

/// Records a fit's progress and passes on a stop request.
pub(crate) struct Reporter {
    shared: Arc<Shared>,
    index: usize,
}

impl Observer for Reporter {
    fn observe(&mut self, record: &IterationRecord, total: u64) {
        if let Ok(mut p) = self.shared.progress.lock() {
            // The step from this record's model is taken: iteration + 1 done (as the CLI's bar).
            p[self.index] = (record.iteration + 1, total);
        }
    }

    fn stop_requested(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }
}

/// Runs `work` on a worker thread with the GIL released, handing it one [`Reporter`] per fit
/// (`fits` of them). The calling thread wakes every [`POLL`]: on Ctrl-C it asks the fits to
/// stop (they end with their state checkpointed) and raises `KeyboardInterrupt`; when the
/// progress changed it calls `progress([(iteration, total), ...])`. An exception raised by
/// `progress` stops the work too and is re-raised.
pub(crate) fn interruptible<T: Send>(
    py: Python<'_>,
    fits: usize,
    progress: Option<Py<PyAny>>,
    work: impl FnOnce(Vec<Reporter>) -> T + Send,
) -> PyResult<T> {
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        progress: Mutex::new(vec![(0, 0); fits]),
    });
    let reporters: Vec<Reporter> = (0..fits)
        .map(|index| Reporter {
            shared: shared.clone(),
            index,
        })
        .collect();
    let report = |shown: &mut Vec<(u64, u64)>| -> PyResult<()> {
        let now = shared
            .progress
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        if let Some(callback) = &progress
            && now != *shown
        {
            Python::attach(|py| callback.call1(py, (now.clone(),)))?;
            *shown = now;
        }
        Ok(())
    };
    let (result, raised) = py.detach(|| {
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::channel();
            let worker = scope.spawn(move || {
                let out = work(reporters);
                let _ = done.send(());
                out
            });
            let mut shown = vec![(0, 0); fits];
            let mut raised: Option<PyErr> = None;
            while finished.recv_timeout(POLL).is_err() && !worker.is_finished() {
                if raised.is_some() {
                    continue;
                }
                let checked =
                    Python::attach(|py| py.check_signals()).and_then(|()| report(&mut shown));
                if let Err(e) = checked {
                    shared.stop.store(true, Ordering::Relaxed);
                    raised = Some(e);
                }
            }
            if raised.is_none()
                && let Err(e) = report(&mut shown)
            {
                raised = Some(e);
            }
            (worker.join(), raised)
        })
    });
    match (result, raised) {
        (_, Some(e)) => Err(e),
        (Ok(out), None) => Ok(out),
        (Err(_), None) => Err(PyRuntimeError::new_err(
            "latentflow: a worker thread panicked (please report this as a bug)",
        )),
    }
}

/// The parameters named in `fit` ("F", "D", "F0", "Fr", "C").
fn request(fit: &[String]) -> PyResult<GradRequest> {
    let mut r = GradRequest::default();
    for name in fit {
        match name.as_str() {
            "F" => r.force = true,
            "D" => r.d = true,
            "F0" => r.force0 = true,
            "Fr" => r.fr = true,
            "C" => r.c = true,
            other => {
                return Err(value_error(format!(
                    "fit: unknown parameter '{other}' (use F, D, F0, Fr, C)"
                )));
            }
        }
    }
    Ok(r)
}

/// The fit settings of `latentflow fit` / `select` for these options: learning rates per 10,000
/// fitted spikes (or the paper's absolute ones) with `lr` over the defaults, the path `method`
/// ("rkc", "gd" or "adam", with `rkc_tolerance` the RKC method's local error tolerance), step
/// rejection on.
fn fit_config(
    iterations: u64,
    fit: GradRequest,
    lr: Option<Vec<(String, f64)>>,
    absolute_lr: bool,
    method: &str,
    rkc_tolerance: Option<f64>,
) -> PyResult<FitConfig> {
    let mut rates = if absolute_lr {
        LearningRates::paper()
    } else {
        LearningRates::default()
    };
    for (name, v) in lr.unwrap_or_default() {
        let slot = match name.as_str() {
            "F" => &mut rates.force,
            "D" => &mut rates.d,
            "F0" => &mut rates.force0,
            "Fr" => &mut rates.fr,
            "C" => &mut rates.c,
            other => {
                return Err(value_error(format!(
                    "lr: unknown parameter '{other}' (use F, D, F0, Fr, C)"
                )));
            }
        };
        *slot = v;
    }
    if rkc_tolerance.is_some() && method != "rkc" {
        return Err(value_error(format!(
            "rkc_tolerance: only with method 'rkc', not '{method}'"
        )));
    }
    let method = match method {
        "rkc" => {
            let rkc = Rkc {
                tolerance: rkc_tolerance.unwrap_or(Rkc::default().tolerance),
                ..Rkc::default()
            };
            rkc.validate()
                .map_err(|e| value_error(format!("rkc_tolerance: {e}")))?;
            Method::Rkc(rkc)
        }
        "gd" => Method::GradientDescent,
        "adam" => Method::adam(),
        other => {
            return Err(value_error(format!(
                "method '{other}': use 'rkc', 'gd' or 'adam'"
            )));
        }
    };
    if iterations == 0 {
        return Err(value_error("iterations must be >= 1"));
    }
    let config = FitConfig {
        iterations,
        method,
        learning_rates: rates,
        fit,
        ..FitConfig::default()
    };
    config.validate().or_raise()?;
    Ok(config)
}

/// Modes kept: `nv`, else 64 (reflecting) or all (absorbing), checked against the grid.
fn modes(nv: Option<usize>, model: &PyModel) -> PyResult<usize> {
    let max = model.inner.grid().n() - 2;
    let nv = nv.unwrap_or(match model.inner.boundary() {
        BoundaryMode::Reflecting => 64.min(max),
        BoundaryMode::Absorbing => max,
    });
    if nv == 0 || nv > max {
        return Err(value_error(format!(
            "nv {nv}: the grid of {} nodes has {max} modes; choose 1 to {max}",
            max + 2
        )));
    }
    Ok(nv)
}

/// Simulates spike trains of the Langevin model: potential `potential` (None: the paper's
/// double well; a name; or
/// `(x, phi)` arrays tabulating Phi), D `d` (1/s), neurons `rates` (None: the paper's one
/// neuron; or `(x, rates)` with rates of shape (neurons, len(x)) in Hz), on [xbegin, xend].
/// Exactly one of `spikes` (whole trials until this many), `seconds`, `trials` says how much.
#[pyfunction]
#[pyo3(signature = (potential=None, d=10.0, rates=None, boundary="reflecting",
    spikes=None, seconds=None, trials=None, trial_length=10.0, seed=0, dt=1e-4,
    xbegin=-1.0, xend=1.0))]
pub(crate) fn simulate(
    py: Python<'_>,
    potential: Option<&Bound<'_, PyAny>>,
    d: f64,
    rates: Option<(PyReadonlyArray1<f64>, PyReadonlyArray2<f64>)>,
    boundary: &str,
    spikes: Option<u64>,
    seconds: Option<f64>,
    trials: Option<u64>,
    trial_length: f64,
    seed: u64,
    dt: f64,
    xbegin: f64,
    xend: f64,
) -> PyResult<PySpikeData> {
    let potential = if let Some(p) = potential.filter(|p| !p.is_none()) {
        if let Ok(name) = p.extract::<String>() {
            named_potential(&name)?
        } else if let Ok((x, phi)) = p.extract::<(PyReadonlyArray1<f64>, PyReadonlyArray1<f64>)>() {
            Potential::table(x.as_array().to_vec(), phi.as_array().to_vec()).or_raise()?
        } else {
            return Err(value_error(
                "potential: a name or a pair (x, phi) of float64 arrays",
            ));
        }
    } else {
        Potential::paper_double_well()
    };
    let neurons = match rates {
        None => vec![TuningCurve::paper()],
        Some((x, r)) => {
            let x = x.as_array().to_vec();
            r.as_array()
                .rows()
                .into_iter()
                .map(|row| TuningCurve::table(x.clone(), row.to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .or_raise()?
        }
    };
    let amount = match (spikes, seconds, trials) {
        (Some(s), None, None) => Amount::Spikes(s),
        (None, Some(t), None) => Amount::Seconds(t),
        (None, None, Some(k)) => Amount::Trials(k),
        _ => {
            return Err(value_error(
                "give exactly one of spikes, seconds and trials",
            ));
        }
    };
    let config = SimulationConfig {
        potential,
        d,
        boundary: match boundary {
            "reflecting" => BoundaryMode::Reflecting,
            "absorbing" => BoundaryMode::Absorbing,
            other => {
                return Err(value_error(format!(
                    "boundary '{other}': use 'reflecting' or 'absorbing'"
                )));
            }
        },
        xbegin,
        xend,
        neurons,
        dt,
        ..SimulationConfig::paper()
    };
    let simulator = Simulator::new(config).or_raise()?;
    let length = TrialLength::Fixed(trial_length);
    let synthetic =
        interruptible(py, 0, None, |_| simulator.run(amount, length, seed))?.or_raise()?;
    Ok(PySpikeData {
        inner: synthetic.data,
    })
}

/// -log L of `data` under `model` with `nv` modes; with `gradients`, also a dict of the
/// gradients that apply ("F", "D", "F0", "Fr", "C": functional derivatives per node for F, F0
/// and Fr, ordinary ones for D and C).
#[pyfunction]
#[pyo3(signature = (data, model, nv=None, gradients=false, dense=false))]
pub(crate) fn loglik<'py>(
    py: Python<'py>,
    data: &PySpikeData,
    model: &PyModel,
    nv: Option<usize>,
    gradients: bool,
    dense: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let nv = modes(nv, model)?;
    let m = &model.inner;
    let solver: Box<dyn EigenSolver> = if dense {
        Box::new(DenseSolver)
    } else {
        Box::new(BandedSolver::default())
    };
    let request = GradRequest {
        force: true,
        d: true,
        force0: m.p0().is_some(),
        fr: m.rates().iter().all(|r| r.iter().all(|v| *v > 0.0)),
        c: m.rates().iter().all(|r| r[0] > 0.0),
    };
    let (nll, grad) = interruptible(py, 0, None, |_| {
        let lik = Likelihood::new(m, nv, solver.as_ref())?;
        if gradients {
            lik.neg_loglik_and_grad(&data.inner, request)
                .map(|(v, g)| (v, Some(g)))
        } else {
            lik.neg_loglik(&data.inner).map(|v| (v, None))
        }
    })?
    .or_raise()?;
    let Some(g) = grad else {
        return Ok(nll.into_pyobject(py)?.into_any());
    };
    let out = PyDict::new(py);
    if let Some(f) = g.force {
        out.set_item("F", PyArray1::from_vec(py, f))?;
    }
    if let Some(v) = g.d {
        out.set_item("D", v)?;
    }
    if let Some(f) = g.force0 {
        out.set_item("F0", PyArray1::from_vec(py, f))?;
    }
    if let Some(fr) = g.fr {
        out.set_item("Fr", PyArray2::from_vec2(py, &fr).map_err(value_error)?)?;
    }
    if let Some(c) = g.c {
        out.set_item("C", PyArray1::from_vec(py, c))?;
    }
    Ok((nll, out).into_pyobject(py)?.into_any())
}

/// A fit's path: one record per iteration (per step with the RKC method) and the models kept
/// on the save schedule (every iteration below 100, then 100 per decade).
#[pyclass(name = "FitPath", module = "latentflow._native", frozen)]
pub struct PyFitPath {
    pub(crate) inner: FitPath,
}

impl PyFitPath {
    fn records<'py, T: numpy::Element>(
        &self,
        py: Python<'py>,
        f: impl Fn(&IterationRecord) -> T,
    ) -> Bound<'py, PyArray1<T>> {
        PyArray1::from_vec(py, self.inner.records.iter().map(f).collect())
    }
}

#[pymethods]
impl PyFitPath {
    /// Iteration of each record.
    #[getter]
    fn iterations<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        self.records(py, |r| r.iteration)
    }

    /// Training -log L of each record.
    #[getter]
    fn train_neg_loglik<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.records(py, |r| r.train_neg_loglik)
    }

    /// Validation -log L of each record (NaN without validation data).
    #[getter]
    fn validation_neg_loglik<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.records(py, |r| r.validation_neg_loglik.unwrap_or(f64::NAN))
    }

    /// Feature complexity (1/4) int F^2 peq of each record.
    #[getter]
    fn feature_complexity<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.records(py, |r| r.feature_complexity)
    }

    /// Gradient evaluations up to each record.
    #[getter]
    fn evaluations<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        self.records(py, |r| r.evaluations)
    }

    /// Iteration of each saved model.
    #[getter]
    fn model_iterations<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        PyArray1::from_vec(
            py,
            self.inner
                .models
                .iter()
                .map(|m| m.record.iteration)
                .collect(),
        )
    }

    /// Equilibrium densities of the saved models, shape (models, nodes).
    #[getter]
    fn peq<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let rows: Vec<Vec<f64>> = self.inner.models.iter().map(|m| m.peq.clone()).collect();
        PyArray2::from_vec2(py, &rows).map_err(value_error)
    }

    /// Driving forces F = (ln peq)' of the saved models, shape (models, nodes).
    #[getter]
    fn force<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let rows: Vec<Vec<f64>> = self
            .inner
            .models
            .iter()
            .map(|m| m.params.force.clone())
            .collect();
        PyArray2::from_vec2(py, &rows).map_err(value_error)
    }

    /// D of the saved models.
    #[getter]
    fn d<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.inner.models.iter().map(|m| m.params.d).collect())
    }

    /// The grid.
    #[getter]
    fn grid(&self) -> PyResult<PyGrid> {
        Ok(PyGrid::of(&self.inner.grid.build().or_raise()?))
    }

    /// Saved model `index` (negative counts from the end) as a [`PyModel`].
    fn model(&self, index: isize) -> PyResult<PyModel> {
        let n = self.inner.models.len() as isize;
        let i = if index < 0 { index + n } else { index };
        if !(0..n).contains(&i) {
            return Err(value_error(format!(
                "model index {index}: the path holds {n} models"
            )));
        }
        let grid = self.inner.grid.build().or_raise()?;
        let m = &self.inner.models[i as usize];
        Ok(PyModel {
            inner: m.params.to_model(&grid, self.inner.boundary).or_raise()?,
        })
    }

    /// Writes the path as JSON (the `fit_path.json` of the command-line tool).
    fn write(&self, path: PathBuf) -> PyResult<()> {
        self.inner.write_json(&path).or_raise()
    }

    fn __len__(&self) -> usize {
        self.inner.records.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "FitPath({} records to iteration {}, {} saved models)",
            self.inner.records.len(),
            self.inner.records.last().map_or(0, |r| r.iteration),
            self.inner.models.len()
        )
    }
}

/// Fits `model` to `data` (validated on `validation`), as `latentflow fit`: `iterations`
/// iterations of the parameters `fit`, learning rates per 10,000 fitted spikes (`lr` a dict
/// such as {"F": 0.005}; `absolute_lr` for the paper's), path `method` ("rkc", "gd", "adam";
/// `rkc_tolerance` the RKC method's local error tolerance, default 1e-3).
/// With `checkpoint`, the fit checkpoints there every `checkpoint_every` iterations and
/// `resume` continues from it. `progress([(iteration, total)])` is called as it runs.
#[pyfunction]
#[pyo3(signature = (data, model, validation=None, iterations=2000, fit=vec!["F".to_string()],
    lr=None, absolute_lr=false, method="rkc", rkc_tolerance=None, nv=None, checkpoint=None,
    checkpoint_every=500, resume=false, progress=None))]
pub(crate) fn fit(
    py: Python<'_>,
    data: &PySpikeData,
    model: &PyModel,
    validation: Option<&PySpikeData>,
    iterations: u64,
    fit: Vec<String>,
    lr: Option<Vec<(String, f64)>>,
    absolute_lr: bool,
    method: &str,
    rkc_tolerance: Option<f64>,
    nv: Option<usize>,
    checkpoint: Option<PathBuf>,
    checkpoint_every: u64,
    resume: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyFitPath> {
    let request = request(&fit)?;
    let nv = modes(nv, model)?;
    if let Some(v) = validation
        && v.inner.num_neurons() != data.inner.num_neurons()
    {
        return Err(value_error(format!(
            "validation: the validation data have {} neurons, the training data {}",
            v.inner.num_neurons(),
            data.inner.num_neurons()
        )));
    }
    if checkpoint_every == 0 {
        return Err(value_error("checkpoint_every must be >= 1"));
    }
    let config = FitConfig {
        checkpoint: checkpoint.clone().map(|path| CheckpointConfig {
            path,
            every: checkpoint_every,
        }),
        ..fit_config(iterations, request, lr, absolute_lr, method, rkc_tolerance)?
    };
    let m = &model.inner;
    let grid = m.grid().clone();
    let problem = SpikeProblem::new(
        grid.clone(),
        m.boundary(),
        data.inner.clone(),
        validation.map(|v| v.inner.clone()),
        nv,
        Box::new(BandedSolver::default()),
    );
    let mut fit = match (&checkpoint, resume) {
        (Some(path), true) => Fit::resume(problem, config, path).or_raise()?,
        (None, true) => return Err(value_error("resume needs a checkpoint path")),
        _ => {
            let params = Params::from_model(m, request.fr || request.c).or_raise()?;
            let spec = latentflow::GridSpec::of(&grid);
            Fit::new(problem, params, config, spec, m.boundary(), nv).or_raise()?
        }
    };
    let outcome = interruptible(py, 1, progress, |mut reporters| {
        let reporter: &mut dyn Observer = &mut reporters[0];
        fit.run(&mut [reporter])
    })?;
    match outcome {
        Ok(()) => Ok(PyFitPath {
            inner: fit.path().clone(),
        }),
        Err(e @ OptimError::Interrupted { .. }) => Err(crate::errors::to_py(e.into())),
        Err(e) => Err(value_error(format!(
            "{e}{}",
            if checkpoint.is_some() {
                " (the last good state is in the checkpoint)"
            } else {
                ""
            }
        ))),
    }
}

/// One feature-consistency result as a dict; half 2's density turned by `turn`.
fn consistency<'py>(
    py: Python<'py>,
    fc: &FeatureConsistencyResult,
    paths: &[FitPath; 2],
    turn: &dyn Fn(&[f64]) -> Vec<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let s = &fc.selected;
    let out = PyDict::new(py);
    out.set_item("m_star", fc.m_star)?;
    out.set_item("threshold", fc.threshold)?;
    out.set_item("crossed", fc.crossed)?;
    out.set_item("iterations", (s.iteration1, s.iteration2))?;
    out.set_item(
        "feature_complexity",
        (s.feature_complexity1, s.feature_complexity2),
    )?;
    out.set_item("divergence", s.divergence)?;
    let peq = [
        paths[0].models[s.index1].peq.clone(),
        turn(&paths[1].models[s.index2].peq),
    ];
    out.set_item("peq", PyArray2::from_vec2(py, &peq).map_err(value_error)?)?;
    out.set_item(
        "curve_feature_complexity",
        PyArray1::from_slice(py, &fc.axis),
    )?;
    let curve: Vec<f64> = fc
        .divergence
        .iter()
        .map(|d| d.unwrap_or(f64::NAN))
        .collect();
    out.set_item("curve_divergence", PyArray1::from_vec(py, curve))?;
    let warnings: Vec<String> = fc.warnings.iter().map(|w| w.to_string()).collect();
    out.set_item("warnings", warnings)?;
    Ok(out)
}

/// The whole pipeline, as `latentflow select` with the same defaults: split `data` into two
/// halves, fit both from `model` (default: `Model.default(data, grid, d, rates, boundary)`)
/// each validated on the other, stop early once the consistency curve has
/// crossed its threshold (unless `early_stop` is False), select by feature consistency (KL and
/// Jensen–Shannon) and by best generalisation. Returns a dict of numpy arrays, numbers and
/// the two fit paths. With `checkpoint_dir`, both fits checkpoint there and a rerun continues
/// from them.
#[pyfunction]
#[pyo3(signature = (data, model=None, grid=None, d=10.0, rates="auto", boundary="reflecting",
    fit=vec!["F".to_string()],
    nv=64, iterations=50_000, lr=None, absolute_lr=false, method="rkc", rkc_tolerance=None,
    split="alternating",
    threshold=0.01, threshold_js=0.002, early_stop=true, margin=1.0, check_every=500,
    checkpoint_dir=None, checkpoint_every=1000, progress=None))]
pub(crate) fn select<'py>(
    py: Python<'py>,
    data: &PySpikeData,
    model: Option<&PyModel>,
    grid: Option<&PyGrid>,
    d: f64,
    rates: &str,
    boundary: &str,
    fit: Vec<String>,
    nv: usize,
    iterations: u64,
    lr: Option<Vec<(String, f64)>>,
    absolute_lr: bool,
    method: &str,
    rkc_tolerance: Option<f64>,
    split: &str,
    threshold: f64,
    threshold_js: f64,
    early_stop: bool,
    margin: f64,
    check_every: u64,
    checkpoint_dir: Option<PathBuf>,
    checkpoint_every: u64,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let request = request(&fit)?;
    let initial = match model {
        Some(m) => m.clone(),
        None => PyModel::default_for(data, grid, d, rates, boundary, request.fr)?,
    };
    let nv = modes(Some(nv), &initial)?;
    let m = &initial.inner;
    let grid = m.grid().clone();
    for (name, v) in [("threshold", threshold), ("threshold_js", threshold_js)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(value_error(format!("{name} {v}: must be finite and > 0")));
        }
    }
    if !(margin.is_finite() && margin >= 0.0) {
        return Err(value_error(format!(
            "margin {margin}: must be finite and >= 0"
        )));
    }
    if check_every == 0 || checkpoint_every == 0 {
        return Err(value_error("check_every and checkpoint_every must be >= 1"));
    }
    let config = PipelineConfig {
        grid: latentflow::GridSpec::of(&grid),
        boundary: m.boundary(),
        nv,
        split: match split {
            "alternating" => Split::Alternating,
            "halves" => Split::Halves,
            other => {
                return Err(value_error(format!(
                    "split '{other}': use 'alternating' or 'halves'"
                )));
            }
        },
        fit: fit_config(iterations, request, lr, absolute_lr, method, rkc_tolerance)?,
        consistency_kl: FeatureConsistency {
            threshold,
            ..FeatureConsistency::kl()
        },
        consistency_js: FeatureConsistency {
            threshold: threshold_js,
            ..FeatureConsistency::js()
        },
        early_stop: early_stop.then_some(EarlyStop {
            check_every,
            margin,
            ..EarlyStop::default()
        }),
        checkpoint_dir,
        checkpoint_every,
        sharing: Default::default(),
    };
    let pipeline = Pipeline::new(&data.inner, m, config).or_raise()?;
    let result = interruptible(py, 2, progress, |mut reporters| {
        let [r0, r1] = &mut reporters[..] else {
            unreachable!("two reporters")
        };
        pipeline.run([Some(r0 as &mut dyn Observer), Some(r1 as &mut dyn Observer)])
    })?
    .or_raise()?;
    selection_dict(py, &result, &grid)
}

/// The pipeline's result as the dict `select` returns.
fn selection_dict<'py>(
    py: Python<'py>,
    result: &PipelineResult,
    grid: &Arc<latentflow::spectral::Grid>,
) -> PyResult<Bound<'py, PyDict>> {
    let paths = &result.paths;
    let orientation = result.orientation.half2;
    let turn = |peq: &[f64]| match orientation {
        Orientation::AsFitted => peq.to_vec(),
        Orientation::Mirrored => mirrored(peq),
    };
    let out = PyDict::new(py);
    out.set_item("iterations", result.iterations)?;
    out.set_item("stopped_early", result.stopped_early)?;
    out.set_item("seconds", result.seconds)?;
    out.set_item(
        "orientation",
        match orientation {
            Orientation::AsFitted => "as_fitted",
            Orientation::Mirrored => "mirrored",
        },
    )?;
    out.set_item(
        "feature_consistency",
        consistency(py, &result.feature_consistency, paths, &turn)?,
    )?;
    out.set_item(
        "feature_consistency_js",
        consistency(py, &result.feature_consistency_js, paths, &turn)?,
    )?;
    let bg = PyList::empty(py);
    for (k, b) in result.best_generalization.iter().enumerate() {
        let peq = &paths[k].models[b.index].peq;
        let one = PyDict::new(py);
        one.set_item("iteration", b.iteration)?;
        one.set_item("validation_neg_loglik", b.validation_neg_loglik)?;
        one.set_item("feature_complexity", b.feature_complexity)?;
        let peq = if k == 1 { turn(peq) } else { peq.clone() };
        one.set_item("peq", PyArray1::from_vec(py, peq))?;
        bg.append(one)?;
    }
    out.set_item("best_generalization", bg)?;
    out.set_item(
        "paths",
        (
            PyFitPath {
                inner: paths[0].clone(),
            },
            PyFitPath {
                inner: paths[1].clone(),
            },
        ),
    )?;
    out.set_item("grid", PyGrid::of(grid))?;
    out.set_item("boundary", boundary_name(result.config.boundary))?;
    out.set_item("resume_notes", result.resume_notes.clone())?;
    Ok(out)
}

/// Symmetrised KL divergence (nats) between two densities on a grid's nodes.
#[pyfunction]
pub(crate) fn symmetric_kl(
    grid: &PyGrid,
    p: PyReadonlyArray1<f64>,
    q: PyReadonlyArray1<f64>,
) -> PyResult<f64> {
    let (p, q) = (p.as_array().to_vec(), q.as_array().to_vec());
    latentflow::select::symmetric_kl(grid.grid.w(), &p, &q).or_raise()
}

/// How a selected density compares with the ground truth (the rule of the paper's synthetic
/// experiments): a dict of `kl_to_truth` (symmetrised KL, nats), `wells` (positions of the
/// minima of -ln peq) and, with `true_wells`, `recovers` (KL below the recovery bound and that
/// many wells).
#[pyfunction]
#[pyo3(signature = (grid, peq, truth, true_wells=None))]
pub(crate) fn recovery<'py>(
    py: Python<'py>,
    grid: &PyGrid,
    peq: PyReadonlyArray1<f64>,
    truth: PyReadonlyArray1<f64>,
    true_wells: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let (peq, truth) = (peq.as_array().to_vec(), truth.as_array().to_vec());
    let r = Recovery::new(&grid.grid, &peq, &truth).or_raise()?;
    let out = PyDict::new(py);
    out.set_item("kl_to_truth", r.kl_to_truth)?;
    out.set_item("wells", PyArray1::from_slice(py, &r.wells))?;
    if let Some(n) = true_wells {
        out.set_item("recovers", r.recovers(n))?;
    }
    Ok(out)
}
