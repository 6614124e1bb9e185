//! burngpt's fused operations as a Burn backend extension.
//!
//! Each operation the GPT spends its time in (softmax, log-softmax, exact GELU, SiLU, layer norm,
//! RMSNorm, causal attention, cross-entropy) and the AdamW update is a method of [`FusedOps`], an extension trait over
//! Burn's `Backend` (the pattern of Burn's `examples/custom-wgpu-kernel`):
//!
//! - every method has a default built from Burn's own ops ([`reference`]), which flex, wgpu and
//!   cuda use as they are;
//! - burn-ndarray overrides them with one-pass CPU kernels (feature `ndarray`, [`ndarray`]);
//! - `Autodiff<B>` records each operation as **one** autodiff node whose backward pass calls the
//!   inner backend's `*_backward` method ([`autodiff`]), instead of one node per primitive op.
//!
//! The model calls the tensor-level functions below ([`softmax`], [`log_softmax`], [`gelu`], [`silu`],
//! [`layer_norm`], [`rms_norm`], [`causal_attention`], [`cross_entropy`]); the optimizer calls [`FusedOps::adamw_update`].

pub mod adamw;
mod autodiff;
mod backends;
#[cfg(feature = "ndarray")]
mod ndarray;
#[cfg(feature = "ndarray")]
pub use ndarray::bf16_gemm;
pub mod reference;

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{Int, Tensor, TensorPrimitive};

pub use adamw::AdamWStep;

/// Fused operations with their own backward pass. Defaults: [`reference`] (Burn's ops).
///
/// The `*_backward` methods take what the forward saved and the output's gradient; they are
/// what the `Autodiff<B>` node calls on the inner backend.
pub trait FusedOps: Backend {
    /// Whether the backend computes in host memory, so that reading a scalar back (a loss) costs
    /// no device synchronisation: the trainer then checks every step's loss, not only logged ones.
    const HOST_MEMORY: bool = false;

    /// `exp(x - max) / sum(exp(x - max))` along `dim`.
    fn fused_softmax(x: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        Self::softmax(x, dim)
    }

