//! One writer per directory: an exclusive lock on its `train.lock`, held while a process trains
//! a run there or prepares data into it (so that neither two of them nor one of each overlap).
//!
//! The operating system releases the lock when the process ends, however it ends (`kill -9`
//! included), so a stale lock file never blocks a later run; what is written into it (`PID
//! train` or `PID prepare`) only names the holder in the error a second writer sees. The file is
//! written in place, so a link planted at its name is refused rather than followed.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// What the process holding a directory's lock does there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockPurpose {
    /// `burngpt train` (or `--resume`).
    Train,
    /// `burngpt prepare`.
    Prepare,
}

impl LockPurpose {
    /// The word written into the lock file after the PID.
    fn word(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Prepare => "prepare",
        }
    }
}

/// Held while a process trains or prepares in a directory; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the exclusive lock on `path` (created if missing) for `purpose`, or fails naming
    /// the PID that holds it and what it does. A link, a hard link or anything but a plain file
    /// at `path` is refused: the PID is written into the file.
    pub fn acquire(path: &Path, purpose: LockPurpose) -> Result<Self> {
        let mut file = open_plain(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                bail!(
                    "{} is in use: {} (lock {})",
                    path.parent().unwrap_or(Path::new(".")).display(),
                    describe_holder(&holder),
                    path.display()
                );
            }
            Err(TryLockError::Error(err)) => return Err(err).with_context(|| format!("cannot lock {}", path.display())),
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{} {}", std::process::id(), purpose.word()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self { _file: file })
    }
}

/// Opens (or creates) the lock file at `path` for reading and writing, refusing a link (never
/// followed: `O_NOFOLLOW`), a file with other hard links, and anything but a plain file.
fn open_plain(path: &Path) -> Result<File> {
    let refuse_link = || {
        anyhow::anyhow!(
            "{} is a symbolic link: a lock file is written into, so it must be a plain file; delete the link and \
             run again",
            path.display()
        )
    };
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(refuse_link());
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let file = match options.open(path) {
        Ok(file) => file,
        #[cfg(unix)]
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => return Err(refuse_link()),
        Err(err) => return Err(err).with_context(|| format!("cannot open the lock file {}", path.display())),
    };
    let meta = file.metadata().with_context(|| format!("cannot read the metadata of {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a plain file: a lock file is written into; delete it and run again", path.display());
    }
    #[cfg(unix)]
    if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
        bail!(
            "{} has other hard links: a lock file is written into, so it must be a file of its own; delete it and \
             run again",
            path.display()
        );
    }
    Ok(file)
}

/// Who holds a lock, from what it wrote into the lock file, and what the refused process can do.
fn describe_holder(text: &str) -> String {
    let mut words = text.split_whitespace();
    let who = match words.next() {
        Some(pid) => format!("process {pid}"),
        None => "another process".to_string(),
    };
    match words.next() {
        Some("prepare") => format!(
            "{who} is preparing data in it; wait for it to finish or stop it (a `prepare` run again continues after \
             its last finished shard)"
        ),
        // A lock file of an older build holds the PID alone: only training took the lock then.
        Some("train") | None => format!(
            "{who} is training in it; wait for it to finish or stop it (Ctrl-C or `kill` saves a checkpoint), then \
             resume"
        ),
        Some(other) => format!("{who} holds it ({other}); wait for it to finish"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("train.lock");
        let first = RunLock::acquire(&path, LockPurpose::Train).expect("the first writer locks");
        let err = RunLock::acquire(&path, LockPurpose::Prepare).expect_err("a second writer is refused").to_string();
        assert!(err.contains(&format!("process {} is training in it", std::process::id())), "{err}");
        drop(first);
        let second = RunLock::acquire(&path, LockPurpose::Prepare).expect("free again once the first writer is gone");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), format!("{} prepare\n", std::process::id()));
        let err = RunLock::acquire(&path, LockPurpose::Train).expect_err("refused").to_string();
        assert!(err.contains(&format!("process {} is preparing data in it", std::process::id())), "{err}");
        drop(second);
    }

    #[test]
    fn the_holder_is_named_from_what_it_wrote() {
        assert!(describe_holder("42\n").starts_with("process 42 is training in it"));
        assert!(describe_holder("42 train\n").starts_with("process 42 is training in it"));
        assert!(describe_holder("42 prepare\n").starts_with("process 42 is preparing data in it"));
        assert!(describe_holder("").starts_with("another process is training in it"));
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_file_linked_elsewhere_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, b"precious").expect("write");
        let path = dir.path().join("train.lock");
        std::os::unix::fs::symlink(&outside, &path).expect("plant a link");
        let err = RunLock::acquire(&path, LockPurpose::Train).expect_err("refused").to_string();
        assert!(err.contains("train.lock is a symbolic link"), "{err}");
        std::fs::remove_file(&path).expect("unlink");
        std::fs::hard_link(&outside, &path).expect("plant a hard link");
        let err = RunLock::acquire(&path, LockPurpose::Train).expect_err("refused").to_string();
        assert!(err.contains("train.lock has other hard links"), "{err}");
        assert_eq!(std::fs::read(&outside).expect("read"), b"precious");
    }
}
