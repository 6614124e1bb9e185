//! Hugging Face `config.json` for `GPT2LMHeadModel`, and its mapping to and from [`GptConfig`].

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::dir::{parse_config, quoted};
use crate::model::{GeluKind, GptConfig, MlpKind, NormKind, PositionKind};

/// The keys of a GPT-2 `config.json` that define the architecture (others are ignored on
/// import and written with GPT-2's defaults on export).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HfGpt2Config {
    pub model_type: String,
    pub architectures: Vec<String>,
    pub vocab_size: usize,
    pub n_positions: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// MLP width; `null` means `4 * n_embd`.
    #[serde(default)]
    pub n_inner: Option<usize>,
    pub activation_function: String,
    pub layer_norm_epsilon: f64,
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
    #[serde(default)]
    pub resid_pdrop: f64,
    #[serde(default)]
    pub embd_pdrop: f64,
    #[serde(default)]
    pub attn_pdrop: f64,
    #[serde(default = "default_true")]
    pub scale_attn_weights: bool,
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    #[serde(default)]
    pub reorder_and_upcast_attn: bool,
    #[serde(default = "default_init")]
    pub initializer_range: f64,
}

fn default_true() -> bool {
    true
}

fn default_init() -> f64 {
    0.02
}

impl HfGpt2Config {
    /// Reads a GPT-2 `config.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        parse_config(&text, path)
    }

    /// The model this config describes, or an error naming the key GPT-2 here cannot load.
    pub fn to_gpt_config(&self, source: &Path) -> Result<GptConfig> {
        let src = source.display();
        if self.model_type != "gpt2" {
            bail!("{src}: model_type = {:?}: only \"gpt2\" is supported", self.model_type);
        }
        let gelu = match self.activation_function.as_str() {
            "gelu_new" | "gelu_pytorch_tanh" => GeluKind::Tanh,
            "gelu" => GeluKind::Exact,
            other => bail!(
                "{src}: activation_function = {other:?} is not supported: expected \"gelu_new\" (tanh GELU, GPT-2's), \
                 \"gelu_pytorch_tanh\" or \"gelu\" (exact)"
            ),
        };
        if !self.scale_attn_weights || self.scale_attn_by_inverse_layer_idx || self.reorder_and_upcast_attn {
            bail!(
                "{src}: scale_attn_weights = false, scale_attn_by_inverse_layer_idx = true and reorder_and_upcast_attn = true \
                 are not supported (attention here is softmax(q k^T / sqrt(head_dim)))"
            );
        }
        if self.n_head == 0 || self.n_embd % self.n_head != 0 {
            bail!("{src}: n_embd = {} is not divisible by n_head = {}", self.n_embd, self.n_head);
        }
        Ok(GptConfig {
            vocab_size: Some(self.vocab_size),
            block_size: self.n_positions,
            d_model: self.n_embd,
            n_layers: self.n_layer,
            n_heads: self.n_head,
            d_ff: self.n_inner.unwrap_or(4 * self.n_embd),
            dropout: self.resid_pdrop,
            bias: true,
            tie_embeddings: self.tie_word_embeddings,
            positions: PositionKind::Learned,
            gelu,
            layer_norm_eps: self.layer_norm_epsilon,
            layer_norm_bias: true,
            init_from: None,
            norm: NormKind::Layer,
            norm_affine: true,
            rope_theta: 10000.0,
            mlp: MlpKind::Gelu,
            n_kv_heads: None,
            qk_norm: false,
            logit_softcap: 0.0,
            zero_init_proj: false,
        })
    }

    /// The GPT-2 config of `gpt`, or an error naming the option GPT-2 cannot express.
    pub fn from_gpt_config(gpt: &GptConfig) -> Result<Self> {
        let Some(vocab_size) = gpt.vocab_size else {
            bail!("the model's vocabulary size is not known (model.vocab_size comes from the tokenizer)");
        };
        let refuse = |key: &str, value: String, needed: &str| -> Result<Self> {
            bail!("model.{key} = {value} cannot be exported as GPT2LMHeadModel: GPT-2 has {needed}")
        };
        if !gpt.bias {
            return refuse("bias", "false".into(), "biases in every Linear and LayerNorm (model.bias = true)");
        }
        if !gpt.layer_norm_bias {
            return refuse("layer_norm_bias", "false".into(), "LayerNorm biases (model.layer_norm_bias = true)");
        }
        if gpt.positions != PositionKind::Learned {
            return refuse("positions", quoted(&gpt.positions), "a learned position embedding (model.positions = \"learned\")");
        }
        if gpt.norm != NormKind::Layer {
            return refuse("norm", quoted(&gpt.norm), "LayerNorm (model.norm = \"layer\")");
        }
        if !gpt.norm_affine {
            return refuse("norm_affine", "false".into(), "LayerNorm scales and biases (model.norm_affine = true)");
        }
        if gpt.mlp != MlpKind::Gelu {
            return refuse("mlp", quoted(&gpt.mlp), "a GELU MLP (model.mlp = \"gelu\")");
        }
        if gpt.kv_heads() != gpt.n_heads {
            return refuse("n_kv_heads", gpt.kv_heads().to_string(), "one key/value head per query head (model.n_kv_heads = model.n_heads)");
        }
        if gpt.qk_norm {
            return refuse("qk_norm", "true".into(), "no query/key norm (model.qk_norm = false)");
        }
        if gpt.logit_softcap != 0.0 {
            return refuse("logit_softcap", gpt.logit_softcap.to_string(), "no logit softcap (model.logit_softcap = 0)");
        }
        Ok(Self {
            model_type: "gpt2".to_string(),
            architectures: vec!["GPT2LMHeadModel".to_string()],
            vocab_size,
            n_positions: gpt.block_size,
            n_embd: gpt.d_model,
            n_layer: gpt.n_layers,
            n_head: gpt.n_heads,
            n_inner: Some(gpt.d_ff),
            activation_function: match gpt.gelu {
                GeluKind::Tanh => "gelu_new",
                GeluKind::Exact => "gelu",
            }
            .to_string(),
            layer_norm_epsilon: gpt.layer_norm_eps,
            tie_word_embeddings: gpt.tie_embeddings,
            resid_pdrop: gpt.dropout,
            embd_pdrop: gpt.dropout,
            attn_pdrop: gpt.dropout,
            scale_attn_weights: true,
            scale_attn_by_inverse_layer_idx: false,
            reorder_and_upcast_attn: false,
            initializer_range: 0.02,
        })
    }
}
