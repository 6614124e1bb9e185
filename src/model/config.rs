//! [`GptConfig`]: the architecture of a [`Gpt`], and the `[model]` section of a run's TOML.

use std::path::PathBuf;

use anyhow::{bail, Result};
use burn::nn::{DropoutConfig, EmbeddingConfig, Initializer};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use super::attention::CausalSelfAttentionConfig;
use super::block::BlockConfig;
use super::gelu::GeluKind;
use super::gpt::Gpt;
use super::init::{linear, INIT_STD};
use super::mlp::{MlpConfig, MlpKind};
use super::norm::{NormConfig, NormKind};
use super::positions::{sinusoidal_table, PositionKind};
use super::rope::RopeConfig;

/// The architecture of a [`Gpt`]; in a run's TOML, the `[model]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptConfig {
    /// Tokens in the vocabulary. Usually left out of a TOML config: the tokenizer's
    /// vocabulary is used ([`GptConfig::with_vocab_size`]); a value written must equal it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_size: Option<usize>,
    /// Longest context (tokens).
    pub block_size: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of transformer blocks.
    pub n_layers: usize,
    /// Attention heads per block; must divide `d_model`.
    pub n_heads: usize,
    /// Hidden width of the MLP (GPT-2 uses `4 * d_model`).
    pub d_ff: usize,
    /// Dropout probability on attention weights and residual branches.
    pub dropout: f64,
    /// Biases in every Linear layer.
    pub bias: bool,
    /// The LM head reuses the token embedding `wte`.
    pub tie_embeddings: bool,
    /// `"learned"` (GPT-2), `"sinusoidal"` (parameter-free, added to the embeddings) or `"rope"`
    /// (rotary, applied to queries and keys) positions.
    pub positions: PositionKind,
    /// `"exact"` (erf) or `"tanh"` (GPT-2's approximation) GELU.
    pub gelu: GeluKind,
    /// Epsilon of every LayerNorm.
    pub layer_norm_eps: f64,
    /// A learned bias (beta) in every LayerNorm (GPT-2: yes; nanoGPT's `bias=False`: no).
    #[serde(default = "yes")]
    pub layer_norm_bias: bool,
    /// `"layer"` (GPT-2's LayerNorm, the default) or `"rms"` (RMSNorm) for every norm of the model;
    /// both use `layer_norm_eps`.
    #[serde(default)]
    pub norm: NormKind,
    /// Norms have a learned scale (`gamma`; and, for `"layer"`, `beta` when `layer_norm_bias`);
    /// `false`: parameter-free norms (nanochat). Default true.
    #[serde(default = "yes")]
    pub norm_affine: bool,
    /// Base of the rotary frequencies when `positions = "rope"` (default 10000).
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// The MLP: `"gelu"` (GPT-2, the default), `"swiglu"` (Llama) or `"relu2"` (squared ReLU).
    #[serde(default)]
    pub mlp: MlpKind,
    /// Key/value heads (grouped-query attention); divides `n_heads`; default `n_heads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_kv_heads: Option<usize>,
    /// RMS-normalise queries and keys per head (parameter-free) before attention.
    #[serde(default)]
    pub qk_norm: bool,
    /// `cap * tanh(logits / cap)` on the output logits; 0 (the default) is off.
    #[serde(default)]
    pub logit_softcap: f64,
    /// Residual output projections (`attn.c_proj`, `mlp.c_proj`) start at zero (modded-nanogpt)
    /// instead of GPT-2's scaled normal.
    #[serde(default)]
    pub zero_init_proj: bool,
    /// A Hugging Face GPT-2 or Llama directory to start from (finetuning): its `config.json` fills the
    /// architecture keys, its `model.safetensors` the initial weights, and its tokenizer becomes
    /// the run's (unless `data.tokenizer_file` is set). Not part of the architecture itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

fn default_rope_theta() -> f64 {
    10000.0
}

