//! The step's part of a run's TOML: `[schedule]` ([`ScheduleConfig`]); `[optimizer]` is
//! [`OptimizerConfig`](super::OptimizerConfig). The run assembles them
//! ([`crate::run::RunConfig`]).

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::schedule::WarmupCosine;

/// Linear warmup to `optimizer.lr`, then cosine decay to `min_lr`; the `[schedule]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Steps of linear warmup from 0 to `optimizer.lr`.
    pub warmup_steps: usize,
    /// Learning rate at the end of the cosine (and after it).
    pub min_lr: f64,
}

impl ScheduleConfig {
    /// Rejects a `min_lr` outside `[0, lr]`, `lr` being `optimizer.lr`.
    pub fn validate(&self, lr: f64) -> Result<()> {
        if !(self.min_lr >= 0.0 && self.min_lr <= lr) {
            bail!("schedule.min_lr = {} must be in [0, optimizer.lr = {lr}]", self.min_lr);
        }
        Ok(())
    }

    /// The schedule of a run of `total_steps` optimizer steps peaking at `lr_max`
    /// (`optimizer.lr`).
    pub fn schedule(&self, lr_max: f64, total_steps: usize) -> WarmupCosine {
        WarmupCosine { lr_max, min_lr: self.min_lr, warmup_steps: self.warmup_steps, total_steps }
    }
}
