//! The fixed validation windows of a run: the same batches at every evaluation.

use anyhow::{bail, Result};
use burn::tensor::backend::AutodiffBackend;
use rand::RngExt;

use super::training::TrainingConfig;
use crate::data::{Batch, PreparedData};
use crate::seed::{self, Stream};

/// A fixed set of `eval_batches` random validation windows, the same at every evaluation.
pub fn validation_batches<B: AutodiffBackend>(
    data: &PreparedData,
    t: &TrainingConfig,
    window: usize,
    device: &B::Device,
) -> Result<Vec<Batch<B::InnerBackend>>> {
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
