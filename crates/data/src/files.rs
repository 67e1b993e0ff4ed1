//! File dispatch and atomic writes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::DataError;
use crate::spike_data::SpikeData;

/// The spike-data file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Npz,
}

fn format_of(path: &Path) -> Result<Format, DataError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => Ok(Format::Json),
        Some("npz") => Ok(Format::Npz),
        _ => Err(DataError::UnsupportedExtension {
            path: path.to_path_buf(),
        }),
    }
}

impl SpikeData {
    /// Reads a `.json` or `.npz` file (chosen by extension, case-insensitive); see
    /// [`SpikeData::read_json`] and [`SpikeData::read_npz`].
    pub fn read(path: impl AsRef<Path>) -> Result<SpikeData, DataError> {
        let path = path.as_ref();
        match format_of(path)? {
            Format::Json => SpikeData::read_json(path),
            Format::Npz => SpikeData::read_npz(path),
        }
    }

    /// Writes a `.json` or `.npz` file (chosen by extension, case-insensitive), atomically; see
    /// [`SpikeData::write_json`] and [`SpikeData::write_npz`].
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), DataError> {
        let path = path.as_ref();
        match format_of(path)? {
            Format::Json => self.write_json(path),
            Format::Npz => self.write_npz(path),
        }
    }
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    fs::read(path).map_err(|error| DataError::Io {
        path: path.to_path_buf(),
        error,
    })
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary name next to `path`: `.<name>.tmp-<pid>-<n>`, plus `.<ext>` when `keep_ext`
/// (for writers that choose the format by extension).
fn temp_path(path: &Path, keep_ext: bool) -> std::io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path has no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    if keep_ext && let Some(ext) = path.extension() {
        tmp_name.push(".");
        tmp_name.push(ext);
    }
    Ok(path.with_file_name(tmp_name))
}

/// Writes `bytes` to `path` atomically: to a temporary file in the same directory, flushed to
/// disk, then renamed over `path`. On failure the temporary file is removed and `path` is
/// untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let io_err = |error| DataError::Io {
        path: path.to_path_buf(),
        error,
    };
    let tmp = temp_path(path, false).map_err(io_err)?;
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        // Best effort: the temporary file may not exist if creating it failed.
        let _ = fs::remove_file(&tmp);
        io_err(e)
    })
}

/// Writes `path` atomically through a writer that wants a path of its own (an image encoder,
/// say): `fill` writes the whole file at the temporary path it is given (same directory, same
/// extension); then the file is flushed to disk and renamed over `path`. If `fill` or any later
/// step fails, the temporary file is removed and `path` is untouched, so a full disk leaves no
/// truncated file behind.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), DataError> {
    let io_err = |error| DataError::Io {
        path: path.to_path_buf(),
        error,
    };
    let tmp = temp_path(path, true).map_err(io_err)?;
    let result = (|| {
        fill(&tmp)?;
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_extension_is_an_error() {
        for p in ["spikes.csv", "spikes"] {
            let e = SpikeData::read(p).unwrap_err();
            assert!(
                matches!(e, DataError::UnsupportedExtension { .. }),
                "{p}: {e}"
            );
            assert!(e.to_string().starts_with(p), "{e}");
        }
    }

    #[test]
    fn extension_is_case_insensitive() {
        assert_eq!(format_of(Path::new("a.JSON")).unwrap(), Format::Json);
        assert_eq!(format_of(Path::new("a.Npz")).unwrap(), Format::Npz);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir =
            std::env::temp_dir().join(format!("latentflow-data-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.bin");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.bin")]);
        // A missing directory fails cleanly, naming the file.
        let missing = dir.join("no-such-dir").join("x.bin");
        let e = write_atomic(&missing, b"x").unwrap_err();
        assert!(e.to_string().contains("no-such-dir"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_writer_that_fails_half_way_leaves_no_file() {
        // A full disk, injected: the writer gets half the bytes out, then ENOSPC.
        let dir = std::env::temp_dir().join(format!("latentflow-data-full-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("figure.png");
        let full = || std::io::Error::from_raw_os_error(28);
        let e = write_atomic_with(&path, |tmp| {
            assert_eq!(tmp.extension().unwrap(), "png", "{}", tmp.display());
            fs::write(tmp, b"half a fi")?;
            Err(full())
        })
        .unwrap_err();
        assert!(e.to_string().contains("figure.png"), "{e}");
        assert!(names(&dir).is_empty(), "{:?}", names(&dir));
        // Over an existing file: the old contents survive.
        write_atomic(&path, b"old").unwrap();
        write_atomic_with(&path, |tmp| {
            fs::write(tmp, b"new, trunc")?;
            Err(full())
        })
        .unwrap_err();
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(names(&dir), vec!["figure.png".to_string()]);
        write_atomic_with(&path, |tmp| fs::write(tmp, b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(names(&dir), vec!["figure.png".to_string()]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
