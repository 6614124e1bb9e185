//! LayerNorm over the last dimension through the fused operation (one autodiff node), with Burn's
//! `LayerNorm` parameter names (`gamma`, `beta`).

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burngpt_ops::FusedOps;

/// `(x - mean) / sqrt(var + epsilon) * gamma + beta` over the last dimension.
#[derive(Module, Debug)]
pub struct LayerNorm<B: Backend> {
    /// Scale, `[d_model]`.
    pub gamma: Param<Tensor<B, 1>>,
    /// Shift, `[d_model]` (none in nanoGPT's `bias=False` models).
    pub beta: Option<Param<Tensor<B, 1>>>,
    epsilon: f64,
}

impl<B: Backend> LayerNorm<B> {
    /// Weight 1 and bias 0, as GPT-2 initialises them.
    pub fn new(d_model: usize, epsilon: f64, bias: bool, device: &B::Device) -> Self {
        Self {
            gamma: Initializer::Ones.init([d_model], device),
            beta: bias.then(|| Initializer::Zeros.init([d_model], device)),
            epsilon,
        }
    }
}

impl<B: FusedOps> LayerNorm<B> {
    /// # Shapes
    /// `x: [.., d_model]` -> `[.., d_model]`
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        burngpt_ops::layer_norm(x, self.gamma.val(), self.beta.as_ref().map(Param::val), self.epsilon)
    }
}
