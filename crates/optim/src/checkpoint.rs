//! Checkpoints: the fit state and the warm-start basis, bincode-encoded, with a fingerprint of
//! the problem and settings they belong to and a checksum, written atomically; the previous
//! checkpoint is kept beside the current one as a fallback. The path's saved models, the bulk
//! of a fit's state (a 20-neuron fit keeps ~100 MB of them), are appended once each to a models
//! file beside the checkpoint, which records how many of its entries it covers and their
//! checksum.

use std::io::Write;
use std::path::{Path, PathBuf};

use latentflow_spectral::FpModes;
use serde::{Deserialize, Serialize};

use crate::{FitConfig, FitState, OptimError, Problem, SavedModel};

/// Format tag at the start of every checkpoint file: "LFCKPT" and a two-digit format version
/// (02: the fit state carries the step control; 03: evaluations and the RKC state; 04: a
/// fingerprint of the problem and settings, a CRC-32 of the body at the end, the saved models
/// in a models file; 05: parameters and gradients of several conditions; 06: an RKC fit's state is
/// its last accepted, evaluated model, not a proposal still to be evaluated).
const MAGIC: &[u8; 8] = b"LFCKPT06";

/// What a checkpoint holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    /// [`fingerprint`] of the fit that wrote it.
    pub fingerprint: u32,
    /// The fit state, its path without the saved models (they are in the models file).
    pub state: FitState,
    pub warm: Option<FpModes>,
    /// Entries of the models file that belong to this checkpoint (the first ones).
    pub models: u64,
    /// CRC-32 of those entries' bodies, in order.
    pub models_crc: u32,
}

/// How far the models file of a checkpoint goes: entries, bytes and their running CRC-32.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelLog {
    count: u64,
    bytes: u64,
    crc: crc32fast::Hasher,
}

/// Where the saved models of the checkpoint at `path` are kept: `path` with `.models`
/// appended. Entries: body length (u64, little-endian), body (a bincode [`SavedModel`]),
/// CRC-32 of the body (u32, little-endian).
pub(crate) fn models_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".models");
    PathBuf::from(name)
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

/// Writes a checkpoint of `state` to `path`: first the saved models not yet in the models file
/// (after cutting the file back to what `log` covers; no `log`: the file is started anew), then
/// the checkpoint atomically; with `rotate`, the checkpoint there (a good one) is first moved to
/// [`fallback_path`], so that whenever the process stops, one of the two is complete.
/// `state.path.models` is left empty in the checkpoint.
pub(crate) fn write_checkpoint(
    path: &Path,
    fingerprint: u32,
    state: FitState,
    warm: Option<FpModes>,
    models: &[SavedModel],
    log: &mut Option<ModelLog>,
    rotate: bool,
) -> Result<(), OptimError> {
    let file = models_path(path);
    let updated = append_models(&file, models, log.take().unwrap_or_default())
        .map_err(|e| io_err(&file, e))?;
    let cp = Checkpoint {
        fingerprint,
        state,
        warm,
        models: updated.count,
        models_crc: updated.crc.clone().finalize(),
    };
    *log = Some(updated);
    let body = bincode::serde::encode_to_vec(&cp, bincode::config::standard())
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

/// Cuts the models file back to `log` and appends `models[log.count..]`, synced.
fn append_models(
    file: &Path,
    models: &[SavedModel],
    mut log: ModelLog,
) -> Result<ModelLog, String> {
    if let Some(dir) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(|e| e.to_string())?;
    f.set_len(log.bytes).map_err(|e| e.to_string())?;
    let mut out = std::io::BufWriter::new(&mut f);
    for m in models.iter().skip(log.count as usize) {
        let body = bincode::serde::encode_to_vec(m, bincode::config::standard())
            .map_err(|e| e.to_string())?;
        out.write_all(&(body.len() as u64).to_le_bytes())
            .and_then(|()| out.write_all(&body))
            .and_then(|()| out.write_all(&crc32fast::hash(&body).to_le_bytes()))
            .map_err(|e| e.to_string())?;
        log.crc.update(&body);
        log.count += 1;
        log.bytes += body.len() as u64 + 12;
    }
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    f.sync_all().map_err(|e| e.to_string())?;
    Ok(log)
}

/// Reads the first `cp.models` entries of the models `file` into the state of the checkpoint
/// read from `path`, checking each entry's and the whole prefix's checksum.
fn read_models(file: &Path, path: &Path, cp: &mut Checkpoint) -> Result<ModelLog, OptimError> {
    let bad = |what: &str| {
        io_err(
            file,
            format!("{what} (needed by the checkpoint {})", path.display()),
        )
    };
    let bytes = std::fs::read(file).map_err(|e| io_err(file, e))?;
    let mut log = ModelLog::default();
    let mut models = Vec::new();
    let mut at = 0usize;
    while log.count < cp.models {
        let head = bytes
            .get(at..at + 8)
            .ok_or_else(|| bad("the models file is truncated"))?;
        let len = u64::from_le_bytes(head.try_into().expect("8 bytes"));
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| (at + 8).checked_add(l))
            .filter(|&e| e + 4 <= bytes.len())
            .ok_or_else(|| bad("the models file is truncated or corrupt"))?;
        let body = &bytes[at + 8..end];
        if crc32fast::hash(body).to_le_bytes() != bytes[end..end + 4] {
            return Err(bad(
                "corrupt models file (an entry's checksum does not match)",
            ));
        }
        let (m, used): (SavedModel, usize) =
            bincode::serde::decode_from_slice(body, bincode::config::standard())
                .map_err(|e| bad(&format!("corrupt models file: {e}")))?;
        if used != body.len() {
            return Err(bad("corrupt models file (an entry has trailing bytes)"));
        }
        models.push(m);
        log.crc.update(body);
        log.count += 1;
        at = end + 4;
        log.bytes = at as u64;
    }
    if log.crc.clone().finalize() != cp.models_crc {
        return Err(bad(
            "the models file holds other models than the checkpoint's",
        ));
    }
    cp.state.path.models = models;
    Ok(log)
}

