//! The position-wise feed-forward network of a block.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burngpt_ops::FusedOps;
use serde::{Deserialize, Serialize};

use super::gelu::{gelu, GeluKind};
use super::init::{linear, INIT_STD};
use super::precision::{linear_3d, Precision};

/// The MLP's nonlinearity: `model.mlp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MlpKind {
    /// `c_proj(gelu(c_fc(x)))` (GPT-2).
    #[default]
    Gelu,
    /// `c_proj(silu(gate(x)) * up(x))` (Llama).
    Swiglu,
    /// `c_proj(relu(c_fc(x))^2)` (Primer; modded-nanogpt, nanochat).
    Relu2,
}

/// Configuration of [`Mlp`].
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Hidden width (Llama's `intermediate_size`).
    pub d_ff: usize,
    /// The nonlinearity (`model.mlp`).
    pub kind: MlpKind,
    /// Biases in both Linear layers.
    pub bias: bool,
    /// Dropout on the output.
    pub dropout: f64,
    /// Exact or tanh GELU (for `kind = gelu`).
    pub gelu: GeluKind,
    /// Standard deviation of the residual projection `c_proj` (GPT-2: 0.02 / sqrt(2 n_layers);
    /// 0: zeros).
    pub proj_std: f64,
}

/// `c_fc` (d_model -> d_ff, or for SwiGLU 2 d_ff: gate then up), the nonlinearity, `c_proj`
/// (d_ff -> d_model), dropout.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// Expansion, `[d_model, d_ff]`; SwiGLU: `[d_model, 2 d_ff]`, the first `d_ff` output columns
    /// the gate (Llama's `gate_proj`), the last `d_ff` the up projection (`up_proj`).
    pub c_fc: Linear<B>,
    /// Residual projection, `[d_ff, d_model]` (Llama's `down_proj`).
    pub c_proj: Linear<B>,
    kind: MlpKind,
    gelu: GeluKind,
    drop: Dropout,
    /// What the products read (not saved: [`crate::model::Gpt::with_precision`]).
    pub(super) precision: Precision,
}

impl MlpConfig {
    /// Builds the module with GPT-2 initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Mlp<B> {
        let d_fc = if self.kind == MlpKind::Swiglu { 2 * self.d_ff } else { self.d_ff };
        Mlp {
            c_fc: linear(self.d_model, d_fc, self.bias, INIT_STD, device),
            c_proj: linear(self.d_ff, self.d_model, self.bias, self.proj_std, device),
            kind: self.kind,
            gelu: self.gelu,
            drop: DropoutConfig::new(self.dropout).init(),
            precision: Precision::Fp32,
        }
    }
}

impl<B: FusedOps> Mlp<B> {
    /// # Shapes
    /// `x: [batch, seq_len, d_model]` -> `[batch, seq_len, d_model]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let h = linear_3d(&self.c_fc, x, self.precision); // [batch, seq_len, d_ff] (SwiGLU: 2 d_ff)
        let h = match self.kind {
            MlpKind::Gelu => gelu(h, self.gelu),
            MlpKind::Relu2 => {
                let r = relu(h);
                r.clone() * r
            }
            MlpKind::Swiglu => {
                let d_ff = h.dims()[2] / 2;
                burngpt_ops::silu(h.clone().narrow(2, 0, d_ff)) * h.narrow(2, d_ff, d_ff)
            }
        }; // [batch, seq_len, d_ff]
        self.drop.forward(linear_3d(&self.c_proj, h, self.precision))
    }
}