    /// The gradient of [`FusedOps::fused_softmax`] from its output `y`: `y * (g - sum(g * y))`.
    fn fused_softmax_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        reference::softmax_backward::<Self>(y, grad, dim)
    }

    /// `(x - max) - ln(sum(exp(x - max)))` along `dim`.
    fn fused_log_softmax(x: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        Self::log_softmax(x, dim)
    }

    /// The gradient of [`FusedOps::fused_log_softmax`] from its output `y`: `g - exp(y) * sum(g)`.
    fn fused_log_softmax_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        reference::log_softmax_backward::<Self>(y, grad, dim)
    }

    /// GELU, erf form: `x Phi(x)`.
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::gelu(x)
    }

    /// The exact derivative of [`FusedOps::fused_gelu`] times `grad`: `grad (Phi(x) + x phi(x))`.
    /// (Burn 0.21's `gelu_backward` is the tanh approximation's derivative.)
    fn fused_gelu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::gelu_backward::<Self>(x, grad)
    }

    /// SiLU (swish): `x sigmoid(x)`.
    fn fused_silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::silu::<Self>(x)
    }

    /// The derivative of [`FusedOps::fused_silu`] times `grad`: `grad s (1 + x (1 - s))`,
    /// `s = sigmoid(x)`.
    fn fused_silu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::silu_backward::<Self>(x, grad)
    }

    /// `lhs rhs` with both operands rounded to bfloat16 and the products summed in float32
    /// (`training.precision = "bf16"`): `[.., m, k] x [.., k, n] -> [.., m, n]`, equal leading
    /// dimensions (no broadcast). Default: Burn's `cast` of both operands to bfloat16, the backend's
    /// own matmul (tensor cores on CUDA), and a cast of the product back to float32 (so the product
    /// itself is also rounded to bfloat16, as under PyTorch's autocast). On ndarray: AVX-512 BF16
    /// kernels with a float32 result ([`ndarray`]'s `bf16_gemm`).
    fn fused_matmul_bf16(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::matmul_bf16::<Self>(lhs, rhs)
    }

    /// The logit soft cap `cap * tanh(x / cap)`, element-wise.
    fn fused_softcap(x: FloatTensor<Self>, cap: f64) -> FloatTensor<Self> {
        reference::softcap::<Self>(x, cap)
    }

    /// The gradient of [`FusedOps::fused_softcap`] from its output `y`: `grad * (1 - (y / cap)^2)`.
    fn fused_softcap_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>, cap: f64) -> FloatTensor<Self> {
        reference::softcap_backward::<Self>(y, grad, cap)
    }

    /// `(x - mean) / sqrt(var + epsilon) * gamma + beta` over the last dimension.
    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: Option<FloatTensor<Self>>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        Self::layer_norm(x, gamma, beta, epsilon)
    }

    /// `(dx, dgamma, dbeta)` of [`FusedOps::fused_layer_norm`]; `dbeta` when `has_beta`.
    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        has_beta: bool,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, Option<FloatTensor<Self>>) {
        reference::layer_norm_backward::<Self>(x, gamma, has_beta, epsilon, grad)
    }

    /// `x / sqrt(mean(x^2) + epsilon) * gamma` over the last dimension (RMSNorm; without `gamma`,
    /// parameter-free).
    fn fused_rms_norm(x: FloatTensor<Self>, gamma: Option<FloatTensor<Self>>, epsilon: f64) -> FloatTensor<Self> {
        reference::rms_norm::<Self>(x, gamma, epsilon)
    }

    /// `(dx, dgamma)` of [`FusedOps::fused_rms_norm`]; `dgamma` when `gamma` is given.
    fn fused_rms_norm_backward(
        x: FloatTensor<Self>,
        gamma: Option<FloatTensor<Self>>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        reference::rms_norm_backward::<Self>(x, gamma, epsilon, grad)
    }

    /// `softmax(q k^T / sqrt(head_dim) + causal mask) v`; query `i` sees keys up to
    /// `i + seq_k - seq_q` (bottom-right alignment, right for a KV cache).
    ///
    /// # Shapes
    /// `q: [batch, heads, seq_q, head_dim]`, `k: [batch, heads, seq_k, head_dim]`,
    /// `v: [batch, heads, seq_k, val_dim]` -> `[batch, heads, seq_q, val_dim]`
    ///
    /// With `bf16` the four products (two in the backward pass's recomputation and gradients:
    /// all of them) read bfloat16-rounded operands and sum in float32, as
    /// [`FusedOps::fused_matmul_bf16`]; the softmax stays float32.
    fn fused_causal_attention(q: FloatTensor<Self>, k: FloatTensor<Self>, v: FloatTensor<Self>, bf16: bool) -> FloatTensor<Self> {
        reference::causal_attention::<Self>(q, k, v, bf16)
    }

    /// [`FusedOps::fused_causal_attention`] and the statistics of its softmax rows, all the
    /// backward pass needs besides the inputs: the probabilities are recomputed from them
    /// (FlashAttention's trade), so what is kept for backward grows with `seq_q`, not `seq_q * seq_k`.
    ///
    /// # Shapes
    /// -> (`[batch, heads, seq_q, val_dim]`, stats `[batch, heads, seq_q, 2]`): per query row the
    /// maximum `m` of its scaled visible scores and `l = sum(exp(score - m))`, so that
    /// `p = exp(score - m) / l` (a query that sees no key: `m = f32::MIN`, `l = 0`, `p = 0`).
    fn fused_causal_attention_with_stats(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        bf16: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        reference::causal_attention_with_stats::<Self>(q, k, v, bf16)
    }

    /// `(dq, dk, dv)` of causal attention from the inputs, the row statistics of
    /// [`FusedOps::fused_causal_attention_with_stats`] and the output's gradient.
    fn fused_causal_attention_backward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        bf16: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        reference::causal_attention_backward::<Self>(q, k, v, stats, grad, bf16)
    }

    /// Mean cross-entropy of the rows of `logits` against `targets`: the loss alone, or under
    /// `Autodiff` one node whose backward scales the gradient [`FusedOps::fused_cross_entropy`]
    /// computed in the forward pass.
    ///
    /// # Shapes
    /// `logits: [rows, vocab]`, `targets: [rows]` -> `[1]`
    fn fused_cross_entropy_loss(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        Self::fused_cross_entropy(logits, targets, false).0
    }

    /// Mean cross-entropy of the rows of `logits` against `targets` and, when `with_grad`, its
    /// gradient with respect to the logits, `(softmax(logits) - one_hot(targets)) / rows`, which
    /// a backend may write over the logits' own memory (llm.c's fused classifier): the
    /// vocabulary-wide tensor then exists once, where log-softmax, gather and their backward
    /// passes would hold three or four copies.
    ///
    /// # Shapes
    /// `logits: [rows, vocab]`, `targets: [rows]` -> (`[1]`, `[rows, vocab]` when `with_grad`)
    fn fused_cross_entropy(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
        with_grad: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        reference::cross_entropy::<Self>(logits, targets, with_grad)
    }

    /// The logits' gradient from the one [`FusedOps::fused_cross_entropy`] returned and the
    /// loss's gradient `grad` (`[1]`): `dlogits * grad`.
    fn fused_cross_entropy_backward(dlogits: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        reference::cross_entropy_backward::<Self>(dlogits, grad)
    }

    /// One AdamW update of weight `w` with gradient `g` and moments `m`, `v` (`None` before the
    /// first step): returns the new `[w, m, v]`, bit for bit what Burn 0.21's `AdamW` computes.
    fn adamw_update(
        w: FloatTensor<Self>,
        g: FloatTensor<Self>,
        m: Option<FloatTensor<Self>>,
        v: Option<FloatTensor<Self>>,
        step: &AdamWStep,
    ) -> [FloatTensor<Self>; 3] {
        reference::adamw_update::<Self>(w, g, m, v, step)
    }
}