/// Why a checkpoint was not read.
enum Unread {
    /// Missing, unreadable, of another format or corrupt: the fallback may serve.
    Bad(OptimError),
    /// Good, but written by another fit: an error, never a reason to fall back.
    Foreign(OptimError),
}

/// Reads a checkpoint and checks its format, checksum and fingerprint (`expected`), then its
/// saved models from the models `file`.
fn read_one(path: &Path, file: &Path, expected: u32) -> Result<(Checkpoint, ModelLog), Unread> {
    read_intact(path).map_err(Unread::Bad).and_then(|mut cp| {
        if cp.fingerprint == expected {
            let log = read_models(file, path, &mut cp).map_err(Unread::Bad)?;
            Ok((cp, log))
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

/// A checkpoint read for resuming (its saved models included), how far the models file goes
/// for it, and a note when it is the fallback.
pub(crate) struct Resumed {
    pub checkpoint: Checkpoint,
    pub log: ModelLog,
    /// Why the fallback was read (the current checkpoint's error), if it was.
    pub note: Option<String>,
}

/// Reads the checkpoint at `path` for a fit with fingerprint `expected`. If that file is
/// missing, unreadable or corrupt (not if it belongs to another fit), the previous checkpoint
/// ([`fallback_path`]) is read instead when it is good.
pub(crate) fn read_checkpoint(path: &Path, expected: u32) -> Result<Resumed, OptimError> {
    let file = models_path(path);
    let err = match read_one(path, &file, expected) {
        Ok((checkpoint, log)) => {
            return Ok(Resumed {
                checkpoint,
                log,
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
    match read_one(&prev, &file, expected) {
        Ok((checkpoint, log)) => {
            let note = format!(
                "{err}; resumed from the previous checkpoint {} (iteration {})",
                prev.display(),
                checkpoint.state.iteration
            );
            Ok(Resumed {
                checkpoint,
                log,
                note: Some(note),
            })
        }
        Err(Unread::Foreign(e)) => Err(e),
        Err(Unread::Bad(e)) => Err(match err {
            OptimError::Io { path, message } => OptimError::Io {
                path,
                message: format!("{message}; the previous checkpoint is unusable too ({e})"),
            },
            other => other,
        }),
    }
}

/// True if `path` or its fallback exists (a fit can be resumed from it).
pub fn checkpoint_exists(path: &Path) -> bool {
    path.exists() || fallback_path(path).exists()
}
