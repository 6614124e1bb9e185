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

/// docs/numeric-reference.md, "Gradient clipping".
#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, NdArray};
    use burn::module::Param;
    use burn::optim::GradientsParams;
    use burn::tensor::Tensor;

    use super::clip_global_norm;
    use crate::test_util::{assert_close, values, TwoParams};

    type NB = NdArray<f32>;
    type AB = Autodiff<NB>;

    /// Gradients exactly `g1 = [3, 0]` and `g2 = [[0, 4]]`: the loss is linear in the params.
    fn reference_grads(scale: f32) -> (TwoParams<AB>, GradientsParams) {
        let dev = Default::default();
        let module = TwoParams::<AB> {
            g1: Param::from_tensor(Tensor::from_floats([1.0, 2.0], &dev)),
            g2: Param::from_tensor(Tensor::from_floats([[-1.0, 0.5]], &dev)),
        };
        let c1 = Tensor::<AB, 1>::from_floats([3.0 * scale, 0.0], &dev);
        let c2 = Tensor::<AB, 2>::from_floats([[0.0, 4.0 * scale]], &dev);
        let loss = (module.g1.val() * c1).sum() + (module.g2.val() * c2).sum();
        let grads = GradientsParams::from_grads::<AB, _>(loss.backward(), &module);
        (module, grads)
    }

    #[test]
    fn global_norm_clipping_reference_example() {
        let (module, grads) = reference_grads(1.0);
        let (grads, norm) = clip_global_norm::<AB, _>(&module, grads, 1.0);
        assert_close("norm before clipping", &values(norm), &[5.0], 1e-6);
        let g1 = grads.get::<NB, 1>(module.g1.id).expect("g1 grad");
        let g2 = grads.get::<NB, 2>(module.g2.id).expect("g2 grad");
        assert_close("clipped g1", &values(g1.clone()), &[0.6, 0.0], 1e-6);
        assert_close("clipped g2", &values(g2.clone()), &[0.0, 0.8], 1e-6);
        let after = (values(g1.square().sum())[0] + values(g2.square().sum())[0]).sqrt();
        assert_close("norm after clipping", &[after], &[1.0], 1e-6);
    }

    #[test]
    fn clipping_leaves_small_gradients_alone() {
        // Norm 0.5 (g = [0.3, 0], [[0, 0.4]]) is below max_norm 1: nothing changes.
        let (module, grads) = reference_grads(0.1);
        let (grads, norm) = clip_global_norm::<AB, _>(&module, grads, 1.0);
        assert_close("norm", &values(norm), &[0.5], 1e-6);
        assert_close("g1", &values(grads.get::<NB, 1>(module.g1.id).expect("g1")), &[0.3, 0.0], 1e-7);
        assert_close("g2", &values(grads.get::<NB, 2>(module.g2.id).expect("g2")), &[0.0, 0.4], 1e-7);
        // max_norm 0 disables clipping but still reports the norm.
        let (module, grads) = reference_grads(1.0);
        let (grads, norm) = clip_global_norm::<AB, _>(&module, grads, 0.0);
        assert_close("norm", &values(norm), &[5.0], 1e-6);
        assert_close("g1", &values(grads.get::<NB, 1>(module.g1.id).expect("g1")), &[3.0, 0.0], 1e-7);
    }
}