/// A training backend whose inner (inference) backend has the fused operations too.
pub trait FusedAutodiffBackend: FusedOps + AutodiffBackend<InnerBackend: FusedOps> {}

impl<B: FusedOps + AutodiffBackend<InnerBackend: FusedOps>> FusedAutodiffBackend for B {}

fn primitive<B: Backend, const D: usize>(x: Tensor<B, D>) -> FloatTensor<B> {
    x.into_primitive().tensor()
}

fn tensor<B: Backend, const D: usize>(x: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(x))
}

/// Softmax along `dim` ([`FusedOps::fused_softmax`]).
pub fn softmax<B: FusedOps, const D: usize>(x: Tensor<B, D>, dim: usize) -> Tensor<B, D> {
    tensor(B::fused_softmax(primitive(x), dim))
}

/// Log-softmax along `dim` ([`FusedOps::fused_log_softmax`]).
pub fn log_softmax<B: FusedOps, const D: usize>(x: Tensor<B, D>, dim: usize) -> Tensor<B, D> {
    tensor(B::fused_log_softmax(primitive(x), dim))
}

/// GELU (erf form) with its exact derivative ([`FusedOps::fused_gelu`]).
pub fn gelu<B: FusedOps, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    tensor(B::fused_gelu(primitive(x)))
}

/// SiLU, `x sigmoid(x)`, with its exact derivative ([`FusedOps::fused_silu`]).
pub fn silu<B: FusedOps, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    tensor(B::fused_silu(primitive(x)))
}

/// `lhs rhs` from bfloat16-rounded operands with float32 sums ([`FusedOps::fused_matmul_bf16`]); its
/// gradients are the same products of the output's gradient with the transposed operands.
///
/// # Shapes
/// `lhs: [.., m, k]`, `rhs: [.., k, n]` -> `[.., m, n]` (equal leading dimensions)
pub fn matmul_bf16<B: FusedOps, const D: usize>(lhs: Tensor<B, D>, rhs: Tensor<B, D>) -> Tensor<B, D> {
    tensor(B::fused_matmul_bf16(primitive(lhs), primitive(rhs)))
}

/// The logit soft cap `cap * tanh(x / cap)` ([`FusedOps::fused_softcap`]): one pass each way.
pub fn softcap<B: FusedOps, const D: usize>(x: Tensor<B, D>, cap: f64) -> Tensor<B, D> {
    tensor(B::fused_softcap(primitive(x), cap))
}

/// Layer norm over the last dimension ([`FusedOps::fused_layer_norm`]).
///
/// # Shapes
/// `x: [.., d]`, `gamma, beta: [d]` -> `[.., d]`
pub fn layer_norm<B: FusedOps, const D: usize>(
    x: Tensor<B, D>,
    gamma: Tensor<B, 1>,
    beta: Option<Tensor<B, 1>>,
    epsilon: f64,
) -> Tensor<B, D> {
    tensor(B::fused_layer_norm(primitive(x), primitive(gamma), beta.map(primitive), epsilon))
}

/// RMSNorm over the last dimension ([`FusedOps::fused_rms_norm`]); `gamma: None` is the
/// parameter-free norm.
///
/// # Shapes
/// `x: [.., d]`, `gamma: [d]` -> `[.., d]`
pub fn rms_norm<B: FusedOps, const D: usize>(x: Tensor<B, D>, gamma: Option<Tensor<B, 1>>, epsilon: f64) -> Tensor<B, D> {
    tensor(B::fused_rms_norm(primitive(x), gamma.map(primitive), epsilon))
}

/// Causal scaled dot-product attention ([`FusedOps::fused_causal_attention`]).
///
/// # Shapes
/// `q: [batch, heads, seq_q, head_dim]`, `k, v: [batch, heads, seq_k, head_dim]`
/// -> `[batch, heads, seq_q, head_dim]`
pub fn causal_attention<B: FusedOps>(q: Tensor<B, 4>, k: Tensor<B, 4>, v: Tensor<B, 4>) -> Tensor<B, 4> {
    tensor(B::fused_causal_attention(primitive(q), primitive(k), primitive(v), false))
}

/// [`causal_attention`] with its products on bfloat16-rounded operands and float32 sums (the
/// softmax in float32): `training.precision = "bf16"`.
pub fn causal_attention_bf16<B: FusedOps>(q: Tensor<B, 4>, k: Tensor<B, 4>, v: Tensor<B, 4>) -> Tensor<B, 4> {
    tensor(B::fused_causal_attention(primitive(q), primitive(k), primitive(v), true))
}

/// Mean cross-entropy of each row of `logits` against its target, one autodiff node whose
/// gradient is computed in the forward pass ([`FusedOps::fused_cross_entropy`]).
///
/// # Shapes
/// `logits: [rows, vocab]`, `targets: [rows]` -> `[1]`
pub fn cross_entropy<B: FusedOps>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    tensor(B::fused_cross_entropy_loss(primitive(logits), targets.into_primitive()))
}
