//! Checkpoints: the fit state and the warm-start basis, bincode-encoded, with a fingerprint of
//! the problem and settings they belong to and a checksum, written atomically; the previous
//! checkpoint is kept beside the current one as a fallback.

use std::path::{Path, PathBuf};

use latentflow_spectral::FpModes;
use serde::{Deserialize, Serialize};

use crate::{FitConfig, FitState, OptimError, Problem};

/// Format tag at the start of every checkpoint file: "LFCKPT" and a two-digit format version
/// (02: the fit state carries the step control; 03: evaluations and the RKC state; 04: a
/// fingerprint of the problem and settings, and a CRC-32 of the body at the end).
const MAGIC: &[u8; 8] = b"LFCKPT04";

/// What a checkpoint holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    /// [`fingerprint`] of the fit that wrote it.
    pub fingerprint: u32,
    pub state: FitState,
    pub warm: Option<FpModes>,
}

/// Identifies what a fit's path depends on: the problem ([`Problem::fingerprint`]: data, grid,
/// model class) and every setting except the number of iterations (a resumed fit may be run
/// further) and the checkpoint file and period.
pub(crate) fn fingerprint(problem: &impl Problem, config: &FitConfig) -> u32 {
    let settings = FitConfig {
        iterations: 0,
        checkpoint: None,
        ..config.clone()
    };
    let mut h = crc32fast::Hasher::new();
    h.update(&problem.fingerprint().to_le_bytes());
    // Serialising plain numbers and enums cannot fail.
    if let Ok(bytes) = bincode::serde::encode_to_vec(&settings, bincode::config::standard()) {
        h.update(&bytes);
    }
    h.finalize()
}

/// Where the previous checkpoint of `path` is kept: `path` with `.prev` appended.
pub(crate) fn fallback_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".prev");
    PathBuf::from(name)
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

/// Writes `cp` to `path` atomically; with `rotate`, the checkpoint there (a good one) is first
/// moved to [`fallback_path`], so that whenever the process stops, one of the two is complete.
pub(crate) fn write_checkpoint(
    path: &Path,
    cp: &Checkpoint,
    rotate: bool,
) -> Result<(), OptimError> {
    let body = bincode::serde::encode_to_vec(cp, bincode::config::standard())
        .map_err(|e| io_err(path, e))?;
    let mut bytes = Vec::with_capacity(MAGIC.len() + body.len() + 4);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    if rotate && path.exists() {
        std::fs::rename(path, fallback_path(path)).map_err(|e| io_err(path, e))?;
    }
    write_atomic(path, &bytes)
}

/// Why a checkpoint was not read.
enum Unread {
    /// Missing, unreadable, of another format or corrupt: the fallback may serve.
    Bad(OptimError),
    /// Good, but written by another fit: an error, never a reason to fall back.
    Foreign(OptimError),
}

/// Reads a checkpoint and checks its format, checksum and fingerprint (`expected`).
fn read_one(path: &Path, expected: u32) -> Result<Checkpoint, Unread> {
    read_intact(path).map_err(Unread::Bad).and_then(|cp| {
        if cp.fingerprint == expected {
            Ok(cp)
        } else {
            Err(Unread::Foreign(io_err(
                path,
                "this checkpoint belongs to another fit (other data, the other half, or changed \
                 settings); delete it to start anew, or resume with the data and options it \
                 was made with",
            )))
        }
    })
}

/// Reads a checkpoint and checks its format and checksum.
fn read_intact(path: &Path) -> Result<Checkpoint, OptimError> {
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
    let rest = &bytes[MAGIC.len()..];
    let Some(split) = rest.len().checked_sub(4) else {
        return Err(io_err(path, "truncated checkpoint"));
    };
    let (body, sum) = rest.split_at(split);
    if crc32fast::hash(body).to_le_bytes() != sum {
        return Err(io_err(
            path,
            "corrupt checkpoint (truncated or changed: its checksum does not match)",
        ));
    }
    let (cp, used): (Checkpoint, usize) =
        bincode::serde::decode_from_slice(body, bincode::config::standard())
            .map_err(|e| io_err(path, format!("corrupt checkpoint: {e}")))?;
    if used != body.len() {
        return Err(io_err(path, "trailing bytes after the checkpoint"));
    }
    Ok(cp)
}

/// A checkpoint read for resuming, and a note when it is the fallback.
pub(crate) struct Resumed {
    pub checkpoint: Checkpoint,
    /// Why the fallback was read (the current checkpoint's error), if it was.
    pub note: Option<String>,
}

/// Reads the checkpoint at `path` for a fit with fingerprint `expected`. If that file is
/// missing, unreadable or corrupt (not if it belongs to another fit), the previous checkpoint
/// ([`fallback_path`]) is read instead when it is good.
pub(crate) fn read_checkpoint(path: &Path, expected: u32) -> Result<Resumed, OptimError> {
    let err = match read_one(path, expected) {
        Ok(checkpoint) => {
            return Ok(Resumed {
                checkpoint,
                note: None,
            });
        }
        Err(Unread::Foreign(e)) => return Err(e),
        Err(Unread::Bad(e)) => e,
    };
    let prev = fallback_path(path);
    if !prev.exists() {
        return Err(err);
    }
    match read_one(&prev, expected) {
        Ok(checkpoint) => {
            let note = format!(
                "{err}; resumed from the previous checkpoint {} (iteration {})",
                prev.display(),
                checkpoint.state.iteration
            );
            Ok(Resumed {
                checkpoint,
                note: Some(note),
            })
        }
        Err(Unread::Foreign(e)) => Err(e),
        Err(Unread::Bad(_)) => Err(err),
    }
}

/// True if `path` or its fallback exists (a fit can be resumed from it).
pub fn checkpoint_exists(path: &Path) -> bool {
    path.exists() || fallback_path(path).exists()
}
