//! The default implementations of [`FusedOps`](crate::FusedOps), built from Burn's own ops.
//!
//! Forward passes are Burn's (`softmax`, `gelu`, `layer_norm`, RMSNorm's few ops, the attention fallback's
//! arithmetic); backward passes are the closed forms below, each a handful of tensor ops that any
//! backend runs (and that Burn's fusion can merge on the GPU backends). The ndarray kernels compute
//! the same formulas in one pass; the tests compare both against float64 host values.

use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, SimpleOptimizer};
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{Bool, FloatDType, Int, Tensor, TensorMetadata};

use crate::{primitive, tensor, AdamWStep};

/// `y * (g - sum(g * y))` along `dim`, from the softmax output `y`.
pub fn softmax_backward<B: Backend>(y: FloatTensor<B>, grad: FloatTensor<B>, dim: usize) -> FloatTensor<B> {
    let dot = B::float_sum_dim(B::float_mul(grad.clone(), y.clone()), dim);
    B::float_mul(y, B::float_sub(grad, dot))
}

/// `g - exp(y) * sum(g)` along `dim`, from the log-softmax output `y`.
pub fn log_softmax_backward<B: Backend>(y: FloatTensor<B>, grad: FloatTensor<B>, dim: usize) -> FloatTensor<B> {
    let total = B::float_sum_dim(grad.clone(), dim);
    B::float_sub(grad, B::float_mul(B::float_exp(y), total))
}

/// `grad * (Phi(x) + x phi(x))` with `Phi(x) = (1 + erf(x / sqrt 2)) / 2` and
/// `phi(x) = exp(-x^2 / 2) / sqrt(2 pi)`: the derivative of the erf GELU.
pub fn gelu_backward<B: Backend>(x: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
    let erf = B::float_erf(B::float_div_scalar(x.clone(), core::f64::consts::SQRT_2.into()));
    let cdf = B::float_div_scalar(B::float_add_scalar(erf, 1f32.into()), 2f32.into());
    let x2 = B::float_mul(x.clone(), x.clone());
    let pdf = B::float_exp(B::float_mul_scalar(x2, (-0.5f32).into()));
    let pdf = B::float_mul_scalar(pdf, (1.0 / (2.0 * core::f64::consts::PI).sqrt()).into());
    B::float_mul(B::float_add(cdf, B::float_mul(x, pdf)), grad)
}

/// `x sigmoid(x)` with Burn's sigmoid.
pub fn silu<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::float_mul(x.clone(), B::sigmoid(x))
}

/// `grad s (1 + x (1 - s))` with `s = sigmoid(x)`: the derivative of `x s`, since
/// `s' = s (1 - s)`.
pub fn silu_backward<B: Backend>(x: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
    let s = B::sigmoid(x.clone());
    let one_minus_s = B::float_add_scalar(B::float_neg(s.clone()), 1f32.into());
    let slope = B::float_mul(s, B::float_add_scalar(B::float_mul(x, one_minus_s), 1f32.into()));
    B::float_mul(grad, slope)
}

/// `lhs rhs` through Burn's `cast` to bfloat16 and the backend's matmul, cast back to float32.
pub fn matmul_bf16<B: Backend>(lhs: FloatTensor<B>, rhs: FloatTensor<B>) -> FloatTensor<B> {
    let product = B::float_matmul(B::float_cast(lhs, FloatDType::BF16), B::float_cast(rhs, FloatDType::BF16));
    B::float_cast(product, FloatDType::F32)
}

/// `cap * tanh(x / cap)`.
pub fn softcap<B: Backend>(x: FloatTensor<B>, cap: f64) -> FloatTensor<B> {
    B::float_mul_scalar(B::float_tanh(B::float_div_scalar(x, cap.into())), cap.into())
}

/// `grad * (1 - (y / cap)^2)` from the output `y = cap tanh(x / cap)`: `d/dx = 1 - tanh^2`.
pub fn softcap_backward<B: Backend>(y: FloatTensor<B>, grad: FloatTensor<B>, cap: f64) -> FloatTensor<B> {
    let t = B::float_div_scalar(y, cap.into());
    let slope = B::float_add_scalar(B::float_neg(B::float_mul(t.clone(), t)), 1f32.into());
    B::float_mul(grad, slope)
}

