//! Multi-head causal self-attention with one fused `c_attn` projection; grouped-query attention,
//! QK-norm and rotary positions when the config asks for them.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor};
use burngpt_ops::{softmax, FusedOps};

use super::init::{linear, INIT_STD};
use super::precision::{linear_3d, Precision};
use super::rope::{Rope, RopeConfig};

/// Keys and values of the positions seen so far, `[batch, n_kv_heads, seq_cached, head_dim]` each
/// (keys already rotated at their absolute positions).
pub type LayerCache<B> = Option<(Tensor<B, 4>, Tensor<B, 4>)>;

/// Configuration of [`CausalSelfAttention`].
#[derive(Config, Debug)]
pub struct CausalSelfAttentionConfig {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of query heads; divides `d_model`.
    pub n_heads: usize,
    /// Number of key/value heads (grouped-query attention); divides `n_heads`.
    pub n_kv_heads: usize,
    /// Biases in `c_attn` and `c_proj`.
    pub bias: bool,
    /// Dropout on the attention weights and on the output.
    pub dropout: f64,
    /// Standard deviation of the residual projection `c_proj` (GPT-2: 0.02 / sqrt(2 n_layers);
    /// 0: zeros).
    pub proj_std: f64,
    /// Parameter-free RMS norm of each query and key head before attention.
    pub qk_norm: bool,
    /// Epsilon of the QK-norm.
    pub norm_eps: f64,
    /// Rotary positions applied to queries and keys, if any.
    pub rope: Option<RopeConfig>,
}

/// `softmax(q k^T / sqrt(head_dim) + causal mask) v` over `n_heads` query heads, key/value head
/// `j` serving query heads `j * g .. (j + 1) * g`, `g = n_heads / n_kv_heads`.
#[derive(Module, Debug)]
pub struct CausalSelfAttention<B: Backend> {
    /// Fused query/key/value projection, `[d_model, (n_heads + 2 n_kv_heads) * head_dim]`: the
    /// output columns hold all query heads, then all key heads, then all value heads.
    pub c_attn: Linear<B>,
    /// Output projection, `[d_model, d_model]`.
    pub c_proj: Linear<B>,
    /// Rotary tables (positions = "rope"), not saved.
    pub rope: Option<Rope<B>>,
    attn_drop: Dropout,
    resid_drop: Dropout,
    n_heads: usize,
    n_kv_heads: usize,
    qk_norm: bool,
    norm_eps: f64,
    /// What the projections' products read (not saved: [`crate::model::Gpt::with_precision`]).
    pub(super) precision: Precision,
}

impl CausalSelfAttentionConfig {
    /// Builds the module with GPT-2 initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CausalSelfAttention<B> {
        let head_dim = self.d_model / self.n_heads;
        let d_qkv = (self.n_heads + 2 * self.n_kv_heads) * head_dim;
        CausalSelfAttention {
            c_attn: linear(self.d_model, d_qkv, self.bias, INIT_STD, device),
            c_proj: linear(self.d_model, self.d_model, self.bias, self.proj_std, device),
            rope: self.rope.as_ref().map(|rope| rope.init(device)),
            attn_drop: DropoutConfig::new(self.dropout).init(),
            resid_drop: DropoutConfig::new(self.dropout).init(),
            n_heads: self.n_heads,
            n_kv_heads: self.n_kv_heads,
            qk_norm: self.qk_norm,
            norm_eps: self.norm_eps,
            precision: Precision::Fp32,
        }
    }
}

