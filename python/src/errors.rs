//! Rust errors as Python exceptions with the same one-line message: file problems raise
//! `OSError`, an interrupted fit `KeyboardInterrupt`, everything else `ValueError`.

use latentflow::Error;
use latentflow::data::DataError;
use latentflow::optim::OptimError;
use pyo3::PyErr;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyValueError};

/// The exception for `error`.
pub(crate) fn to_py(error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        Error::File { .. }
        | Error::Data(DataError::Io { .. })
        | Error::Optim(OptimError::Io { .. })
        | Error::Optim(OptimError::Data(DataError::Io { .. })) => PyOSError::new_err(message),
        Error::Optim(OptimError::Interrupted { .. }) => PyKeyboardInterrupt::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// A `ValueError` with `message`.
pub(crate) fn value_error(message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(message.to_string())
}

/// `?` for any latentflow error in a function that returns to Python.
pub(crate) trait OrRaise<T> {
    /// The value, or the error as its Python exception.
    fn or_raise(self) -> Result<T, PyErr>;
}

impl<T, E: Into<Error>> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> Result<T, PyErr> {
        self.map_err(|e| to_py(e.into()))
    }
}
