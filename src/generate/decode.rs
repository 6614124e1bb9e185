//! The decoding loop, with or without a KV cache.

use std::time::Instant;

use anyhow::Result;
use burn::tensor::backend::Backend;
use burngpt_ops::FusedOps;
use burn::tensor::{Int, Tensor, TensorData};
use rand::rngs::StdRng;

use super::sample::{sample_next, SamplingConfig};
use crate::model::{Gpt, KvCache};

/// Timing of one generation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerateStats {
    /// Tokens produced.
    pub new_tokens: usize,
    /// Seconds spent producing them (prompt processing included).
    pub seconds: f64,
}

impl GenerateStats {
    /// Tokens per second.
    pub fn tokens_per_sec(&self) -> f64 {
        self.new_tokens as f64 / self.seconds
    }
}

/// Appends `max_new_tokens` tokens to `prompt`, calling `on_token` with each.
///
/// The context is the last `block_size` tokens. With `use_cache`, each new token runs one
/// position through the model against the cached keys and values; once the context is
/// longer than `block_size` the window slides, positions shift, and every step recomputes
/// the window (as full recomputation does), so both paths give the same tokens.
pub fn generate<B: FusedOps>(
    model: &Gpt<B>,
    prompt: &[u32],
    max_new_tokens: usize,
    config: &SamplingConfig,
    rng: &mut StdRng,
    use_cache: bool,
    mut on_token: impl FnMut(u32) -> Result<()>,
) -> Result<(Vec<u32>, GenerateStats)> {
    let device = model.wte.weight.device();
    let block_size = model.block_size();
    let mut tokens = prompt.to_vec();
    let mut cache = KvCache::new();
    let mut cache_start = 0;
    let start = Instant::now();
    for _ in 0..max_new_tokens {
        let window_start = tokens.len().saturating_sub(block_size);
        let logits = if use_cache {
            if window_start != cache_start || cache.is_empty() {
                cache = KvCache::new();
                cache_start = window_start;
            }
            let feed = &tokens[cache_start + cache.len()..];
            model.forward_cached(to_tensor(feed, &device), &mut cache)
        } else {
            model.forward(to_tensor(&tokens[window_start..], &device))
        };
        let [_, seq, vocab] = logits.dims();
        let last: Vec<f32> = logits.slice([0..1, seq - 1..seq, 0..vocab]).into_data().iter::<f32>().collect();
        let next = sample_next(&last, config, rng) as u32;
        tokens.push(next);
        on_token(next)?;
    }
    let stats = GenerateStats { new_tokens: max_new_tokens, seconds: start.elapsed().as_secs_f64() };
    Ok((tokens, stats))
}

/// `[1, n]` token ids.
fn to_tensor<B: Backend>(ids: &[u32], device: &B::Device) -> Tensor<B, 2, Int> {
    let data: Vec<i64> = ids.iter().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(data, [1, ids.len()]), device)
}