/// The gradients of layer norm over the last dimension:
///
/// ```text
/// xhat = (x - mean) * rstd          gg = grad * gamma
/// dx = rstd * (gg - mean(gg) - xhat * mean(gg * xhat))
/// dgamma = sum over rows of grad * xhat          dbeta = sum over rows of grad
/// ```
pub fn layer_norm_backward<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    has_beta: bool,
    epsilon: f64,
    grad: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, Option<FloatTensor<B>>) {
    let shape = x.shape();
    let d = shape.as_slice().last().copied().unwrap_or(1);
    let rows = |t: FloatTensor<B>| -> Tensor<B, 2> { tensor(B::float_reshape(t, [shape.num_elements() / d.max(1), d].into())) };
    let (x, grad) = (rows(x), rows(grad));
    let gamma: Tensor<B, 1> = tensor(gamma);
    let mean = x.clone().mean_dim(1);
    let centered = x - mean;
    let var = centered.clone().square().mean_dim(1);
    let rstd = var.add_scalar(epsilon).sqrt().recip();
    let xhat = centered * rstd.clone();
    let gg = grad.clone() * gamma.unsqueeze::<2>();
    let dx = (gg.clone() - gg.clone().mean_dim(1) - xhat.clone() * (gg * xhat.clone()).mean_dim(1)) * rstd;
    let dgamma = (grad.clone() * xhat).sum_dim(0).reshape([d]);
    let dbeta = has_beta.then(|| primitive(grad.sum_dim(0).reshape([d])));
    (B::float_reshape(primitive(dx), shape), primitive(dgamma), dbeta)
}

/// `x / sqrt(mean(x^2) + epsilon) * gamma` over the last dimension, in Burn's ops.
pub fn rms_norm<B: Backend>(x: FloatTensor<B>, gamma: Option<FloatTensor<B>>, epsilon: f64) -> FloatTensor<B> {
    let shape = x.shape();
    let d = shape.as_slice().last().copied().unwrap_or(1);
    let x: Tensor<B, 2> = tensor(B::float_reshape(x, [shape.num_elements() / d.max(1), d].into()));
    let rstd = x.clone().square().mean_dim(1).add_scalar(epsilon).sqrt().recip(); // [rows, 1]
    let y = x * rstd;
    let y = match gamma {
        Some(gamma) => y * tensor::<B, 1>(gamma).unsqueeze::<2>(),
        None => y,
    };
    B::float_reshape(primitive(y), shape)
}

/// The gradients of RMSNorm over the last dimension (from `y_j = gamma_j x_j rstd` with
/// `rstd = (mean(x^2) + epsilon)^(-1/2)`, whose derivative is `-rstd^3 x_k / d`):
///
/// ```text
/// xhat = x * rstd          gg = grad * gamma (grad without gamma)
/// dx = rstd * (gg - xhat * mean(gg * xhat))
/// dgamma = sum over rows of grad * xhat
/// ```
pub fn rms_norm_backward<B: Backend>(
    x: FloatTensor<B>,
    gamma: Option<FloatTensor<B>>,
    epsilon: f64,
    grad: FloatTensor<B>,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    let shape = x.shape();
    let d = shape.as_slice().last().copied().unwrap_or(1);
    let rows = |t: FloatTensor<B>| -> Tensor<B, 2> { tensor(B::float_reshape(t, [shape.num_elements() / d.max(1), d].into())) };
    let (x, grad) = (rows(x), rows(grad));
    let rstd = x.clone().square().mean_dim(1).add_scalar(epsilon).sqrt().recip(); // [rows, 1]
    let xhat = x * rstd.clone();
    let gamma = gamma.map(|g| tensor::<B, 1>(g).unsqueeze::<2>());
    let gg = match &gamma {
        Some(gamma) => grad.clone() * gamma.clone(),
        None => grad.clone(),
    };
    let dx = (gg.clone() - xhat.clone() * (gg * xhat.clone()).mean_dim(1)) * rstd;
    let dgamma = gamma.map(|_| primitive((grad * xhat).sum_dim(0).reshape([d])));
    (B::float_reshape(primitive(dx), shape), dgamma)
}

