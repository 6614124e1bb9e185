//! Batches of next-token prediction windows.

use anyhow::{Context, Result};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use super::shards::TokenStream;

/// Inputs and their next-token targets.
#[derive(Debug, Clone)]
pub struct Batch<B: Backend> {
    /// Token ids, `[batch, seq_len]`.
    pub inputs: Tensor<B, 2, Int>,
    /// The same windows shifted by one token, `[batch, seq_len]`.
    pub targets: Tensor<B, 2, Int>,
}

impl<B: Backend> Batch<B> {
    /// Reads windows of `seq_len + 1` tokens starting at `starts`: inputs are the first
    /// `seq_len` tokens of each, targets the last `seq_len`.
    pub fn read(tokens: &TokenStream, starts: &[usize], seq_len: usize, device: &B::Device) -> Result<Self> {
        Self::build(starts, seq_len, device, |start, window| tokens.read_into(start, seq_len + 1, window))
    }

    /// [`Batch::read`] from ids in memory.
    pub fn from_ids(ids: &[u32], starts: &[usize], seq_len: usize, device: &B::Device) -> Result<Self> {
        Self::build(starts, seq_len, device, |start, window| {
            let slice = ids.get(start..start + seq_len + 1).context("window past the end of the tokens")?;
            window.extend(slice.iter().map(|&t| t as i64));
            Ok(())
        })
    }

    fn build(
        starts: &[usize],
        seq_len: usize,
        device: &B::Device,
        mut fill: impl FnMut(usize, &mut Vec<i64>) -> Result<()>,
    ) -> Result<Self> {
        let batch = starts.len();
        let mut window = Vec::with_capacity(seq_len + 1);
        let mut inputs = Vec::with_capacity(batch * seq_len);
        let mut targets = Vec::with_capacity(batch * seq_len);
        for &start in starts {
            window.clear();
            fill(start, &mut window)?;
            inputs.extend_from_slice(&window[..seq_len]);
            targets.extend_from_slice(&window[1..]);
        }
        Ok(Self {
            inputs: Tensor::from_data(TensorData::new(inputs, [batch, seq_len]), device),
            targets: Tensor::from_data(TensorData::new(targets, [batch, seq_len]), device),
        })
    }
}
