//! A run's checkpoints (`checkpoints/step-N/` and `checkpoints/latest.json`, named by
//! [`RunDir`]) and Burn records, every file written atomically.
//!
//! A checkpoint is written into `step-N.tmp/`, synced, renamed to `step-N/`, and only then
//! named in `latest.json` (itself written to a temporary file and renamed), so a crash at
//! any moment leaves the previous checkpoint whole and findable.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::run_dir::{write_atomic, write_synced, RunDir, MODEL_FILE, OPTIM_FILE, STATE_FILE};

/// Version of the checkpoint layout, checked on load.
pub const FORMAT_VERSION: u32 = 1;

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
    Recorder::<B>::load(&recorder(), bytes, device)
        .with_context(|| format!("{}: not a valid record (truncated, corrupted, or from another model)", path.display()))
}

fn step_dir(run_dir: &Path, step: usize) -> PathBuf {
    RunDir::new(run_dir).checkpoint(step)
}

/// Saves a checkpoint (model bytes, optimizer bytes, state), then prunes old ones, keeping
/// the last `keep_last` and the best.
pub fn save_checkpoint(run_dir: &Path, model: &[u8], optim: &[u8], state: &TrainState, keep_last: usize) -> Result<()> {
    let dir = step_dir(run_dir, state.step);
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| format!("cannot remove {}", tmp.display()))?;
    }
    fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    write_synced(&tmp.join(MODEL_FILE), model)?;
    write_synced(&tmp.join(OPTIM_FILE), optim)?;
    write_synced(&tmp.join(STATE_FILE), serde_json::to_string_pretty(state)?.as_bytes())?;
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot replace {}", dir.display()))?;
    }
    fs::rename(&tmp, &dir).with_context(|| format!("cannot rename {} to {}", tmp.display(), dir.display()))?;

    let mut latest = read_latest(run_dir).unwrap_or(Latest { last: 0, best: state.best_step, steps: Vec::new() });
    latest.steps.retain(|&s| s != state.step);
    latest.steps.push(state.step);
    latest.last = state.step;
    // The best checkpoint is the one saved at the best evaluation; before any evaluation
    // (or if it is gone) the latest stands in for it.
    latest.best = if state.best_step == state.step || latest.steps.contains(&state.best_step) {
        state.best_step
    } else {
        state.step
    };
    let keep_from = latest.steps.len().saturating_sub(keep_last.max(1));
    let (old, _) = latest.steps.split_at(keep_from);
    let removed: Vec<usize> = old.iter().copied().filter(|&s| s != latest.best).collect();
    latest.steps.retain(|s| !removed.contains(s));
    write_atomic(&RunDir::new(run_dir).latest(), serde_json::to_string_pretty(&latest)?.as_bytes())?;
    for step in removed {
        let _ = fs::remove_dir_all(step_dir(run_dir, step));
    }
    Ok(())
}

/// Reads the checkpoint index.
pub fn read_latest(run_dir: &Path) -> Result<Latest> {
    let path = RunDir::new(run_dir).latest();
    let text = fs::read_to_string(&path).with_context(|| format!("no checkpoint in {} ({} missing)", run_dir.display(), path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: corrupted checkpoint index", path.display()))
}

/// The directory of checkpoint `which`.
pub fn checkpoint_dir(run_dir: &Path, which: Which) -> Result<PathBuf> {
    let latest = read_latest(run_dir)?;
    let step = match which {
        Which::Last => latest.last,
        Which::Best => latest.best,
        Which::Step(n) if latest.steps.contains(&n) => n,
        Which::Step(n) => bail!("no checkpoint at step {n} in {}; available: {:?}", run_dir.display(), latest.steps),
    };
    Ok(step_dir(run_dir, step))
}

/// Reads a checkpoint's state.
pub fn load_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join(STATE_FILE);
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let state: TrainState = serde_json::from_str(&text).with_context(|| format!("{}: corrupted state", path.display()))?;
    if state.format_version != FORMAT_VERSION {
        bail!("{}: checkpoint format {} but this build reads {FORMAT_VERSION}", path.display(), state.format_version);
    }
    Ok(state)
}