/// Burn's attention with `is_causal` and no mask, bias or softcap (on GPU backends, their kernel);
/// with `bf16`, [`causal_attention_with_stats`]'s products on bfloat16 casts.
pub fn causal_attention<B: Backend>(q: FloatTensor<B>, k: FloatTensor<B>, v: FloatTensor<B>, bf16: bool) -> FloatTensor<B> {
    if bf16 {
        return causal_attention_with_stats::<B>(q, k, v, true).0;
    }
    let options = burn::tensor::ops::AttentionModuleOptions { scale: None, softcap: None, is_causal: true };
    B::attention(q, k, v, None, None, options)
}

/// `a b`, on bfloat16 casts when `bf16` ([`matmul_bf16`]).
fn product<B: Backend>(a: Tensor<B, 4>, b: Tensor<B, 4>, bf16: bool) -> Tensor<B, 4> {
    if bf16 {
        tensor(matmul_bf16::<B>(primitive(a), primitive(b)))
    } else {
        a.matmul(b)
    }
}

/// The scaled scores `q k^T * scale` with the keys a query does not see filled with `-inf`.
fn masked_scores<B: Backend>(q: Tensor<B, 4>, k: Tensor<B, 4>, bf16: bool) -> Tensor<B, 4> {
    let [batch, heads, seq_q, head_dim] = q.dims();
    let seq_k = k.dims()[2];
    let scores = product(q, k.swap_dims(2, 3), bf16).mul_scalar(1.0 / (head_dim as f64).sqrt());
    let future = Tensor::<B, 2, Bool>::tril_mask([seq_q, seq_k], seq_k as i64 - seq_q as i64, &scores.device());
    let future = future.unsqueeze::<4>().expand([batch, heads, seq_q, seq_k]);
    scores.mask_fill(future, f32::NEG_INFINITY)
}

/// `exp(scores - max) / sum` from the row statistics `[.., 2]` (max, sum); a row with `sum = 0`
/// (a query that sees no key) gets zero probabilities, as in Burn's NaN-safe softmax.
fn probabilities<B: Backend>(scores: Tensor<B, 4>, max: Tensor<B, 4>, sum: Tensor<B, 4>) -> Tensor<B, 4> {
    (scores - max).exp() / sum.clamp_min(f32::MIN_POSITIVE)
}

/// `softmax(q k^T * scale + mask) v` and the rows' statistics `[batch, heads, seq_q, 2]`
/// (max, sum of exponentials), in the order of Burn's attention fallback (scale on the scores,
/// future keys filled with `-inf`, its NaN-safe softmax).
pub fn causal_attention_with_stats<B: Backend>(
    q: FloatTensor<B>,
    k: FloatTensor<B>,
    v: FloatTensor<B>,
    bf16: bool,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let (q, k, v): (Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 4>) = (tensor(q), tensor(k), tensor(v));
    let scores = masked_scores(q, k, bf16);
    let max = scores.clone().max_dim(3).clamp_min(f32::MIN); // [batch, heads, seq_q, 1]
    let sum = (scores.clone() - max.clone()).exp().sum_dim(3); // [batch, heads, seq_q, 1]
    let out = product(probabilities(scores, max.clone(), sum.clone()), v, bf16);
    (primitive(out), primitive(Tensor::cat(vec![max, sum], 3)))
}

