//! [`FusedOps`] for `Autodiff<B>`: each operation is one node of the autodiff graph.
//!
//! The forward pass is the inner backend's method; the node keeps what the backward needs (the
//! output for softmax and log-softmax, the input for GELU, SiLU, layer norm and RMSNorm, the inputs and the
//! softmax rows' statistics for attention, the logits' gradient for cross-entropy) and its
//! backward calls the inner backend's `*_backward` method. Burn's own ops would record one node
//! per primitive op (softmax: max, subtract, exp, sum, divide) and walk each of them backward. The `*_backward` methods and `adamw_update` keep their
//! defaults here: they run on inner-backend tensors.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, unary, Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::ops::{FloatTensor, IntTensor};

use crate::FusedOps;

/// Registers each tracked parent's gradient, in order; `None` (a parameter the op did not have,
/// such as layer norm's beta) is skipped.
macro_rules! register_parent_grads {
    ($ops:expr, $grads:expr, $parent_grads:expr) => {
        for (node, grad) in $ops.parents.into_iter().zip($parent_grads) {
            if let (Some(node), Some(grad)) = (node, grad) {
                $grads.register::<B>(node.id, grad);
            }
        }
    };
}

#[derive(Debug)]
struct Softmax;

impl<B: FusedOps> Backward<B, 1> for Softmax {
    type State = (FloatTensor<B>, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (y, dim) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |g| B::fused_softmax_backward(y, g, dim));
    }
}

#[derive(Debug)]
struct LogSoftmax;

impl<B: FusedOps> Backward<B, 1> for LogSoftmax {
    type State = (FloatTensor<B>, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (y, dim) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |g| B::fused_log_softmax_backward(y, g, dim));
    }
}

#[derive(Debug)]
struct Gelu;

impl<B: FusedOps> Backward<B, 1> for Gelu {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let x = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |g| B::fused_gelu_backward(x, g));
    }
}

#[derive(Debug)]
struct Silu;

impl<B: FusedOps> Backward<B, 1> for Silu {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let x = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |g| B::fused_silu_backward(x, g));
    }
}

#[derive(Debug)]
struct Softcap;

impl<B: FusedOps> Backward<B, 1> for Softcap {
    type State = (FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (y, cap) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |g| B::fused_softcap_backward(y, g, cap));
    }
}

/// Layer norm's state: the input, gamma, epsilon.
type LayerNormState<B> = (FloatTensor<B>, FloatTensor<B>, f64);

#[derive(Debug)]
struct LayerNormWithBeta;

impl<B: FusedOps> Backward<B, 3> for LayerNormWithBeta {
    type State = LayerNormState<B>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (x, gamma, epsilon) = ops.state;
        let (dx, dgamma, dbeta) = B::fused_layer_norm_backward(x, gamma, true, epsilon, grad);
        register_parent_grads!(ops, grads, [Some(dx), Some(dgamma), dbeta]);
    }
}

#[derive(Debug)]
struct LayerNormNoBeta;

impl<B: FusedOps> Backward<B, 2> for LayerNormNoBeta {
    type State = LayerNormState<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (x, gamma, epsilon) = ops.state;
        let (dx, dgamma, _) = B::fused_layer_norm_backward(x, gamma, false, epsilon, grad);
        register_parent_grads!(ops, grads, [Some(dx), Some(dgamma)]);
    }
}

/// RMSNorm's state: the input, gamma (when affine), epsilon.
type RmsNormState<B> = (FloatTensor<B>, Option<FloatTensor<B>>, f64);

#[derive(Debug)]
struct RmsNormWithGamma;

impl<B: FusedOps> Backward<B, 2> for RmsNormWithGamma {
    type State = RmsNormState<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (x, gamma, epsilon) = ops.state;
        let (dx, dgamma) = B::fused_rms_norm_backward(x, gamma, epsilon, grad);
        register_parent_grads!(ops, grads, [Some(dx), dgamma]);
    }
}

#[derive(Debug)]
struct RmsNormNoGamma;

impl<B: FusedOps> Backward<B, 1> for RmsNormNoGamma {
    type State = RmsNormState<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, _, epsilon) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |g| B::fused_rms_norm_backward(x, None, epsilon, g).0);
    }
}

#[derive(Debug)]
struct CausalAttention;

impl<B: FusedOps> Backward<B, 3> for CausalAttention {
    /// Query, key, value and the softmax rows' statistics (not the probabilities); whether the
    /// products read bfloat16.
    type State = ([FloatTensor<B>; 4], bool);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let ([q, k, v, stats], bf16) = ops.state;
        let (dq, dk, dv) = B::fused_causal_attention_backward(q, k, v, stats, grad, bf16);
        register_parent_grads!(ops, grads, [Some(dq), Some(dk), Some(dv)]);
    }
}

#[derive(Debug)]
struct MatmulBf16;

impl<B: FusedOps> Backward<B, 2> for MatmulBf16 {
    /// The left operand when the right one needs a gradient, and the right one when the left does.
    type State = (Option<FloatTensor<B>>, Option<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (lhs, rhs) = ops.state;
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |g| B::fused_matmul_bf16(g, B::float_transpose(rhs.expect("kept for the left gradient"))),
            |g| B::fused_matmul_bf16(B::float_transpose(lhs.expect("kept for the right gradient")), g),
        );
    }
}

