//! Temporary files beside their targets: created anew, never through a link planted at their
//! name, and removed again when the write that needed them fails.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The temporary beside `path` that is renamed over it: `.NAME.tmp` (`.loss.png.tmp`).
pub fn temp_path(path: &Path) -> PathBuf {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{file_name}.tmp"))
}

/// Creates `path` anew for writing. Whatever is at that name is removed first (a temporary a
/// crash left, or a link planted there), and the file is then created exclusively (`O_EXCL`),
/// which never follows a link: what is written lands in this file and nowhere else.
pub fn create_new(path: &Path) -> Result<File> {
    remove_stale(path)?;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// Removes what is at `path` without following a link: a file, a link (not what it points to),
/// or a directory with its contents. Nothing there is fine.
pub fn remove_stale(path: &Path) -> Result<()> {
    let removed = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    };
    removed.with_context(|| format!("cannot remove the stale {}", path.display()))
}

/// Removes a temporary file or directory when dropped, unless [`TempGuard::keep`] was called
/// (after the rename that put it in place): a write that fails half-way (a full disk) leaves
/// no partial temporary behind to keep the disk full.
#[derive(Debug)]
pub struct TempGuard {
    path: Option<PathBuf>,
}

impl TempGuard {
    /// Guards the temporary at `path`.
    pub fn new(path: &Path) -> Self {
        Self { path: Some(path.to_path_buf()) }
    }

    /// The temporary was renamed into place (or is wanted): nothing to remove.
    pub fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Best effort: the error that made the write fail is the one reported.
            let _ = remove_stale(&path);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_link_planted_at_the_temporary_name_is_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, b"precious").expect("write");
        let tmp = dir.path().join(".metrics.csv.tmp");
        std::os::unix::fs::symlink(&outside, &tmp).expect("plant a link");
        create_new(&tmp).expect("create").write_all(b"mine").expect("write");
        assert_eq!(fs::read(&outside).expect("read"), b"precious");
        assert!(fs::symlink_metadata(&tmp).expect("meta").is_file());
        assert_eq!(fs::read(&tmp).expect("read"), b"mine");
    }

    #[test]
    fn a_dropped_guard_removes_its_temporary_and_a_kept_one_does_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a.tmp"), dir.path().join("b.tmp"));
        fs::write(&a, b"partial").expect("write");
        fs::create_dir(&b).expect("mkdir");
        fs::write(b.join("model.mpk"), b"partial").expect("write");
        drop(TempGuard::new(&a));
        TempGuard::new(&b).keep();
        assert!(!a.exists());
        assert!(b.join("model.mpk").is_file());
        drop(TempGuard::new(&b));
        assert!(!b.exists());
    }
}
