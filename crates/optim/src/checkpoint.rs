//! Checkpoints: the fit state and the warm-start basis, bincode-encoded, written atomically.

use std::path::Path;

use latentflow_spectral::FpModes;
use serde::{Deserialize, Serialize};

use crate::{FitState, OptimError};

/// Format tag at the start of every checkpoint file: "LFCKPT" and a two-digit format version
/// (02: the fit state carries the step control; 03: evaluations and the RKC state).
const MAGIC: &[u8; 8] = b"LFCKPT03";

/// What a checkpoint holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    pub state: FitState,
    pub warm: Option<FpModes>,
}

fn io_err(path: &Path, message: impl ToString) -> OptimError {
    OptimError::Io {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Writes `bytes` atomically (a temporary file beside `path`, synced, then renamed over it: a
/// reader sees the old file or the new one, never a partial one), creating the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OptimError> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io_err(path, e))?;
    }
    latentflow_data::write_atomic(path, bytes).map_err(|e| io_err(path, e))
}

pub(crate) fn write_checkpoint(path: &Path, cp: &Checkpoint) -> Result<(), OptimError> {
    let mut bytes = MAGIC.to_vec();
    let body = bincode::serde::encode_to_vec(cp, bincode::config::standard())
        .map_err(|e| io_err(path, e))?;
    bytes.extend_from_slice(&body);
    write_atomic(path, &bytes)
}

pub(crate) fn read_checkpoint(path: &Path) -> Result<Checkpoint, OptimError> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(io_err(
            path,
            if bytes.starts_with(&MAGIC[..6]) {
                "a checkpoint of another latentflow version; start the fit anew (without --resume)"
            } else {
                "not a latentflow checkpoint"
            },
        ));
    }
    let (cp, used): (Checkpoint, usize) =
        bincode::serde::decode_from_slice(&bytes[MAGIC.len()..], bincode::config::standard())
            .map_err(|e| io_err(path, format!("truncated or corrupt checkpoint: {e}")))?;
    if used != bytes.len() - MAGIC.len() {
        return Err(io_err(path, "trailing bytes after the checkpoint"));
    }
    Ok(cp)
}
