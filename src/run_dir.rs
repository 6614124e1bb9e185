//! The bottom layer: every file of a run directory, named in one place ([`RunDir`]), and
//! writing files so that no crash leaves a torn one ([`write_atomic`]).
//!
//! ```text
//! artifacts/<run>/config.toml                         the resolved config
//! artifacts/<run>/tokenizer.json                      the tokenizer
//! artifacts/<run>/data.json, train.bin, val.bin       the tokenized corpus (or a prepared directory's)
//! artifacts/<run>/checkpoints/step-000100/{model.mpk, optim.mpk, state.json}
//! artifacts/<run>/checkpoints/latest.json             {"last": 100, "best": 100, ...}
//! artifacts/<run>/metrics.csv, loss.png, loss.svg     monitoring
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The resolved config of a run.
pub const CONFIG_FILE: &str = "config.toml";
/// The tokenizer (a run's, or a prepared directory's).
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// What the token files hold (a run's, or a prepared directory's).
pub const META_FILE: &str = "data.json";
/// Token ids of the training split.
pub const TRAIN_FILE: &str = "train.bin";
/// Token ids of the validation split.
pub const VAL_FILE: &str = "val.bin";
/// The directory of checkpoints.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// Which checkpoints exist, the last and the best (inside [`CHECKPOINTS_DIR`]).
pub const LATEST_FILE: &str = "latest.json";
/// A checkpoint's parameters.
pub const MODEL_FILE: &str = "model.mpk";
/// A checkpoint's optimizer state.
pub const OPTIM_FILE: &str = "optim.mpk";
/// A checkpoint's step, epoch, position and losses.
pub const STATE_FILE: &str = "state.json";
/// One row per logged step.
pub const METRICS_FILE: &str = "metrics.csv";
/// The loss plot, bitmap.
pub const LOSS_PNG: &str = "loss.png";
/// The loss plot, vector.
pub const LOSS_SVG: &str = "loss.svg";

/// A run directory: where each of its files lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run directory at `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    /// `tokenizer.json`.
    pub fn tokenizer(&self) -> PathBuf {
        self.root.join(TOKENIZER_FILE)
    }

    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join(METRICS_FILE)
    }

    /// `loss.png` and `loss.svg`.
    pub fn plots(&self) -> [PathBuf; 2] {
        [self.root.join(LOSS_PNG), self.root.join(LOSS_SVG)]
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join(CHECKPOINTS_DIR)
    }

    /// `checkpoints/latest.json`.
    pub fn latest(&self) -> PathBuf {
        self.checkpoints().join(LATEST_FILE)
    }

    /// Whether a run trained here: its metrics or checkpoints exist (prepared data, or a config
    /// left by a run that failed before its first step, is not a run).
    pub fn holds_run(&self) -> bool {
        self.metrics().exists() || self.checkpoints().exists()
    }

    /// Deletes what a run wrote besides its prepared data: checkpoints, metrics, plots, config.
    /// Only for a user who asked to start the run over.
    pub fn clear_run(&self) -> Result<()> {
        if self.checkpoints().exists() {
            fs::remove_dir_all(self.checkpoints())
                .with_context(|| format!("cannot delete {}", self.checkpoints().display()))?;
        }
        let [png, svg] = self.plots();
        for file in [self.metrics(), png, svg, self.config()] {
            if file.exists() {
                fs::remove_file(&file).with_context(|| format!("cannot delete {}", file.display()))?;
            }
        }
        Ok(())
    }

    /// `checkpoints/step-NNNNNN/` (six digits, so that names sort by step).
    pub fn checkpoint(&self, step: usize) -> PathBuf {
        self.checkpoints().join(format!("step-{step:06}"))
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, then renames it over `path`,
/// so a crash leaves either the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// Writes `bytes` to `path` and syncs it to the disk (the caller renames it into place).
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all().with_context(|| format!("cannot sync {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_directory_names_its_files() {
        let run = RunDir::new("artifacts/tiny");
        assert_eq!(run.config(), Path::new("artifacts/tiny/config.toml"));
        assert_eq!(run.latest(), Path::new("artifacts/tiny/checkpoints/latest.json"));
        assert_eq!(run.checkpoint(100), Path::new("artifacts/tiny/checkpoints/step-000100"));
        assert_eq!(run.plots()[1], Path::new("artifacts/tiny/loss.svg"));
    }

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
}