impl<B: FusedOps> CausalSelfAttention<B> {
    /// # Shapes
    /// `x: [batch, seq_len, d_model]` -> `[batch, seq_len, d_model]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, seq_len, d_model] = x.dims();
        let (q, k, v) = self.qkv(x, 0);
        let (k, v) = (self.repeat_kv(k), self.repeat_kv(v)); // [batch, n_heads, seq_len, head_dim]
        let y = if B::ad_enabled(&q.device()) && self.attn_drop.prob > 0.0 {
            // training with attention dropout: explicit weights for dropout to act on
            self.attn_drop.forward(causal_attention_probs(q, k)).matmul(v)
        } else {
            // one autodiff node (on ndarray, a block-causal kernel)
            match self.precision {
                Precision::Fp32 => causal_attention(q, k, v),
                Precision::Bf16 => burngpt_ops::causal_attention_bf16(q, k, v),
            }
        };
        let y = y.swap_dims(1, 2).reshape([batch, seq_len, d_model]);
        self.resid_drop.forward(linear_3d(&self.c_proj, y, self.precision))
    }

    /// Attention for new positions that follow `cache` (keys and values of earlier positions,
    /// `[batch, n_kv_heads, seq_cached, head_dim]` each); the cache is extended. The new
    /// positions start at `seq_cached` (where RoPE rotates them).
    ///
    /// # Shapes
    /// `x: [batch, seq_new, d_model]` -> `[batch, seq_new, d_model]`
    pub fn forward_cached(&self, x: Tensor<B, 3>, cache: &mut LayerCache<B>) -> Tensor<B, 3> {
        let [batch, seq_len, d_model] = x.dims();
        let start = cache.as_ref().map_or(0, |(k, _)| k.dims()[2]);
        let (q, k, v) = self.qkv(x, start);
        let (k, v) = match cache.take() {
            Some((k_old, v_old)) => (Tensor::cat(vec![k_old, k], 2), Tensor::cat(vec![v_old, v], 2)),
            None => (k, v),
        };
        *cache = Some((k.clone(), v.clone()));
        // is_causal aligns the mask bottom-right: new query i sees every cached key.
        let y = causal_attention(q, self.repeat_kv(k), self.repeat_kv(v));
        let y = y.swap_dims(1, 2).reshape([batch, seq_len, d_model]);
        linear_3d(&self.c_proj, y, self.precision)
    }

    /// Queries `[batch, n_heads, seq_len, head_dim]`, keys and values
    /// `[batch, n_kv_heads, seq_len, head_dim]`, for positions `start..start + seq_len`:
    /// queries and keys QK-normed, then rotated, when the config asks.
    fn qkv(&self, x: Tensor<B, 3>, start: usize) -> (Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 4>) {
        let [batch, seq_len, d_model] = x.dims();
        let (n_q, n_kv) = (self.n_heads, self.n_kv_heads);
        let head_dim = d_model / n_q;
        let heads = linear_3d(&self.c_attn, x, self.precision) // [batch, seq_len, (n_q + 2 n_kv) * head_dim]
            .reshape([batch, seq_len, n_q + 2 * n_kv, head_dim])
            .swap_dims(1, 2); // [batch, n_q + 2 n_kv, seq_len, head_dim]
        let q = heads.clone().narrow(1, 0, n_q);
        let k = heads.clone().narrow(1, n_q, n_kv);
        let v = heads.narrow(1, n_q + n_kv, n_kv);
        let (q, k) = if self.qk_norm {
            (burngpt_ops::rms_norm(q, None, self.norm_eps), burngpt_ops::rms_norm(k, None, self.norm_eps))
        } else {
            (q, k)
        };
        match &self.rope {
            Some(rope) => (rope.apply(q, start), rope.apply(k, start), v),
            None => (q, k, v),
        }
    }

    /// Each key/value head repeated for the `n_heads / n_kv_heads` query heads it serves
    /// (Hugging Face's `repeat_kv`); the tensor itself when every query head has its own.
    ///
    /// # Shapes
    /// `x: [batch, n_kv_heads, seq, head_dim]` -> `[batch, n_heads, seq, head_dim]`
    fn repeat_kv(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let groups = self.n_heads / self.n_kv_heads;
        if groups == 1 {
            return x;
        }
        let [batch, n_kv, seq, head_dim] = x.dims();
        x.unsqueeze_dim::<5>(2) // [batch, n_kv_heads, 1, seq, head_dim]
            .expand([batch, n_kv, groups, seq, head_dim])
            .reshape([batch, n_kv * groups, seq, head_dim])
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
