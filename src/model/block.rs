//! A pre-LayerNorm transformer block.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burngpt_ops::FusedOps;

use super::attention::{CausalSelfAttention, CausalSelfAttentionConfig};
use super::layer_norm::LayerNorm;
use super::mlp::{Mlp, MlpConfig};

/// Configuration of [`Block`].
#[derive(Config, Debug)]
pub struct BlockConfig {
    /// The attention sub-layer.
    pub attn: CausalSelfAttentionConfig,
    /// The MLP sub-layer.
    pub mlp: MlpConfig,
    /// Epsilon of both LayerNorms.
    pub layer_norm_eps: f64,
    /// Whether both LayerNorms have a bias.
    pub layer_norm_bias: bool,
}

/// `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    /// LayerNorm before attention.
    pub ln_1: LayerNorm<B>,
    /// Causal self-attention.
    pub attn: CausalSelfAttention<B>,
    /// LayerNorm before the MLP.
    pub ln_2: LayerNorm<B>,
    /// Feed-forward network.
    pub mlp: Mlp<B>,
}

impl BlockConfig {
    /// Builds the block.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Block<B> {
        let d_model = self.mlp.d_model;
        Block {
            ln_1: LayerNorm::new(d_model, self.layer_norm_eps, self.layer_norm_bias, device),
            attn: self.attn.init(device),
            ln_2: LayerNorm::new(d_model, self.layer_norm_eps, self.layer_norm_bias, device),
            mlp: self.mlp.init(device),
        }
    }
}

impl<B: FusedOps> Block<B> {
    /// # Shapes
    /// `x: [batch, seq_len, d_model]` -> `[batch, seq_len, d_model]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward(self.ln_1.forward(x));
        x.clone() + self.mlp.forward(self.ln_2.forward(x))
    }

    /// [`Block::forward`] for new positions after the cached ones (inference).
    ///
    /// # Shapes
    /// `x: [batch, seq_new, d_model]` -> `[batch, seq_new, d_model]`
    pub fn forward_cached(&self, x: Tensor<B, 3>, cache: &mut Option<(Tensor<B, 4>, Tensor<B, 4>)>) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward_cached(self.ln_1.forward(x), cache);
        x.clone() + self.mlp.forward(self.ln_2.forward(x))
    }
}
