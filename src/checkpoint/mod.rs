//! A run's checkpoints (`checkpoints/step-N/` and `checkpoints/latest.json`, named by
//! [`RunDir`]) and Burn records, every file written atomically and checksummed.
//!
//! A checkpoint is written into `step-N.tmp/` with a `manifest.json` of its files' checksums,
//! synced, renamed to `step-N/`, and only then named in `latest.json` (itself written to a
//! temporary file and renamed), so a crash at any moment leaves the previous checkpoint whole
//! and findable ([`save`]). Loading one checks every file against the manifest and the step
//! against the directory's name, and a damaged one is reported with the intact ones ([`open`]).

mod open;
mod record_check;
mod save;

pub use open::{load_checkpoint, open_checkpoint, Checkpoint};
pub use save::{save_checkpoint, set_aside_after};

use std::fs;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::run_dir::{RunDir, STATE_FILE};

/// Version of the checkpoint layout, checked on load: 2 added `manifest.json` (version 1
/// checkpoints are read without checksums).
pub const FORMAT_VERSION: u32 = 2;

/// Where training stood when a checkpoint was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Optimizer steps completed.
    pub step: usize,
    /// Epoch of the last step (from 1).
    pub epoch: usize,
    /// Windows of the current epoch's shuffled order already used.
    pub position_in_epoch: usize,
    /// The run's seed; every RNG stream is derived from it and the step, so no other RNG
    /// state is needed to continue exactly.
    pub seed: u64,
    /// Validation loss at this checkpoint, if it was evaluated.
    pub val_loss: Option<f64>,
    /// Best validation loss so far.
    pub best_val_loss: Option<f64>,
    /// Step of the best validation loss (0 before the first evaluation).
    pub best_step: usize,
    /// Training seconds so far.
    pub elapsed_s: f64,
}

/// The checkpoint index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latest {
    /// Step of the most recent checkpoint.
    pub last: usize,
    /// Step of the checkpoint with the best validation loss.
    pub best: usize,
    /// Every checkpoint on disk, oldest first.
    pub steps: Vec<usize>,
}

/// Which checkpoint to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The most recent.
    Last,
    /// The best by validation loss.
    Best,
    /// The one at this step.
    Step(usize),
}

impl std::str::FromStr for Which {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "last" => Ok(Self::Last),
            "best" => Ok(Self::Best),
            n => n.parse().map(Self::Step).map_err(|_| format!("`{s}`: expected best, last or a step number")),
        }
    }
}

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
}

/// Serializes any Burn record at full precision.
pub fn record_bytes<B: Backend, R: Record<B>>(record: R) -> Result<Vec<u8>> {
    Recorder::<B>::record(&recorder(), record, ()).context("cannot serialize a record")
}

/// Reads a Burn record written by [`record_bytes`].
pub fn load_record<B: Backend, R: Record<B>>(path: &Path, device: &B::Device) -> Result<R> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    // Burn does not compare a tensor's bytes with its shape (record_check.rs says what follows).
    record_check::check_tensors(&bytes).map_err(|e| anyhow!("{}: not a valid record: {e}", path.display()))?;
    Recorder::<B>::load(&recorder(), bytes, device)
        .with_context(|| format!("{}: not a valid record (truncated, corrupted, or from another model)", path.display()))
}

/// Reads the checkpoint index.
pub fn read_latest(run: &RunDir) -> Result<Latest> {
    let path = run.latest();
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            bail!("no checkpoint in {} ({} missing)", run.root().display(), path.display())
        }
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    // Bytes, not text: a file that is not UTF-8 is a corrupted index, not a missing one.
    serde_json::from_slice(&bytes).with_context(|| format!("{}: corrupted checkpoint index", path.display()))
}

/// Reads a checkpoint's state (not checked against its manifest: [`open_checkpoint`] does that).
pub fn load_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join(STATE_FILE);
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let state: TrainState = serde_json::from_str(&text).with_context(|| format!("{}: corrupted state", path.display()))?;
    if state.format_version == 0 || state.format_version > FORMAT_VERSION {
        bail!("{}: checkpoint format {} but this build reads 1 to {FORMAT_VERSION}", path.display(), state.format_version);
    }
    Ok(state)
}