impl GptConfig {
    /// Builds the model with GPT-2 initialisation: Normal(0, 0.02) weights and embeddings,
    /// Normal(0, 0.02 / sqrt(2 n_layers)) for the residual projections (zeros with
    /// `zero_init_proj`), zero biases, norms at weight 1 and bias 0.
    ///
    /// Parameters are lazy in Burn: call `B::seed` before and `num_params()` right after
    /// for a reproducible initialisation (see [`crate::train::init_model`]).
    ///
    /// # Panics
    /// If `vocab_size` is not set (it comes from the tokenizer: [`GptConfig::with_vocab_size`]).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Gpt<B> {
        let vocab_size = self.vocab_size.expect("GptConfig::vocab_size is set from the tokenizer before init");
        let proj_std = if self.zero_init_proj { 0.0 } else { INIT_STD / ((2 * self.n_layers) as f64).sqrt() };
        let embedding = |rows: usize| {
            EmbeddingConfig::new(rows, self.d_model)
                .with_initializer(Initializer::Normal { mean: 0.0, std: INIT_STD })
                .init(device)
        };
        let rope = (self.positions == PositionKind::Rope)
            .then(|| RopeConfig::new(self.block_size, self.d_model / self.n_heads, self.rope_theta));
        let norm = NormConfig::new(self.d_model, self.norm, self.layer_norm_eps, self.norm_affine, self.layer_norm_bias);
        let attn = CausalSelfAttentionConfig::new(
            self.d_model,
            self.n_heads,
            self.kv_heads(),
            self.bias,
            self.dropout,
            proj_std,
            self.qk_norm,
            self.layer_norm_eps,
        )
        .with_rope(rope);
        let mlp = MlpConfig::new(self.d_model, self.d_ff, self.mlp, self.bias, self.dropout, self.gelu, proj_std);
        let block = BlockConfig::new(attn, mlp, norm.clone());
        Gpt {
            wte: embedding(vocab_size),
            wpe: (self.positions == PositionKind::Learned).then(|| embedding(self.block_size)),
            sinusoid: (self.positions == PositionKind::Sinusoidal)
                .then(|| sinusoidal_table(self.block_size, self.d_model, device)),
            h: (0..self.n_layers).map(|_| block.init(device)).collect(),
            ln_f: norm.init(device),
            lm_head: (!self.tie_embeddings)
                .then(|| linear(self.d_model, vocab_size, false, INIT_STD, device)),
            drop: DropoutConfig::new(self.dropout).init(),
            block_size: self.block_size,
            logit_softcap: self.logit_softcap,
            precision: super::Precision::Fp32,
        }
    }

    /// This architecture for a tokenizer of `vocab_size` ids; an error, naming the key, when
    /// the config wrote a different `model.vocab_size`.
    pub fn with_vocab_size(&self, vocab_size: usize) -> Result<Self> {
        match self.vocab_size {
            Some(v) if v != vocab_size => {
                bail!("model.vocab_size = {v} but the tokenizer has {vocab_size} tokens: remove model.vocab_size")
            }
            _ => Ok(Self { vocab_size: Some(vocab_size), ..self.clone() }),
        }
    }

    /// Key/value heads: `n_kv_heads`, or `n_heads` when not set.
    pub fn kv_heads(&self) -> usize {
        self.n_kv_heads.unwrap_or(self.n_heads)
    }

    /// Rejects impossible values; every message names the `model.` key.
    pub fn validate(&self) -> Result<()> {
        for (key, value) in [
            ("block_size", self.block_size),
            ("d_model", self.d_model),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
            ("vocab_size", self.vocab_size.unwrap_or(1)),
        ] {
            if value == 0 {
                bail!("model.{key} must be > 0");
            }
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            bail!("model.d_model = {} is not divisible by model.n_heads = {}", self.d_model, self.n_heads);
        }
        if !(0.0..1.0).contains(&self.dropout) {
            bail!("model.dropout = {} must be in [0, 1)", self.dropout);
        }
        let n_kv_heads = self.kv_heads();
        if n_kv_heads == 0 || !self.n_heads.is_multiple_of(n_kv_heads) {
            bail!("model.n_kv_heads = {n_kv_heads} must be > 0 and divide model.n_heads = {}", self.n_heads);
        }
        if self.positions == PositionKind::Rope {
            let head_dim = self.d_model / self.n_heads;
            if !head_dim.is_multiple_of(2) {
                bail!("model.positions = \"rope\" needs an even head size, but model.d_model / model.n_heads = {head_dim}");
            }
            if !(self.rope_theta > 0.0 && self.rope_theta.is_finite()) {
                bail!("model.rope_theta = {} must be a finite number > 0", self.rope_theta);
            }
        }
        if !(self.logit_softcap >= 0.0 && self.logit_softcap.is_finite()) {
            bail!("model.logit_softcap = {} must be a finite number >= 0 (0 turns it off)", self.logit_softcap);
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps.is_finite()) {
            bail!("model.layer_norm_eps = {} must be a finite number > 0", self.layer_norm_eps);
        }
        Ok(())
    }
}

/// A `[model]` section of the spec's shape (learned positions) for the unit tests here and in
/// `param_count`.
#[cfg(test)]
pub(super) const TEST_SECTION: &str = r#"
    block_size = 64
    d_model = 128
    n_layers = 4
    n_heads = 4
    d_ff = 512
    dropout = 0.0
    bias = false
    tie_embeddings = true
    positions = "learned"
    gelu = "exact"
    layer_norm_eps = 1e-5
    "#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_section_parses_with_the_vocabulary_left_to_the_tokenizer() {
        let config: GptConfig = toml::from_str(TEST_SECTION).expect("a [model] section");
        assert_eq!((config.vocab_size, config.layer_norm_bias, config.init_from.as_ref()), (None, true, None));
        assert_eq!(config.with_vocab_size(65).expect("no vocab_size written").vocab_size, Some(65));
        config.validate().expect("valid");
    }

    #[test]
    fn a_written_vocab_size_must_match_the_tokenizer_and_unknown_keys_are_refused() {
        let written: GptConfig = toml::from_str(&format!("vocab_size = 60\n{TEST_SECTION}")).expect("parses");
        let err = written.with_vocab_size(65).expect_err("60 != 65").to_string();
        assert!(err.contains("model.vocab_size = 60") && err.contains("65"), "{err}");
        assert!(toml::from_str::<GptConfig>(&format!("n_embd = 1\n{TEST_SECTION}")).is_err());
        let bad = GptConfig { n_heads: 3, ..written.clone() };
        assert!(bad.validate().expect_err("128 % 3").to_string().contains("model.n_heads = 3"));
        for eps in [f64::INFINITY, f64::NAN, 0.0] {
            let bad = GptConfig { layer_norm_eps: eps, ..written.clone() };
            assert!(bad.validate().expect_err("eps").to_string().contains("model.layer_norm_eps"), "{eps}");
        }
    }
}
