//! Batches of next-token prediction windows.

use anyhow::{bail, Result};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::RngExt;

/// Inputs and their next-token targets.
#[derive(Debug, Clone)]
pub struct Batch<B: Backend> {
    /// Token ids, `[batch, seq_len]`.
    pub inputs: Tensor<B, 2, Int>,
    /// The same windows shifted by one token, `[batch, seq_len]`.
    pub targets: Tensor<B, 2, Int>,
}

impl<B: Backend> Batch<B> {
    /// Builds a batch from windows of `seq_len + 1` tokens each: inputs are the first
    /// `seq_len` tokens, targets the last `seq_len`.
    pub fn from_windows(windows: &[&[u32]], device: &B::Device) -> Self {
        let batch = windows.len();
        let seq_len = windows.first().map_or(0, |w| w.len() - 1);
        let mut inputs = Vec::with_capacity(batch * seq_len);
        let mut targets = Vec::with_capacity(batch * seq_len);
        for w in windows {
            inputs.extend(w[..seq_len].iter().map(|&t| t as i64));
            targets.extend(w[1..].iter().map(|&t| t as i64));
        }
        Self {
            inputs: Tensor::from_data(TensorData::new(inputs, [batch, seq_len]), device),
            targets: Tensor::from_data(TensorData::new(targets, [batch, seq_len]), device),
        }
    }
}

/// `batch_size` windows of `block_size + 1` tokens starting at uniformly random offsets.
pub fn sample_batch<B: Backend>(
    tokens: &[u32],
    batch_size: usize,
    block_size: usize,
    rng: &mut StdRng,
    device: &B::Device,
) -> Result<Batch<B>> {
    let window = block_size + 1;
    if tokens.len() < window {
        bail!(
            "a split of {} tokens is shorter than one window of block_size + 1 = {window} tokens",
            tokens.len()
        );
    }
    let windows: Vec<&[u32]> = (0..batch_size)
        .map(|_| {
            let start = rng.random_range(0..=tokens.len() - window);
            &tokens[start..start + window]
        })
        .collect();
    Ok(Batch::from_windows(&windows, device))
}
