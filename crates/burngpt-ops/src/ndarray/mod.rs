//! [`FusedOps`] for burn-ndarray: one-pass CPU kernels for float32 and float64 tensors (other
//! dtypes take the defaults).

mod adamw;
mod attention;
pub mod bf16_gemm;
mod cross_entropy;
mod elementwise;
mod fast_math;
mod gelu;
mod layer_norm;
mod rms_norm;
mod silu;
mod softcap;
mod softmax;

use burn::tensor::ops::{ActivationOps, FloatTensor, IntTensor, ModuleOps};
use burn_ndarray::{FloatNdArrayElement, IntNdArrayElement, NdArray, NdArrayTensor, QuantElement, SharedArray};

use crate::{reference, AdamWStep, FusedOps};

/// Runs `$body` with the named tensors rebound to their arrays when all are float32 or all are
/// float64 (the body is compiled for each), and `$fallback` with the tensors otherwise.
macro_rules! kernel {
    (($($x:ident),+) => $body:expr, else $fallback:expr) => {{
        #[allow(unused_parens)]
        match ($($x),+) {
            ($(NdArrayTensor::F32($x)),+) => {
                $(let $x = $x.into_shared();)+
                $body
            }
            ($(NdArrayTensor::F64($x)),+) => {
                $(let $x = $x.into_shared();)+
                $body
            }
            ($($x),+) => $fallback,
        }
    }};
}

