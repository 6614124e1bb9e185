//! Sampling filters: pure functions on one position's logits.

use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::RngExt;

/// How the next token is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    /// Divides the logits; `0` means greedy.
    pub temperature: f64,
    /// Keep only the `k` most likely tokens.
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability reaches `p`, in (0, 1].
    pub top_p: Option<f64>,
    /// Always take the most likely token.
    pub greedy: bool,
}

impl SamplingConfig {
    /// Rejects values that have no meaning, naming the flag.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0) || !self.temperature.is_finite() {
            bail!("--temperature {} must be >= 0 (0 means greedy)", self.temperature);
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                bail!("--top-p {p} must be in (0, 1]");
            }
        }
        if self.top_k == Some(0) {
            bail!("--top-k must be at least 1");
        }
        Ok(())
    }
}

/// `(logits - max) / t` (t > 0): the distribution of `logits / t`, shifted so that the largest
/// is 0, so that no value overflows however small `t` is (a tiny `t` then gives -inf to all
/// but the largest: greedy).
pub fn temperature(logits: &[f32], t: f64) -> Vec<f32> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &l| m.max(l)) as f64;
    logits.iter().map(|&l| ((l as f64 - max) / t) as f32).collect()
}

/// Sets every logit below the `k`-th largest to -inf (ties at the threshold are kept).
pub fn top_k(logits: &[f32], k: usize) -> Vec<f32> {
    if k >= logits.len() {
        return logits.to_vec();
    }
    let mut sorted = logits.to_vec();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let threshold = sorted[k - 1];
    logits.iter().map(|&l| if l < threshold { f32::NEG_INFINITY } else { l }).collect()
}

/// Nucleus filtering: keeps the most likely tokens until their probabilities sum to at
/// least `p` (always at least one), sets the rest to -inf.
pub fn top_p(logits: &[f32], p: f64) -> Vec<f32> {
    let probs = softmax(logits);
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_unstable_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    let mut keep = vec![false; logits.len()];
    let mut mass = 0.0;
    for &i in &order {
        keep[i] = true;
        mass += probs[i];
        if mass >= p {
            break;
        }
    }
    logits.iter().zip(keep).map(|(&l, k)| if k { l } else { f32::NEG_INFINITY }).collect()
}

/// Probabilities of `logits` (max-shifted, in f64).
pub fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &l| m.max(l)) as f64;
    let exps: Vec<f64> = logits.iter().map(|&l| (l as f64 - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Index of the largest logit (the first one on ties).
pub fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best
}

/// The next token under `config`: greedy, or a draw from the filtered distribution.
pub fn sample_next(logits: &[f32], config: &SamplingConfig, rng: &mut StdRng) -> usize {
    if config.greedy || config.temperature == 0.0 {
        return argmax(logits);
    }
    let mut l = temperature(logits, config.temperature);
    if let Some(k) = config.top_k {
        l = top_k(&l, k);
    }
    if let Some(p) = config.top_p {
        l = top_p(&l, p);
    }
    let probs = softmax(&l);
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    argmax(&l)
}
