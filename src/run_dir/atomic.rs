//! Writing files so that no crash leaves a torn one, and no link planted in a run directory is
//! written through.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::temp::{create_new, temp_path, TempGuard};

/// Writes `bytes` to a temporary file beside `path` (`.NAME.tmp`), syncs it, then renames it
/// over `path`, so a crash leaves either the old file or the new one, never a torn one; the
/// directory is synced too, so the rename itself survives a power cut. A link (or hard link)
/// at `path` is replaced, never written through; a failed write removes its temporary.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let guard = TempGuard::new(&tmp);
    write_synced(&tmp, bytes)?;
    rename_synced(&tmp, path)?;
    guard.keep();
    Ok(())
}

/// Writes `bytes` to `path` as [`write_atomic`] does, then opens that file for appending; should
/// a link have replaced it since the rename, it is refused (`O_NOFOLLOW`), never written through.
/// For logs that grow (metrics.csv, samples.txt): rewritten whole once, then appended to.
pub fn rewrite_then_append(path: &Path, bytes: &[u8]) -> Result<fs::File> {
    write_atomic(path, bytes)?;
    let mut options = fs::OpenOptions::new();
    options.append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    options.open(path).with_context(|| format!("cannot open {}", path.display()))
}

/// Renames `from` to `to` (a file or a directory) and syncs the directory that holds `to`.
pub fn rename_synced(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).with_context(|| format!("cannot rename {} to {}", from.display(), to.display()))?;
    sync_dir(to.parent().unwrap_or(Path::new(".")))
}

/// Syncs a directory's entries to the disk (a no-op where directories cannot be opened).
pub fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    match fs::File::open(dir) {
        Ok(handle) => handle.sync_all().or_else(|_| Ok(())),
        Err(_) => Ok(()),
    }
}

/// Writes `bytes` to a new file at `path` (see [`create_new`]: whatever was at that name is
/// replaced, a link never followed) and syncs it to the disk (the caller renames it into place).
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = create_new(path)?;
    file.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all().with_context(|| format!("cannot sync {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("burngpt-run-dir-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("latest.json");
        write_atomic(&path, b"old").expect("first write");
        write_atomic(&path, b"new").expect("second write");
        assert_eq!(fs::read(&path).expect("read"), b"new");
        let names: Vec<_> = fs::read_dir(&dir).expect("list").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("latest.json")]);
        fs::remove_dir_all(&dir).expect("clean up");
    }

    /// Links planted at the file's name and at its temporary's, both to a file outside: the
    /// outside file keeps its bytes and the run directory gets a real file.
    #[cfg(unix)]
    #[test]
    fn write_atomic_never_writes_through_a_planted_link() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, b"precious").expect("write");
        let path = dir.path().join("config.toml");
        for link in [&path, &dir.path().join(".config.toml.tmp")] {
            std::os::unix::fs::symlink(&outside, link).expect("plant a link");
        }
        write_atomic(&path, b"mine").expect("write");
        assert_eq!(fs::read(&outside).expect("read"), b"precious");
        assert!(fs::symlink_metadata(&path).expect("meta").is_file());
        assert_eq!(fs::read(&path).expect("read"), b"mine");
        assert!(!dir.path().join(".config.toml.tmp").exists());
    }
}