impl<E: FloatNdArrayElement, I: IntNdArrayElement, Q: QuantElement> FusedOps for NdArray<E, I, Q>
where
    NdArrayTensor: From<SharedArray<E>>,
    NdArrayTensor: From<SharedArray<I>>,
{
    const HOST_MEMORY: bool = true;

    fn fused_softmax(x: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        kernel!((x) => softmax::softmax(x, dim).into(), else Self::softmax(x, dim))
    }

    fn fused_softmax_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        // Burn's ops: the softmax backward is not on the model's hot path (attention has its own).
        reference::softmax_backward::<Self>(y, grad, dim)
    }

    fn fused_log_softmax(x: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        kernel!((x) => softmax::log_softmax(x, dim).into(), else Self::log_softmax(x, dim))
    }

    fn fused_log_softmax_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        kernel!((y, grad) => softmax::log_softmax_backward(y, grad, dim).into(),
            else reference::log_softmax_backward::<Self>(y, grad, dim))
    }

    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        kernel!((x) => gelu::gelu(x).into(), else Self::gelu(x))
    }

    fn fused_softcap(x: FloatTensor<Self>, cap: f64) -> FloatTensor<Self> {
        kernel!((x) => softcap::softcap(x, cap).into(), else reference::softcap::<Self>(x, cap))
    }

    fn fused_softcap_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>, cap: f64) -> FloatTensor<Self> {
        kernel!((y, grad) => softcap::softcap_backward(y, grad, cap).into(),
            else reference::softcap_backward::<Self>(y, grad, cap))
    }

    fn fused_gelu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        kernel!((x, grad) => gelu::gelu_backward(x, grad).into(), else reference::gelu_backward::<Self>(x, grad))
    }

    fn fused_silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        kernel!((x) => silu::silu(x).into(), else reference::silu::<Self>(x))
    }

    fn fused_silu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        kernel!((x, grad) => silu::silu_backward(x, grad).into(), else reference::silu_backward::<Self>(x, grad))
    }

    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: Option<FloatTensor<Self>>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        match beta {
            Some(beta) => kernel!((x, gamma, beta) => layer_norm::layer_norm(x, gamma, Some(beta), epsilon).into(),
                else Self::layer_norm(x, gamma, Some(beta), epsilon)),
            None => kernel!((x, gamma) => layer_norm::layer_norm(x, gamma, None, epsilon).into(),
                else Self::layer_norm(x, gamma, None, epsilon)),
        }
    }

    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        has_beta: bool,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, Option<FloatTensor<Self>>) {
        kernel!((x, gamma, grad) => {
            let (dx, dgamma, dbeta) = layer_norm::layer_norm_backward(x, gamma, has_beta, epsilon, grad);
            (dx.into(), dgamma.into(), dbeta.map(Into::into))
        }, else reference::layer_norm_backward::<Self>(x, gamma, has_beta, epsilon, grad))
    }

    fn fused_rms_norm(x: FloatTensor<Self>, gamma: Option<FloatTensor<Self>>, epsilon: f64) -> FloatTensor<Self> {
        match gamma {
            Some(gamma) => kernel!((x, gamma) => rms_norm::rms_norm(x, Some(gamma), epsilon).into(),
                else reference::rms_norm::<Self>(x, Some(gamma), epsilon)),
            None => kernel!((x) => rms_norm::rms_norm(x, None, epsilon).into(),
                else reference::rms_norm::<Self>(x, None, epsilon)),
        }
    }

    fn fused_rms_norm_backward(
        x: FloatTensor<Self>,
        gamma: Option<FloatTensor<Self>>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        match gamma {
            Some(gamma) => kernel!((x, gamma, grad) => {
                let (dx, dgamma) = rms_norm::rms_norm_backward(x, Some(gamma), epsilon, grad);
                (dx.into(), dgamma.map(Into::into))
            }, else reference::rms_norm_backward::<Self>(x, Some(gamma), epsilon, grad)),
            None => kernel!((x, grad) => {
                let (dx, _) = rms_norm::rms_norm_backward(x, None, epsilon, grad);
                (dx.into(), None)
            }, else reference::rms_norm_backward::<Self>(x, None, epsilon, grad)),
        }
    }

    fn fused_causal_attention(q: FloatTensor<Self>, k: FloatTensor<Self>, v: FloatTensor<Self>, bf16: bool) -> FloatTensor<Self> {
        Self::fused_causal_attention_with_stats(q, k, v, bf16).0
    }

    fn fused_causal_attention_with_stats(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        bf16: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        // The kernel's bfloat16 products take float32 arrays only; others go through the casts.
        if bf16 && !matches!(q, NdArrayTensor::F32(_)) {
            return reference::causal_attention_with_stats::<Self>(q, k, v, bf16);
        }
        kernel!((q, k, v) => {
            let (out, stats) = attention::attention_with_stats(q, k, v, bf16);
            (out.into(), stats.into())
        }, else reference::causal_attention_with_stats::<Self>(q, k, v, bf16))
    }

    fn fused_causal_attention_backward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        bf16: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        if bf16 && !matches!(q, NdArrayTensor::F32(_)) {
            return reference::causal_attention_backward::<Self>(q, k, v, stats, grad, bf16);
        }
        kernel!((q, k, v, stats, grad) => {
            let (dq, dk, dv) = attention::attention_backward(q, k, v, stats, grad, bf16);
            (dq.into(), dk.into(), dv.into())
        }, else reference::causal_attention_backward::<Self>(q, k, v, stats, grad, bf16))
    }

    fn fused_matmul_bf16(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        match (lhs, rhs) {
            (NdArrayTensor::F32(lhs), NdArrayTensor::F32(rhs)) => {
                bf16_gemm::matmul(&lhs.into_shared().view(), &rhs.into_shared().view()).into_shared().into()
            }
            (lhs, rhs) => reference::matmul_bf16::<Self>(lhs, rhs),
        }
    }

    fn fused_cross_entropy(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
        with_grad: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        let Some(indices) = cross_entropy::indices(&targets) else {
            return reference::cross_entropy::<Self>(logits, targets, with_grad);
        };
        kernel!((logits) => {
            let (loss, grad) = cross_entropy::cross_entropy(logits, &indices, with_grad);
            (loss.into(), grad.map(Into::into))
        }, else reference::cross_entropy::<Self>(logits, targets, with_grad))
    }

    fn fused_cross_entropy_backward(dlogits: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        kernel!((dlogits, grad) => cross_entropy::scale_by(dlogits, &grad).into(),
            else reference::cross_entropy_backward::<Self>(dlogits, grad))
    }

    fn adamw_update(
        w: FloatTensor<Self>,
        g: FloatTensor<Self>,
        m: Option<FloatTensor<Self>>,
        v: Option<FloatTensor<Self>>,
        step: &AdamWStep,
    ) -> [FloatTensor<Self>; 3] {
        let is_f32 = |t: &NdArrayTensor| matches!(t, NdArrayTensor::F32(_));
        if !(is_f32(&w) && is_f32(&g) && m.as_ref().is_none_or(is_f32) && v.as_ref().is_none_or(is_f32)) {
            return reference::adamw_update::<Self>(w, g, m, v, step);
        }
        // Row-major float32 buffers (checked above to be float32).
        let array = |t: NdArrayTensor| -> SharedArray<f32> {
            let NdArrayTensor::F32(storage) = t else { unreachable!("checked to be float32") };
            let a = storage.into_shared();
            if a.is_standard_layout() {
                a
            } else {
                a.as_standard_layout().into_owned().into_shared()
            }
        };
        let (w, g) = (array(w), array(g));
        let zeros = || SharedArray::<f32>::zeros(w.raw_dim());
        let (mut m, mut v) = (m.map_or_else(zeros, array), v.map_or_else(zeros, array));
        let mut out = zeros();
        match (w.as_slice(), g.as_slice(), m.as_slice_mut(), v.as_slice_mut(), out.as_slice_mut()) {
            (Some(w), Some(g), Some(m), Some(v), Some(out)) => adamw::adamw_update(step, w, g, m, v, out),
            _ => unreachable!("standard-layout arrays are contiguous"),
        }
        [out.into(), m.into(), v.into()]
    }
}

