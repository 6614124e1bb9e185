//! One writer per run directory: an exclusive lock on its `train.lock`, held while a run trains.
//!
//! The operating system releases the lock when the process ends, however it ends (`kill -9`
//! included), so a stale lock file never blocks a later run; the PID written into it only
//! names the holder in the error a second writer sees.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Held while a process trains in a run directory; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the exclusive lock on `path` (created if missing), or fails naming the PID that
    /// holds it.
    pub fn acquire(path: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "another process".to_string(),
                    pid => format!("process {pid}"),
                };
                bail!(
                    "{} is in use: {holder} is training in it (lock {}); wait for it to finish or stop it \
                     (Ctrl-C or `kill` saves a checkpoint), then resume",
                    path.parent().unwrap_or(Path::new(".")).display(),
                    path.display()
                );
            }
            Err(TryLockError::Error(err)) => return Err(err).with_context(|| format!("cannot lock {}", path.display())),
        }
        file.set_len(0).and_then(|()| file.seek(SeekFrom::Start(0))).and_then(|_| writeln!(file, "{}", std::process::id()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("train.lock");
        let first = RunLock::acquire(&path).expect("the first writer locks");
        let err = RunLock::acquire(&path).expect_err("a second writer is refused").to_string();
        assert!(err.contains(&format!("process {}", std::process::id())), "{err}");
        drop(first);
        RunLock::acquire(&path).expect("free again once the first writer is gone");
    }
}
