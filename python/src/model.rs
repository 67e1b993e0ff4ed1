//! Grids, models, the named potentials and the paper's tuning curve.

use std::path::PathBuf;
use std::sync::Arc;

use latentflow::likelihood::{Model, ModelParts};
use latentflow::spectral::{BoundaryMode, Grid};
use latentflow::synth::{Potential, TuningCurve};
use latentflow::{DefaultInitial, GridSpec, InitialRates, ModelFile};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::data::PySpikeData;
use crate::errors::{OrRaise, value_error};

/// A spectral-element grid on [xbegin, xend]: `ne` equal elements of `np` Gauss–Lobatto–Legendre
/// nodes (element ends shared), n = ne (np - 1) + 1 nodes with quadrature weights.
#[pyclass(name = "Grid", module = "latentflow._native", frozen)]
#[derive(Clone)]
pub struct PyGrid {
    pub(crate) spec: GridSpec,
    pub(crate) grid: Arc<Grid>,
}

impl PyGrid {
    pub(crate) fn of(grid: &Arc<Grid>) -> PyGrid {
        PyGrid {
            spec: GridSpec::of(grid),
            grid: grid.clone(),
        }
    }
}

#[pymethods]
impl PyGrid {
    /// The grid; the defaults are the paper's (256 elements of 8 nodes on [-1, 1]).
    #[new]
    #[pyo3(signature = (xbegin=-1.0, xend=1.0, ne=256, np=8))]
    fn new(xbegin: f64, xend: f64, ne: usize, np: usize) -> PyResult<Self> {
        let spec = GridSpec {
            xbegin,
            xend,
            ne,
            np,
        };
        Ok(PyGrid {
            grid: spec.build().or_raise()?,
            spec,
        })
    }

    /// The nodes x.
    #[getter]
    fn x<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.grid.x())
    }

    /// The quadrature weights w (sum w g ~ the integral of g).
    #[getter]
    fn w<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.grid.w())
    }

    /// Number of nodes.
    #[getter]
    fn n(&self) -> usize {
        self.grid.n()
    }

    /// (xbegin, xend, ne, np).
    #[getter]
    fn spec(&self) -> (f64, f64, usize, usize) {
        let s = self.spec;
        (s.xbegin, s.xend, s.ne, s.np)
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.spec == other.spec
    }

    fn __repr__(&self) -> String {
        let s = self.spec;
        format!(
            "Grid(xbegin={}, xend={}, ne={}, np={})",
            s.xbegin, s.xend, s.ne, s.np
        )
    }
}

fn boundary(name: &str) -> PyResult<BoundaryMode> {
    match name {
        "reflecting" => Ok(BoundaryMode::Reflecting),
        "absorbing" => Ok(BoundaryMode::Absorbing),
        other => Err(value_error(format!(
            "boundary '{other}': use 'reflecting' or 'absorbing'"
        ))),
    }
}

pub(crate) fn boundary_name(mode: BoundaryMode) -> &'static str {
    match mode {
        BoundaryMode::Reflecting => "reflecting",
        BoundaryMode::Absorbing => "absorbing",
    }
}

/// The grid of `grid`, or the paper's.
pub(crate) fn grid_or_paper(grid: Option<&PyGrid>) -> PyResult<PyGrid> {
    match grid {
        Some(g) => Ok(g.clone()),
        None => Ok(PyGrid::of(&GridSpec::PAPER.build().or_raise()?)),
    }
}

/// A model of the latent dynamics on a grid: equilibrium density peq (dx/dt = D F(x) + noise,
/// F = (ln peq)'), D (1/s), the initial density p0 (None: p0 = peq), one firing-rate curve
/// f_n(x) (Hz) per neuron on the nodes, and the boundary mode.
#[pyclass(name = "Model", module = "latentflow._native", frozen)]
#[derive(Clone)]
pub struct PyModel {
    pub(crate) inner: Model,
}

impl PyModel {
    /// [`DefaultInitial`] from the Python arguments (see `Model.default`).
    pub(crate) fn default_for(
        data: &PySpikeData,
        grid: Option<&PyGrid>,
        d: f64,
        rates: &str,
        boundary: &str,
        fit_rates: bool,
    ) -> PyResult<Self> {
        let initial = DefaultInitial {
            spec: grid_or_paper(grid)?.spec,
            d,
            rates: match rates {
                "auto" => InitialRates::Auto,
                "paper" => InitialRates::Paper,
                "mean" => InitialRates::Mean,
                other => {
                    return Err(value_error(format!(
                        "rates '{other}': use 'auto', 'paper' or 'mean'"
                    )));
                }
            },
            boundary: self::boundary(boundary)?,
        };
        Ok(PyModel {
            inner: initial.build(&data.inner, fit_rates).or_raise()?,
        })
    }
}