/// `out = lhs rhs` through the `gemm` crate (AVX-512 kernels where the CPU has them), on the
/// calling thread: attention's (batch, head) pairs are the parallel dimension.
fn gemm_into<E: FloatNdArrayElement>(
    lhs: &ndarray::ArrayView2<E>,
    rhs: &ndarray::ArrayView2<E>,
    out: &mut ndarray::ArrayViewMut2<E>,
) {
    gemm_with(lhs, rhs, out, false);
}

/// `out += lhs rhs`, as [`gemm_into`].
fn gemm_add_into<E: FloatNdArrayElement>(
    lhs: &ndarray::ArrayView2<E>,
    rhs: &ndarray::ArrayView2<E>,
    out: &mut ndarray::ArrayViewMut2<E>,
) {
    gemm_with(lhs, rhs, out, true);
}

/// `out = lhs rhs`, or `out += lhs rhs` when `accumulate`.
fn gemm_with<E: FloatNdArrayElement>(
    lhs: &ndarray::ArrayView2<E>,
    rhs: &ndarray::ArrayView2<E>,
    out: &mut ndarray::ArrayViewMut2<E>,
    accumulate: bool,
) {
    let (m, k) = lhs.dim();
    let n = rhs.dim().1;
    assert!(rhs.dim().0 == k && out.dim() == (m, n), "gemm_into: incompatible shapes");
    let (ls, rs, os) = (lhs.strides(), rhs.strides(), out.strides());
    let (os0, os1) = (os[0], os[1]);
    // Safety: the three views are valid for their shapes and strides and `out` does not alias
    // the inputs. gemm computes `out = alpha * out + beta * lhs * rhs`, reading `out` only when
    // `read_dst` (`accumulate`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            os1,
            os0,
            accumulate,
            lhs.as_ptr(),
            ls[1],
            ls[0],
            rhs.as_ptr(),
            rs[1],
            rs[0],
            E::one(),
            E::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
