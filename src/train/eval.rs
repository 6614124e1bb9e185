//! Validation loss on the inference backend, and the batches it is measured on.

use anyhow::{anyhow, bail, Result};
use burn::tensor::backend::Backend;
use burngpt_ops::FusedOps;

use crate::data::{Batch, ByteLoss};
use crate::dist::Collective;
use crate::model::Gpt;

/// What an evaluation measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Mean cross-entropy (nats per target token).
    pub loss: f64,
    /// Bits per byte of the target text (special tokens left out): [`ByteLoss::bpb`].
    pub bpb: f64,
}

/// Sums over scored targets.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    /// Cross-entropy (nats) of every target.
    nats: f64,
    /// Targets.
    targets: u64,
    /// The bits-per-byte sums.
    bytes: ByteLoss,
}

impl Sums {
    fn merge(&mut self, other: Sums) {
        self.nats += other.nats;
        self.targets += other.targets;
        self.bytes.merge(other.bytes);
    }

    fn scores(&self) -> Scores {
        let loss = if self.targets == 0 { f64::NAN } else { self.nats / self.targets as f64 };
        Scores { loss, bpb: self.bytes.bpb() }
    }
}

/// The per-target losses (nats) of one batch, as host floats, and the targets' ids.
///
/// # Shapes
/// `batch.inputs`, `batch.targets: [batch, seq_len]` -> `batch * seq_len` losses and ids
fn token_losses<B: FusedOps>(model: &Gpt<B>, batch: Batch<B>) -> Result<(Vec<f32>, Vec<i64>)> {
    let logits = model.forward(batch.inputs);
    let [b, t, v] = logits.dims();
    let n = b * t;
    let nll = burngpt_ops::log_softmax(logits.reshape([n, v]), 1)
        .gather(1, batch.targets.clone().reshape([n, 1]))
        .neg()
        .reshape([n]);
    let losses = nll.into_data().convert::<f32>().into_vec::<f32>().map_err(|e| anyhow!("reading losses: {e:?}"))?;
    let ids = batch.targets.reshape([n]).into_data().convert::<i64>().into_vec::<i64>().map_err(|e| anyhow!("reading targets: {e:?}"))?;
    Ok((losses, ids))
}

/// One batch's sums, rounded to float32 as [`evaluate_across`] sends them, so that one process
/// and several get the same figures.
fn score_batch<B: FusedOps>(model: &Gpt<B>, batch: Batch<B>, token_bytes: &[u32]) -> Result<Sums> {
    let (losses, ids) = token_losses(model, batch)?;
    let mut bytes = ByteLoss::default();
    bytes.add(&losses, &ids, token_bytes);
    bytes.nats = bytes.nats as f32 as f64;
    let nats = losses.iter().map(|&l| l as f64).sum::<f64>() as f32 as f64;
    Ok(Sums { nats, targets: losses.len() as u64, bytes })
}

/// Mean cross-entropy over every target and bits per byte of `model` on `batches` (use
/// `model.valid()`: no autodiff, no dropout). `token_bytes` gives each id's bytes
/// ([`crate::data::token_bytes`]).
pub fn evaluate<B: FusedOps>(model: &Gpt<B>, batches: impl IntoIterator<Item = Batch<B>>, token_bytes: &[u32]) -> Result<Scores> {
    let mut sums = Sums::default();
    for batch in batches {
        sums.merge(score_batch(model, batch, token_bytes)?);
    }
    Ok(sums.scores())
}

/// [`evaluate`] on `comm.size()` processes: batch `i` is scored by rank `i mod N`, and the
/// per-batch sums are gathered (a sum in which every slot is non-zero on one rank only, so
/// exact), so every rank gets the figures one process computes, in `1/N` of the time.
pub fn evaluate_across<B: FusedOps>(model: &Gpt<B>, batches: &[Batch<B>], token_bytes: &[u32], comm: &dyn Collective) -> Result<Scores> {
    if comm.size() == 1 {
        return evaluate(model, batches.iter().cloned(), token_bytes);
    }
    // Four float32 slots per batch: its nats, targets, and the nats and bytes of bpb. A batch's
    // counts are far below 2^24, exact in f32; its sums keep f32's 7 digits.
    let mut slots = vec![0f32; 4 * batches.len()];
    for (i, batch) in batches.iter().enumerate().filter(|(i, _)| i % comm.size() == comm.rank()) {
        let s = score_batch(model, batch.clone(), token_bytes)?;
        slots[4 * i..4 * i + 4].copy_from_slice(&[s.nats as f32, s.targets as f32, s.bytes.nats as f32, s.bytes.bytes as f32]);
    }
    comm.sum_f32(&mut slots);
    let mut sums = Sums::default();
    for s in slots.chunks(4) {
        let bytes = ByteLoss { nats: s[2] as f64, bytes: s[3] as u64 };
        sums.merge(Sums { nats: s[0] as f64, targets: s[1] as u64, bytes });
    }
    Ok(sums.scores())
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
