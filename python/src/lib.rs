//! The native module of the Python package (`latentflow._native`): spike data, grids, models,
//! simulation, the likelihood, fits and the selection pipeline of latentflow, numpy in and out.
//!
//! The Python package (`python/latentflow`) wraps this module: it checks dtypes and shapes of
//! the arrays a user passes, accepts the original package's data forms, draws progress bars,
//! and adds NWB reading and matplotlib figures. Every long call releases the GIL and can be
//! interrupted with Ctrl-C ([`run::interruptible`]).

mod data;
mod errors;
mod model;
mod run;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<data::PySpikeData>()?;
    m.add_class::<model::PyGrid>()?;
    m.add_class::<model::PyModel>()?;
    m.add_class::<run::PyFitPath>()?;
    m.add_function(wrap_pyfunction!(model::potential_peq, m)?)?;
    m.add_function(wrap_pyfunction!(model::paper_rates, m)?)?;
    m.add_function(wrap_pyfunction!(run::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(run::loglik, m)?)?;
    m.add_function(wrap_pyfunction!(run::fit, m)?)?;
    m.add_function(wrap_pyfunction!(run::select, m)?)?;
    m.add_function(wrap_pyfunction!(run::symmetric_kl, m)?)?;
    m.add_function(wrap_pyfunction!(run::recovery, m)?)?;
    Ok(())
}