#[derive(Debug)]
struct CrossEntropy;

impl<B: FusedOps> Backward<B, 1> for CrossEntropy {
    /// The gradient of the mean loss with respect to the logits, computed in the forward pass.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dlogits = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |g| B::fused_cross_entropy_backward(dlogits, g));
    }
}

impl<B: FusedOps, C: CheckpointStrategy> FusedOps for Autodiff<B, C> {
    const HOST_MEMORY: bool = B::HOST_MEMORY;

    fn fused_softmax(x: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        match Softmax.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::fused_softmax(x.primitive, dim);
                prep.finish((y.clone(), dim), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_softmax(x.primitive, dim)),
        }
    }

    fn fused_log_softmax(x: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        match LogSoftmax.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::fused_log_softmax(x.primitive, dim);
                prep.finish((y.clone(), dim), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_log_softmax(x.primitive, dim)),
        }
    }

    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match Gelu.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::fused_gelu(x.primitive.clone());
                prep.finish(x.primitive, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_gelu(x.primitive)),
        }
    }

    fn fused_silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match Silu.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::fused_silu(x.primitive.clone());
                prep.finish(x.primitive, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_silu(x.primitive)),
        }
    }

    fn fused_softcap(x: FloatTensor<Self>, cap: f64) -> FloatTensor<Self> {
        match Softcap.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::fused_softcap(x.primitive, cap);
                prep.finish((y.clone(), cap), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_softcap(x.primitive, cap)),
        }
    }

    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: Option<FloatTensor<Self>>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let state = (x.primitive.clone(), gamma.primitive.clone(), epsilon);
        let forward = |beta: Option<FloatTensor<B>>| B::fused_layer_norm(x.primitive, gamma.primitive, beta, epsilon);
        match beta {
            Some(beta) => {
                let nodes = [x.node.clone(), gamma.node.clone(), beta.node.clone()];
                match LayerNormWithBeta.prepare::<C>(nodes).compute_bound().stateful() {
                    OpsKind::Tracked(prep) => prep.finish(state, forward(Some(beta.primitive))),
                    OpsKind::UnTracked(prep) => prep.finish(forward(Some(beta.primitive))),
                }
            }
            None => match LayerNormNoBeta.prepare::<C>([x.node.clone(), gamma.node.clone()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish(state, forward(None)),
                OpsKind::UnTracked(prep) => prep.finish(forward(None)),
            },
        }
    }

    fn fused_rms_norm(x: FloatTensor<Self>, gamma: Option<FloatTensor<Self>>, epsilon: f64) -> FloatTensor<Self> {
        match gamma {
            Some(gamma) => {
                let state = (x.primitive.clone(), Some(gamma.primitive.clone()), epsilon);
                let forward = B::fused_rms_norm(x.primitive, Some(gamma.primitive), epsilon);
                match RmsNormWithGamma.prepare::<C>([x.node.clone(), gamma.node.clone()]).compute_bound().stateful() {
                    OpsKind::Tracked(prep) => prep.finish(state, forward),
                    OpsKind::UnTracked(prep) => prep.finish(forward),
                }
            }
            None => match RmsNormNoGamma.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let y = B::fused_rms_norm(x.primitive.clone(), None, epsilon);
                    prep.finish((x.primitive, None, epsilon), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::fused_rms_norm(x.primitive, None, epsilon)),
            },
        }
    }

    fn fused_causal_attention(q: FloatTensor<Self>, k: FloatTensor<Self>, v: FloatTensor<Self>, bf16: bool) -> FloatTensor<Self> {
        let nodes = [q.node.clone(), k.node.clone(), v.node.clone()];
        match CausalAttention.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (q, k, v) = (q.primitive, k.primitive, v.primitive);
                let (out, stats) = B::fused_causal_attention_with_stats(q.clone(), k.clone(), v.clone(), bf16);
                prep.finish(([q, k, v, stats], bf16), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_causal_attention(q.primitive, k.primitive, v.primitive, bf16)),
        }
    }

    fn fused_matmul_bf16(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
        match MatmulBf16.prepare::<C>([lhs.node.clone(), rhs.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let state = (rhs_tracked.then(|| lhs.primitive.clone()), lhs_tracked.then(|| rhs.primitive.clone()));
                prep.finish(state, B::fused_matmul_bf16(lhs.primitive, rhs.primitive))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_matmul_bf16(lhs.primitive, rhs.primitive)),
        }
    }

    fn fused_cross_entropy_loss(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        match CrossEntropy.prepare::<C>([logits.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => match B::fused_cross_entropy(logits.primitive, targets, true) {
                (loss, Some(dlogits)) => prep.finish(dlogits, loss),
                (_, None) => unreachable!("fused_cross_entropy returns the gradient it is asked for"),
            },
            OpsKind::UnTracked(prep) => prep.finish(B::fused_cross_entropy(logits.primitive, targets, false).0),
        }
    }
}
