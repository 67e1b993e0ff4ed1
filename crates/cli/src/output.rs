//! Output directories: made and checked writable before any long work starts.

use std::path::Path;

use anyhow::Context;

/// Creates `out` (and its parents) and checks that a file can be written and removed there,
/// so that a run fails in its first second, not after hours of fitting, when the directory
/// cannot take its results (read-only, permissions, a file in the way).
pub fn prepare(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let probe = out.join(".latentflow-write-check");
    let not_writable = || format!("{} is not writable", out.display());
    latentflow::data::write_atomic(&probe, b"").with_context(not_writable)?;
    std::fs::remove_file(&probe).with_context(not_writable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_path_that_is_a_file_and_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("lf-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        prepare(&dir.join("a/b")).unwrap();
        assert_eq!(std::fs::read_dir(dir.join("a/b")).unwrap().count(), 0);
        std::fs::write(dir.join("file"), b"x").unwrap();
        let err = format!("{:#}", prepare(&dir.join("file")).unwrap_err());
        assert!(err.contains("file"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