#[pymethods]
impl PyModel {
    /// A model from arrays on `grid`'s nodes: `peq` (positive, normalised: sum w peq = 1),
    /// `d` > 0, `rates` of shape (neurons, nodes) in Hz, optional `p0`, `boundary`
    /// ("reflecting" or "absorbing").
    #[new]
    #[pyo3(signature = (grid, peq, d, rates, p0=None, boundary="reflecting"))]
    fn new(
        grid: &PyGrid,
        peq: PyReadonlyArray1<f64>,
        d: f64,
        rates: PyReadonlyArray2<f64>,
        p0: Option<PyReadonlyArray1<f64>>,
        boundary: &str,
    ) -> PyResult<Self> {
        let rates: Vec<Vec<f64>> = rates
            .as_array()
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect();
        let parts = ModelParts {
            boundary: self::boundary(boundary)?,
            peq: peq.as_array().to_vec(),
            p0: p0.map(|p| p.as_array().to_vec()),
            d,
            rates,
        };
        Ok(PyModel {
            inner: Model::new(grid.grid.clone(), parts).or_raise()?,
        })
    }

    /// The default start of a fit on `data` (what `latentflow select` starts from):
    /// peq ~ cos^2(pi x / 2) on `grid` (default: the paper's), D = `d`, rates "auto" (the
    /// paper's neuron for one neuron, else "mean"), "paper" or "mean" (each neuron at its mean
    /// rate, tilted along the population's first principal component when `fit_rates`).
    #[staticmethod]
    #[pyo3(signature = (data, grid=None, d=10.0, rates="auto", boundary="reflecting", fit_rates=false))]
    fn default(
        data: &PySpikeData,
        grid: Option<&PyGrid>,
        d: f64,
        rates: &str,
        boundary: &str,
        fit_rates: bool,
    ) -> PyResult<Self> {
        Self::default_for(data, grid, d, rates, boundary, fit_rates)
    }

    /// The paper's initial model on `grid` (default: the paper's grid): peq ~ cos^2, D = 10,
    /// one neuron at max(100 (x + 1), 1) Hz, reflecting.
    #[staticmethod]
    #[pyo3(signature = (grid=None))]
    fn paper(grid: Option<&PyGrid>) -> PyResult<Self> {
        Ok(PyModel {
            inner: latentflow::paper_initial_model(&grid_or_paper(grid)?.grid).or_raise()?,
        })
    }

    /// Reads a model file (JSON, as `latentflow fit` writes).
    #[staticmethod]
    fn read(path: PathBuf) -> PyResult<Self> {
        Ok(PyModel {
            inner: ModelFile::read(&path).or_raise()?,
        })
    }

    /// Writes the model file (atomically).
    fn write(&self, path: PathBuf) -> PyResult<()> {
        ModelFile::write(&self.inner, &path).or_raise()
    }

    /// Its grid.
    #[getter]
    fn grid(&self) -> PyGrid {
        PyGrid::of(self.inner.grid())
    }

    /// Equilibrium density on the nodes.
    #[getter]
    fn peq<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.inner.peq())
    }

    /// Initial density on the nodes, None for p0 = peq.
    #[getter]
    fn p0<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        self.inner.p0().map(|p| PyArray1::from_slice(py, p))
    }

    /// The driving force F = (ln peq)' on the nodes.
    #[getter]
    fn force<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.inner.force())
    }

    /// D (1/s).
    #[getter]
    fn d(&self) -> f64 {
        self.inner.d()
    }

    /// Firing rates (Hz), shape (neurons, nodes).
    #[getter]
    fn rates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        PyArray2::from_vec2(py, self.inner.rates()).map_err(value_error)
    }

    /// "reflecting" or "absorbing".
    #[getter]
    fn boundary(&self) -> &'static str {
        boundary_name(self.inner.boundary())
    }

    /// Number of neurons.
    #[getter]
    fn num_neurons(&self) -> usize {
        self.inner.num_neurons()
    }

    fn __repr__(&self) -> String {
        format!(
            "Model({} neurons, D = {}, {}, {} nodes)",
            self.inner.num_neurons(),
            self.inner.d(),
            boundary_name(self.inner.boundary()),
            self.inner.grid().n()
        )
    }
}

/// A named potential: "double_well" (the paper's ground truth), "triple_well", "four_well"
/// (the paper's extended-data truths), "cos_squared" (the initial model's), "uniform".
pub(crate) fn named_potential(name: &str) -> PyResult<Potential> {
    Ok(match name {
        "double_well" => Potential::paper_double_well(),
        "triple_well" => Potential::triple_well(),
        "four_well" => Potential::four_well(),
        "cos_squared" => Potential::cos_squared(),
        "uniform" => Potential::uniform(),
        other => {
            return Err(value_error(format!(
                "potential '{other}': use 'double_well', 'triple_well', 'four_well', 'cos_squared' or 'uniform'"
            )));
        }
    })
}

/// The equilibrium density peq ~ exp(-Phi) of a named potential on `grid`'s nodes
/// (normalised: sum w peq = 1).
#[pyfunction]
#[pyo3(signature = (name, grid=None))]
pub(crate) fn potential_peq<'py>(
    py: Python<'py>,
    name: &str,
    grid: Option<&PyGrid>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let g = grid_or_paper(grid)?.grid;
    let peq = named_potential(name)?.peq(g.x(), g.w()).or_raise()?;
    Ok(PyArray1::from_vec(py, peq))
}

/// The paper's tuning curve max(100 (x + 1), 1) Hz at the points `x`.
#[pyfunction]
pub(crate) fn paper_rates<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<f64>,
) -> Bound<'py, PyArray1<f64>> {
    let x = x.as_array().to_vec();
    PyArray1::from_vec(py, TuningCurve::paper().rates_on(&x))
}
