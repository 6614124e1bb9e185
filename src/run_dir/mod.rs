//! The bottom layer: every file of a run directory, named in one place ([`RunDir`]); writing
//! files so that no crash leaves a torn one and no planted link is written through
//! ([`write_atomic`], [`create_new`]); checksums that name a damaged file ([`Manifest`]); one
//! writer at a time ([`RunLock`]).
//!
//! ```text
//! artifacts/<run>/config.toml                         the resolved config
//! artifacts/<run>/tokenizer.json                      the tokenizer
//! artifacts/<run>/data.json, train.bin, val.bin       the tokenized corpus (or a prepared directory's)
//! artifacts/<run>/trained_on.json                     which prepared data the run trained on
//! artifacts/<run>/checkpoints/step-000100/{model.mpk, optim.mpk, state.json, manifest.json}
//! artifacts/<run>/checkpoints/latest.json             {"last": 100, "best": 100, ...}
//! artifacts/<run>/metrics.csv, loss.png, loss.svg     monitoring
//! artifacts/<run>/train.lock                          held by the process training (or preparing) there
//! ```

mod atomic;
mod checksum;
mod lock;
mod temp;

pub use atomic::{rename_synced, rewrite_then_append, sync_dir, write_atomic, write_synced};
pub use checksum::{hash_bytes, hash_file, hash_files, Manifest};
pub use lock::{LockPurpose, RunLock};
pub use temp::{create_new, remove_stale, temp_path, TempGuard};

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The resolved config of a run.
pub const CONFIG_FILE: &str = "config.toml";
/// The tokenizer (a run's, or a prepared directory's).
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// What the token files hold (a run's, or a prepared directory's).
pub const META_FILE: &str = "data.json";
/// Which prepared data a run trained on (its directory and checksums), written when it starts.
pub const TRAINED_ON_FILE: &str = "trained_on.json";
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
/// A checkpoint's checksums: file name -> BLAKE3.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Locked by the process that trains the run, or prepares data in the directory.
pub const LOCK_FILE: &str = "train.lock";
/// One row per logged step.
pub const METRICS_FILE: &str = "metrics.csv";
/// Samples drawn while training (`training.sample_every`).
pub const SAMPLES_FILE: &str = "samples.txt";
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

    /// `samples.txt`.
    pub fn samples(&self) -> PathBuf {
        self.root.join(SAMPLES_FILE)
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

    /// Takes the directory's lock to train or prepare data in it (`purpose`): fails, naming the
    /// holder's PID and what it does, while another process trains or prepares here.
    pub fn lock(&self, purpose: LockPurpose) -> Result<RunLock> {
        fs::create_dir_all(&self.root).with_context(|| format!("cannot create run directory {}", self.root.display()))?;
        RunLock::acquire(&self.root.join(LOCK_FILE), purpose)
    }

    /// Whether a run trained here: its metrics or checkpoints exist (prepared data, or a config
    /// left by a run that failed before its first step, is not a run).
    pub fn holds_run(&self) -> bool {
        self.metrics().exists() || self.checkpoints().exists()
    }

    /// Deletes what a run wrote besides its prepared data: checkpoints, metrics, plots, config,
    /// samples.
    /// Only for a user who asked to start the run over.
    pub fn clear_run(&self) -> Result<()> {
        if self.checkpoints().exists() {
            fs::remove_dir_all(self.checkpoints())
                .with_context(|| format!("cannot delete {}", self.checkpoints().display()))?;
        }
        let [png, svg] = self.plots();
        for file in [self.metrics(), png, svg, self.config(), self.samples()] {
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

    /// The steps of the `step-N` directories in `checkpoints/`, ascending, whether or not
    /// `latest.json` names them.
    pub fn checkpoint_steps_on_disk(&self) -> Vec<usize> {
        let mut steps: Vec<usize> = fs::read_dir(self.checkpoints())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| checkpoint_step(&e.file_name().to_string_lossy()))
            .collect();
        steps.sort_unstable();
        steps
    }
}

/// The step of a checkpoint directory's name (`step-000100` -> 100); `None` for any other name.
pub fn checkpoint_step(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("step-")?;
    (digits.len() >= 6 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
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
    fn only_step_directories_parse_as_checkpoints() {
        assert_eq!(checkpoint_step("step-000100"), Some(100));
        assert_eq!(checkpoint_step("step-1234567"), Some(1234567));
        assert_eq!(checkpoint_step("step-000100.tmp"), None);
        assert_eq!(checkpoint_step("step-100"), None);
        assert_eq!(checkpoint_step("latest.json"), None);
    }
}
