//! Global gradient-norm clipping: one L2 norm over every gradient of the model.
//!
//! Burn's `GradientClipping::Norm` clips each tensor by its own norm, which is not this.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

/// Computes `norm = sqrt(sum over every gradient g of sum(g^2))` and, when `max_norm > 0`
/// and `norm > max_norm`, multiplies every gradient by `max_norm / norm`.
///
/// Returns the clipped gradients and the norm **before** clipping, as a `[1]` tensor: the
/// scale is computed on the device, so no host synchronisation happens here.
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f64,
) -> (GradientsParams, Tensor<B::InnerBackend, 1>) {
    let mut sum_sq = SumSquares::<B> { grads: &grads, acc: None };
    module.visit(&mut sum_sq);
    let norm = match sum_sq.acc {
        Some(acc) => acc.sqrt(),
        None => return (grads, Tensor::zeros([1], &Default::default())),
    };
    if max_norm > 0.0 {
        // max_norm / max(norm, max_norm): exactly 1 when norm <= max_norm.
        let scale = norm.clone().clamp_min(max_norm).recip().mul_scalar(max_norm);
        module.visit(&mut Scale::<B> { grads: &mut grads, scale });
    }
    (grads, norm)
}

struct SumSquares<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    acc: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SumSquares<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let s = g.square().sum();
            self.acc = Some(match self.acc.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
}

struct Scale<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    scale: Tensor<B::InnerBackend, 1>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            let scale = self.scale.clone().reshape([1; D]);
            self.grads.register::<B::InnerBackend, D>(param.id, g * scale);
        }
    }
}
