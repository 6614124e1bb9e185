//! The run's loop settings: the `[training]` section.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::model::Precision;

/// The loop: batches, budget, logging, evaluation, checkpoints; the `[training]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Sequences per batch.
    pub batch_size: usize,
    /// Passes over the training split (non-overlapping windows, shuffled per epoch).
    /// Exactly one of `epochs` and `max_steps` is set.
    pub epochs: Option<usize>,
    /// Optimizer steps of random windows (nanoGPT style).
    pub max_steps: Option<usize>,
    /// Micro-batches of `batch_size` whose gradients are summed into one step.
    pub grad_accum_steps: usize,
    /// Print a log line every this many steps.
    pub log_every: usize,
    /// Evaluate on the validation split every this many steps (and at the end).
    pub eval_every: usize,
    /// Batches averaged for each validation loss.
    pub eval_batches: usize,
    /// Save a checkpoint every this many steps (and at the end, and on Ctrl-C).
    pub checkpoint_every: usize,
    /// Checkpoints kept besides the best one.
    pub keep_last: usize,
    /// Seed of every RNG: initialisation, batching, dropout.
    pub seed: u64,
    /// Directory under which the run directory `<out_dir>/<run_name>` is created.
    pub out_dir: PathBuf,
    /// Name of the run directory; defaults to the config file's stem.
    pub run_name: Option<String>,
    /// Draw a sample from the model every this many steps (and at the last step); 0 (the
    /// default) draws none. Printed under the log line and appended to `samples.txt`.
    #[serde(default)]
    pub sample_every: usize,
    /// The text the samples continue (default a line break).
    #[serde(default = "default_sample_prompt")]
    pub sample_prompt: String,
    /// Tokens per sample (default 64).
    #[serde(default = "default_sample_tokens")]
    pub sample_tokens: usize,
    /// What the matrix products read: `"fp32"` (the default) or `"bf16"` (bfloat16 operands, float32
    /// sums; parameters, gradients, optimizer state and checkpoints stay float32).
    #[serde(default)]
    pub precision: Precision,
}

/// A line break.
fn default_sample_prompt() -> String {
    "\n".to_string()
}

/// 64 tokens.
fn default_sample_tokens() -> usize {
    64
}

impl TrainingConfig {
    /// Rejects zero counts and a budget given twice or not at all, naming the `training.` key.
    pub fn validate(&self) -> Result<()> {
        positive("training.batch_size", self.batch_size)?;
        match (self.epochs, self.max_steps) {
            (Some(e), None) => positive("training.epochs", e)?,
            (None, Some(n)) => positive("training.max_steps", n)?,
            _ => bail!("set exactly one of training.epochs and training.max_steps"),
        }
        positive("training.grad_accum_steps", self.grad_accum_steps)?;
        positive("training.checkpoint_every", self.checkpoint_every)?;
        positive("training.keep_last", self.keep_last)?;
        positive("training.log_every", self.log_every)?;
        positive("training.eval_every", self.eval_every)?;
        positive("training.eval_batches", self.eval_batches)?;
        if self.sample_every > 0 {
            positive("training.sample_tokens", self.sample_tokens)?;
        }
        if let Some(name) = &self.run_name {
            check_run_name(name)?;
        }
        Ok(())
    }
}

/// A run name is one directory inside `training.out_dir`: no path separator, no `..`.
fn check_run_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) || name.contains('\0') {
        bail!("training.run_name = {name:?}: expected a plain directory name (no `/`, `\\` or `..`), created inside training.out_dir");
    }
    Ok(())
}

fn positive(key: &str, value: usize) -> Result<()> {
    if value == 0 {
        bail!("{key} must be > 0");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_name_stays_inside_out_dir() {
        for bad in ["../../x", "a/b", "..", ".", "", "a\\b"] {
            let err = check_run_name(bad).expect_err(bad).to_string();
            assert!(err.contains("training.run_name"), "{err}");
        }
        for good in ["tiny", "run-2026.11", "a..b"] {
            check_run_name(good).expect(good);
        }
    }
}
