//! Which windows each optimizer step trains on: shuffled epochs or random windows.

use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use rand::RngExt;

use crate::seed::{self, Stream};

/// How the run walks the training split.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Epochs over the non-overlapping windows `[i * window, (i + 1) * window)`, in an
    /// order shuffled per epoch with the seed; a last partial batch is dropped.
    Epochs {
        /// Passes over the data.
        epochs: usize,
        /// Windows in the training split.
        windows: usize,
    },
    /// `max_steps` steps of uniformly random windows (nanoGPT style).
    Random {
        /// Steps to run.
        max_steps: usize,
        /// Tokens in the training split.
        tokens: usize,
    },
}

/// Where one optimizer step is within the run.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    /// Epoch, from 1 (1 in random mode).
    pub epoch: usize,
    /// Window start offsets, `micro_batches * batch_size` of them, in micro-batch order.
    pub starts: Vec<usize>,
}

impl Sampler {
    /// Checks that a split of `tokens` tokens holds at least one step of windows.
    pub fn new(epochs: Option<usize>, max_steps: Option<usize>, tokens: usize, window: usize, per_step: usize) -> Result<Self> {
        if tokens < window {
            bail!("the training split has {tokens} tokens, fewer than one window of block_size + 1 = {window}: use a longer corpus or a smaller model.block_size");
        }
        let sampler = match (epochs, max_steps) {
            (Some(epochs), None) => Self::Epochs { epochs, windows: tokens / window },
            (None, Some(max_steps)) => Self::Random { max_steps, tokens },
            _ => bail!("set exactly one of training.epochs and training.max_steps"),
        };
        if let Self::Epochs { windows, .. } = sampler {
            if windows < per_step {
                bail!("one step needs {per_step} windows (training.batch_size x training.grad_accum_steps) but the training split has only {windows} windows of {window} tokens");
            }
        }
        Ok(sampler)
    }

    /// Optimizer steps per epoch (`None` in random mode).
    pub fn steps_per_epoch(&self, per_step: usize) -> Option<usize> {
        match self {
            Self::Epochs { windows, .. } => Some(windows / per_step),
            Self::Random { .. } => None,
        }
    }

    /// Total optimizer steps (the schedule's `total_steps`).
    pub fn total_steps(&self, per_step: usize) -> usize {
        match self {
            Self::Epochs { epochs, windows } => epochs * (windows / per_step),
            Self::Random { max_steps, .. } => *max_steps,
        }
    }

    /// Epochs of the run (1 in random mode).
    pub fn epochs(&self) -> usize {
        match self {
            Self::Epochs { epochs, .. } => *epochs,
            Self::Random { .. } => 1,
        }
    }

    /// The windows of optimizer step `step` (from 1); `order` caches the current epoch's
    /// shuffled order as `(epoch, permutation)`.
    pub fn plan(&self, step: usize, per_step: usize, window: usize, run_seed: u64, order: &mut Option<(usize, Vec<usize>)>) -> StepPlan {
        match self {
            Self::Epochs { windows, .. } => {
                let steps_per_epoch = windows / per_step;
                let epoch = (step - 1) / steps_per_epoch + 1;
                let index = (step - 1) % steps_per_epoch;
                if order.as_ref().map(|(e, _)| *e) != Some(epoch) {
                    *order = Some((epoch, epoch_order(*windows, run_seed, epoch)));
                }
                let perm = order.as_ref().map(|(_, p)| p.as_slice()).unwrap_or_default();
                let starts = perm[index * per_step..(index + 1) * per_step].iter().map(|w| w * window).collect();
                StepPlan { epoch, starts }
            }
            Self::Random { tokens, .. } => {
                let mut rng = seed::rng(run_seed, Stream::Batches, step as u64);
                let starts = (0..per_step).map(|_| rng.random_range(0..=tokens - window)).collect();
                StepPlan { epoch: 1, starts }
            }
        }
    }
}

/// The shuffled window order of `epoch`, a function of the seed and the epoch alone.
pub fn epoch_order(windows: usize, run_seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..windows).collect();
    order.shuffle(&mut seed::rng(run_seed, Stream::Batches, (1u64 << 40) + epoch as u64));
    order
}
