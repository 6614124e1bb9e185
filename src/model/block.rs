//! A pre-norm transformer block.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burngpt_ops::FusedOps;

use super::attention::{CausalSelfAttention, CausalSelfAttentionConfig, LayerCache};
use super::mlp::{Mlp, MlpConfig};
use super::norm::{Norm, NormConfig};

/// Configuration of [`Block`].
#[derive(Config, Debug)]
pub struct BlockConfig {
    /// The attention sub-layer.
    pub attn: CausalSelfAttentionConfig,
    /// The MLP sub-layer.
    pub mlp: MlpConfig,
    /// Both norms (LayerNorm or RMSNorm).
    pub norm: NormConfig,
}

/// `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    /// Norm before attention.
    pub ln_1: Norm<B>,
    /// Causal self-attention.
    pub attn: CausalSelfAttention<B>,
    /// Norm before the MLP.
    pub ln_2: Norm<B>,
    /// Feed-forward network.
    pub mlp: Mlp<B>,
}

impl BlockConfig {
    /// Builds the block.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Block<B> {
        Block {
            ln_1: self.norm.init(device),
            attn: self.attn.init(device),
            ln_2: self.norm.init(device),
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
    pub fn forward_cached(&self, x: Tensor<B, 3>, cache: &mut LayerCache<B>) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward_cached(self.ln_1.forward(x), cache);
        x.clone() + self.mlp.forward(self.ln_2.forward(x))
    }
}
