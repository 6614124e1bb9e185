//! The model's normalisation (`model.norm`): LayerNorm or RMSNorm over the last dimension, each
//! one fused autodiff node (burngpt-ops), with Burn's `LayerNorm` parameter names (`gamma`,
//! `beta`), so that GPT-2 checkpoints load as they are.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burngpt_ops::FusedOps;
use serde::{Deserialize, Serialize};

/// `model.norm`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    /// LayerNorm: `(x - mean) / sqrt(var + eps) * gamma + beta` (GPT-2).
    #[default]
    Layer,
    /// RMSNorm: `x / sqrt(mean(x^2) + eps) * gamma` (Llama).
    Rms,
}

/// Configuration of [`Norm`].
#[derive(Config, Debug)]
pub struct NormConfig {
    /// Width of the normalised dimension.
    pub d_model: usize,
    /// LayerNorm or RMSNorm.
    pub kind: NormKind,
    /// Added to the variance (LayerNorm) or the mean square (RMSNorm).
    pub epsilon: f64,
    /// A learned scale `gamma` (`model.norm_affine`); without it, no parameters at all.
    pub affine: bool,
    /// A learned shift `beta` (`model.layer_norm_bias`): LayerNorm with `affine` only.
    pub bias: bool,
}

/// A LayerNorm or an RMSNorm over the last dimension.
#[derive(Module, Debug)]
pub struct Norm<B: Backend> {
    /// Scale, `[d_model]` (absent when parameter-free).
    pub gamma: Option<Param<Tensor<B, 1>>>,
    /// Shift, `[d_model]` (LayerNorm with a bias only).
    pub beta: Option<Param<Tensor<B, 1>>>,
    kind: NormKind,
    epsilon: f64,
    d_model: usize,
}

impl NormConfig {
    /// Weight 1 and bias 0, as GPT-2 and Llama initialise them.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Norm<B> {
        let has_beta = self.affine && self.bias && self.kind == NormKind::Layer;
        Norm {
            gamma: self.affine.then(|| Initializer::Ones.init([self.d_model], device)),
            beta: has_beta.then(|| Initializer::Zeros.init([self.d_model], device)),
            kind: self.kind,
            epsilon: self.epsilon,
            d_model: self.d_model,
        }
    }
}

impl<B: FusedOps> Norm<B> {
    /// # Shapes
    /// `x: [.., d_model]` -> `[.., d_model]`
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let gamma = self.gamma.as_ref().map(Param::val);
        match self.kind {
            NormKind::Layer => {
                // The fused layer norm takes a scale: 1 for the parameter-free norm (a constant).
                let gamma = gamma.unwrap_or_else(|| Tensor::ones([self.d_model], &x.device()));
                burngpt_ops::layer_norm(x, gamma, self.beta.as_ref().map(Param::val), self.epsilon)
            }
            NormKind::Rms => burngpt_ops::rms_norm(x, gamma, self.epsilon),
        }
    }
}
