//! Validation loss on the inference backend, and the batches it is measured on.

use anyhow::{bail, Result};
use burn::prelude::ElementConversion;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burngpt_ops::FusedOps;
use rand::RngExt;

use super::config::RunConfig;
use super::loss::cross_entropy;
use crate::data::{Batch, PreparedData};
use crate::dist::Collective;
use crate::model::Gpt;
use crate::seed::{self, Stream};

/// Mean cross-entropy of `model` over `batches` (use `model.valid()`: no autodiff, no dropout).
pub fn evaluate<B: FusedOps>(model: &Gpt<B>, batches: impl IntoIterator<Item = Batch<B>>) -> f64 {
    let mut total = 0.0;
    let mut count = 0usize;
    for batch in batches {
        let loss = cross_entropy(model.forward(batch.inputs), batch.targets);
        total += loss.into_scalar().elem::<f64>();
        count += 1;
    }
    if count == 0 {
        f64::NAN
    } else {
        total / count as f64
    }
}

/// [`evaluate`] on `comm.size()` processes: batch `i` is scored by rank `i mod N`, and the
/// per-batch losses are gathered (a sum in which every slot is non-zero on one rank only, so
/// exact), so every rank gets the figure one process computes, in `1/N` of the time.
pub fn evaluate_across<B: FusedOps>(model: &Gpt<B>, batches: &[Batch<B>], comm: &dyn Collective) -> f64 {
    if comm.size() == 1 {
        return evaluate(model, batches.iter().cloned());
    }
    let mut losses = vec![0f32; batches.len()];
    for (i, batch) in batches.iter().enumerate().filter(|(i, _)| i % comm.size() == comm.rank()) {
        // The loss is a float32 tensor: storing it as f32 loses nothing.
        losses[i] = evaluate(model, [batch.clone()]) as f32;
    }
    comm.sum_f32(&mut losses);
    if losses.is_empty() {
        f64::NAN
    } else {
        losses.iter().map(|&l| l as f64).sum::<f64>() / losses.len() as f64
    }
}

/// A whole token sequence cut into windows for [`evaluate`].
#[derive(Debug, Clone)]
pub struct WindowBatches<B: Backend> {
    /// The batches, `batch_size` windows each (the last may hold fewer).
    pub batches: Vec<Batch<B>>,
    /// Windows of `block_size + 1` tokens in all.
    pub windows: usize,
}

/// Every non-overlapping window of `block_size + 1` tokens of `tokens`, in batches of
/// `batch_size`; the tail shorter than a window is left out. `source` names the tokens in
/// the error when there is not even one window.
pub fn window_batches<B: Backend>(
    tokens: &[u32],
    block_size: usize,
    batch_size: usize,
    source: &str,
    device: &B::Device,
) -> Result<WindowBatches<B>> {
    let window = block_size + 1;
    if tokens.len() < window {
        bail!("{source} has {} tokens, fewer than one window of block_size + 1 = {window}", tokens.len());
    }
    let starts: Vec<usize> = (0..tokens.len() / window).map(|i| i * window).collect();
    let batches = starts
        .chunks(batch_size)
        .map(|s| Batch::from_ids(tokens, s, block_size, device))
        .collect::<Result<Vec<Batch<B>>>>()?;
    Ok(WindowBatches { batches, windows: starts.len() })
}

/// A fixed set of `eval_batches` random validation windows, the same at every evaluation.
pub(super) fn validation_batches<B: AutodiffBackend>(
    data: &PreparedData,
    config: &RunConfig,
    window: usize,
    device: &B::Device,
) -> Result<Vec<Batch<B::InnerBackend>>> {
    let t = &config.training;
    let tokens = data.val.len();
    if tokens < window {
        bail!(
            "the validation split has {tokens} tokens, fewer than one window of block_size + 1 = {window}: \
             use a longer corpus, a smaller model.block_size or a larger validation share (data.train_fraction)"
        );
    }
    let mut rng = seed::rng(t.seed, Stream::Eval, 0);
    (0..t.eval_batches)
        .map(|_| {
            let starts: Vec<usize> = (0..t.batch_size).map(|_| rng.random_range(0..=tokens - window)).collect();
            Batch::read(&data.val, &starts, window - 1, device)
        })
        .collect()
}
