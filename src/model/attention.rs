//! Multi-head causal self-attention with one fused `c_attn` projection.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor};
use burngpt_ops::{softmax, FusedOps};

use super::init::{linear, linear_3d, INIT_STD};

/// Configuration of [`CausalSelfAttention`].
#[derive(Config, Debug)]
pub struct CausalSelfAttentionConfig {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of heads; divides `d_model`.
    pub n_heads: usize,
    /// Biases in `c_attn` and `c_proj`.
    pub bias: bool,
    /// Dropout on the attention weights and on the output.
    pub dropout: f64,
    /// Standard deviation of the residual projection `c_proj` (GPT-2: 0.02 / sqrt(2 n_layers)).
    pub proj_std: f64,
}

/// `softmax(q k^T / sqrt(head_dim) + causal mask) v` over `n_heads` heads.
#[derive(Module, Debug)]
pub struct CausalSelfAttention<B: Backend> {
    /// Fused query/key/value projection, `[d_model, 3 * d_model]`.
    pub c_attn: Linear<B>,
    /// Output projection, `[d_model, d_model]`.
    pub c_proj: Linear<B>,
    attn_drop: Dropout,
    resid_drop: Dropout,
    n_heads: usize,
}

impl CausalSelfAttentionConfig {
    /// Builds the module with GPT-2 initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CausalSelfAttention<B> {
        CausalSelfAttention {
            c_attn: linear(self.d_model, 3 * self.d_model, self.bias, INIT_STD, device),
            c_proj: linear(self.d_model, self.d_model, self.bias, self.proj_std, device),
            attn_drop: DropoutConfig::new(self.dropout).init(),
            resid_drop: DropoutConfig::new(self.dropout).init(),
            n_heads: self.n_heads,
        }
    }
}

impl<B: FusedOps> CausalSelfAttention<B> {
    /// # Shapes
    /// `x: [batch, seq_len, d_model]` -> `[batch, seq_len, d_model]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, seq_len, d_model] = x.dims();
        let (q, k, v) = self.qkv(x);
        let y = if B::ad_enabled(&q.device()) && self.attn_drop.prob > 0.0 {
            // training with attention dropout: explicit weights for dropout to act on
            self.attn_drop.forward(causal_attention_probs(q, k)).matmul(v)
        } else {
            // one autodiff node (on ndarray, a block-causal kernel)
            causal_attention(q, k, v)
        };
        let y = y.swap_dims(1, 2).reshape([batch, seq_len, d_model]);
        self.resid_drop.forward(linear_3d(&self.c_proj, y))
    }

    /// Attention for new positions that follow `cache` (keys and values of earlier
    /// positions, `[batch, n_heads, seq_cached, head_dim]` each); the cache is extended.
    ///
    /// # Shapes
    /// `x: [batch, seq_new, d_model]` -> `[batch, seq_new, d_model]`
    pub fn forward_cached(&self, x: Tensor<B, 3>, cache: &mut Option<(Tensor<B, 4>, Tensor<B, 4>)>) -> Tensor<B, 3> {
        let [batch, seq_len, d_model] = x.dims();
        let (q, k, v) = self.qkv(x);
        let (k, v) = match cache.take() {
            Some((k_old, v_old)) => (Tensor::cat(vec![k_old, k], 2), Tensor::cat(vec![v_old, v], 2)),
            None => (k, v),
        };
        *cache = Some((k.clone(), v.clone()));
        // is_causal aligns the mask bottom-right: new query i sees every cached key.
        let y = causal_attention(q, k, v).swap_dims(1, 2).reshape([batch, seq_len, d_model]);
        linear_3d(&self.c_proj, y)
    }

    /// Queries, keys and values per head, each `[batch, n_heads, seq_len, head_dim]`.
    fn qkv(&self, x: Tensor<B, 3>) -> (Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 4>) {
        let [batch, seq_len, d_model] = x.dims();
        let head_dim = d_model / self.n_heads;
        let qkv = linear_3d(&self.c_attn, x); // [batch, seq_len, 3 * d_model]
        let mut parts = qkv
            .reshape([batch, seq_len, 3, self.n_heads, head_dim])
            .permute([2, 0, 3, 1, 4]) // [3, batch, n_heads, seq_len, head_dim]
            .chunk(3, 0)
            .into_iter()
            .map(|t| t.squeeze_dim::<4>(0)); // [batch, n_heads, seq_len, head_dim]
        match (parts.next(), parts.next(), parts.next()) {
            (Some(q), Some(k), Some(v)) => (q, k, v),
            _ => unreachable!("chunk(3) of a dimension of size 3 gives 3 parts"),
        }
    }
}

/// Causal scaled dot-product attention, burngpt-ops' fused operation.
///
/// # Shapes
/// `q, k, v: [batch, n_heads, seq_len, head_dim]` -> `[batch, n_heads, seq_len, head_dim]`
pub fn causal_attention<B: FusedOps>(q: Tensor<B, 4>, k: Tensor<B, 4>, v: Tensor<B, 4>) -> Tensor<B, 4> {
    burngpt_ops::causal_attention(q, k, v)
}

/// The attention weights `softmax(q k^T / sqrt(head_dim))` with future positions masked.
///
/// # Shapes
/// `q: [batch, n_heads, seq_q, head_dim]`, `k: [batch, n_heads, seq_k, head_dim]`
/// -> `[batch, n_heads, seq_q, seq_k]`; query `i` sits at position `seq_k - seq_q + i`.
pub fn causal_attention_probs<B: FusedOps>(q: Tensor<B, 4>, k: Tensor<B, 4>) -> Tensor<B, 4> {
    causal_softmax(scaled_scores(q, k))
}

/// `q k^T / sqrt(head_dim)`, `[batch, n_heads, seq_q, seq_k]`; the scale is applied to `q`
/// (`seq_k / head_dim` times fewer elements than the scores).
fn scaled_scores<B: Backend>(q: Tensor<B, 4>, k: Tensor<B, 4>) -> Tensor<B, 4> {
    let head_dim = q.dims()[3];
    q.mul_scalar(1.0 / (head_dim as f64).sqrt()).matmul(k.swap_dims(2, 3))
}

/// Softmax over the last axis of `scores: [batch, n_heads, seq_q, seq_k]` with future keys
/// masked; query `i` sits at position `seq_k - seq_q + i`.
///
/// The mask is added as a `[seq_q, seq_k]` bias of `0` and `-inf`, broadcast over batch and
/// heads: one pass forward, and none backward (the bias is a constant), where `mask_fill` costs
/// a pass each way.
fn causal_softmax<B: FusedOps>(scores: Tensor<B, 4>) -> Tensor<B, 4> {
    let [_, _, seq_q, seq_k] = scores.dims();
    let offset = (seq_k - seq_q) as i64;
    let device = scores.device();
    let future = Tensor::<B, 2, Bool>::tril_mask([seq_q, seq_k], offset, &device);
    let bias = Tensor::<B, 2>::zeros([seq_q, seq_k], &device).mask_fill(future, f32::NEG_INFINITY);
    softmax(scores + bias.unsqueeze::<4>(), 3)
}
