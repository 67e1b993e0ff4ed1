//! A model on disk: grid + the model's parts, as JSON.

use std::path::Path;

use latentflow_likelihood::{Model, ModelParts};
use latentflow_spectral::GridSpec;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The JSON form of a model (`docs/formats.md`): format tag, grid, and the model's parts
/// (boundary, peq, optional p0, D, rates per neuron on the grid nodes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Always "latentflow-model".
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// The grid the arrays live on.
    pub grid: GridSpec,
    /// The model.
    #[serde(flatten)]
    pub parts: ModelParts,
}

impl ModelFile {
    /// The file form of a model.
    pub fn from_model(model: &Model) -> ModelFile {
        let g = model.grid();
        ModelFile {
            format: "latentflow-model".into(),
            version: 1,
            grid: GridSpec::of(g),
            parts: model.parts(),
        }
    }

    /// Builds and validates the model. The arrays' lengths are checked against the grid the
    /// file declares before the grid is built, and the grid's size against
    /// [`latentflow_spectral::MAX_NODES`] / [`latentflow_spectral::MAX_NP`], so a wrong `ne` or
    /// `np` costs nothing.
    pub fn to_model(&self) -> Result<Model, Error> {
        let GridSpec { ne, np, .. } = self.grid;
        let declared = ne
            .checked_mul(np.saturating_sub(1))
            .and_then(|v| v.checked_add(1));
        if let Some(n) = declared.filter(|_| np >= 3 && ne >= 1) {
            let p = &self.parts;
            let arrays = std::iter::once(("peq".to_string(), p.peq.len()))
                .chain(p.p0.as_ref().map(|v| ("p0".to_string(), v.len())))
                .chain(
                    p.rates
                        .iter()
                        .enumerate()
                        .map(|(k, r)| (format!("the rate of neuron {k}"), r.len())),
                );
            for (what, len) in arrays {
                if len != n {
                    return Err(Error::Spectral(
                        latentflow_spectral::SpectralError::LengthMismatch {
                            what: format!("{what} (on the grid ne = {ne}, np = {np})"),
                            expected: n,
                            got: len,
                        },
                    ));
                }
            }
        }
        Ok(Model::new(self.grid.build()?, self.parts.clone())?)
    }

    /// Reads and validates a model file.
    pub fn read(path: &Path) -> Result<Model, Error> {
        let err = |message: String| Error::File {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: ModelFile =
            serde_json::from_str(&text).map_err(|e| err(format!("not a model file: {e}")))?;
        if file.format != "latentflow-model" || file.version != 1 {
            return Err(err(format!(
                "format {:?} version {} is not latentflow-model version 1",
                file.format, file.version
            )));
        }
        file.to_model().map_err(|e| err(e.to_string()))
    }

    /// Writes a model file (pretty JSON).
    pub fn write(model: &Model, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(&ModelFile::from_model(model)).map_err(|e| {
            Error::File {
                path: path.display().to_string(),
                message: e.to_string(),
            }
        })?;
        Ok(latentflow_data::write_atomic(path, text.as_bytes())?)
    }
}