/// The gradients of causal attention, the probabilities `p` recomputed from the inputs and the
/// row statistics, and the output's gradient:
///
/// ```text
/// dv = p^T do        dp = do v^T        ds = scale * p * (dp - rowsum(p * dp))
/// dq = ds k          dk = ds^T q
/// ```
pub fn causal_attention_backward<B: Backend>(
    q: FloatTensor<B>,
    k: FloatTensor<B>,
    v: FloatTensor<B>,
    stats: FloatTensor<B>,
    grad: FloatTensor<B>,
    bf16: bool,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let t4 = |x: FloatTensor<B>| -> Tensor<B, 4> { tensor(x) };
    let (q, k, v, stats, d_o) = (t4(q), t4(k), t4(v), t4(stats), t4(grad));
    let scale = 1.0 / (q.dims()[3] as f64).sqrt();
    let [batch, heads, seq_q, _] = stats.dims();
    let max = stats.clone().slice([0..batch, 0..heads, 0..seq_q, 0..1]);
    let sum = stats.slice([0..batch, 0..heads, 0..seq_q, 1..2]);
    let p = probabilities(masked_scores(q.clone(), k.clone(), bf16), max, sum);
    let dv = product(p.clone().swap_dims(2, 3), d_o.clone(), bf16);
    let dp = product(d_o, v.swap_dims(2, 3), bf16);
    let dot = (p.clone() * dp.clone()).sum_dim(3);
    let ds = (p * (dp - dot)).mul_scalar(scale);
    let dq = product(ds.clone(), k, bf16);
    let dk = product(ds.swap_dims(2, 3), q, bf16);
    (primitive(dq), primitive(dk), primitive(dv))
}

/// `-mean(log_softmax(logits)[target])` (log-softmax, gather, mean) and, when `with_grad`,
/// `(softmax(logits) - one_hot(targets)) / rows`.
pub fn cross_entropy<B: Backend>(
    logits: FloatTensor<B>,
    targets: IntTensor<B>,
    with_grad: bool,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    let logits: Tensor<B, 2> = tensor(logits);
    let targets: Tensor<B, 1, Int> = Tensor::from_primitive(targets);
    let [rows, vocab] = logits.dims();
    let log_probs = burn::tensor::activation::log_softmax(logits, 1); // [rows, vocab]
    let loss = log_probs.clone().gather(1, targets.clone().reshape([rows, 1])).mean().neg();
    let grad = with_grad.then(|| {
        let one_hot: Tensor<B, 2> = targets.one_hot::<2>(vocab).float();
        primitive((log_probs.exp() - one_hot).div_scalar(rows as f64))
    });
    (primitive(loss), grad)
}

/// `dlogits * grad`, `grad` being the loss's gradient `[1]`.
pub fn cross_entropy_backward<B: Backend>(dlogits: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
    let dlogits: Tensor<B, 2> = tensor(dlogits);
    let grad: Tensor<B, 1> = tensor(grad);
    primitive(dlogits * grad.unsqueeze::<2>())
}

/// Burn's own `AdamW::step` on the flattened parameter, configured from `step`.
pub fn adamw_update<B: Backend>(
    w: FloatTensor<B>,
    g: FloatTensor<B>,
    m: Option<FloatTensor<B>>,
    v: Option<FloatTensor<B>>,
    step: &AdamWStep,
) -> [FloatTensor<B>; 3] {
    let shape = w.shape();
    let flat = |t: FloatTensor<B>| -> Tensor<B, 1> { tensor(B::float_reshape(t, [shape.num_elements()].into())) };
    let back = |t: Tensor<B, 1>| B::float_reshape(primitive(t), shape.clone());
    let adamw: AdamW = AdamWConfig::new()
        .with_beta_1(step.beta1)
        .with_beta_2(step.beta2)
        .with_epsilon(step.eps)
        .with_weight_decay(step.weight_decay)
        .with_cautious_weight_decay(false)
        .with_amsgrad(false)
        .with_grad_clipping(None)
        .build();
    let state = match (m, v) {
        (Some(m), Some(v)) => {
            Some(AdamWState { momentum: AdaptiveMomentumState::new(step.time - 1, flat(m), flat(v)) })
        }
        _ => None,
    };
    let (w, state) = SimpleOptimizer::<B>::step(&adamw, step.lr, flat(w), flat(g), state);
    match state {
        Some(AdamWState { momentum }) => [back(w), back(momentum.moment_1), back(momentum.moment_2)],
        None => unreachable!("AdamW always returns its state"),
    }
}
