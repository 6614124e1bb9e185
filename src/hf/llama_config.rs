//! Hugging Face `config.json` for `LlamaForCausalLM`, and its mapping to and from [`GptConfig`].

use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dir::quoted;
use crate::model::{GeluKind, GptConfig, MlpKind, NormKind, PositionKind};

/// The keys of a Llama `config.json` that define the architecture, plus those written on
/// export for `transformers`; other keys are ignored on import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HfLlamaConfig {
    #[serde(default)]
    pub architectures: Vec<String>,
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    /// The MLP's hidden width (our `d_ff`).
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Grouped-query attention; absent means `num_attention_heads`.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Must be `hidden_size / num_attention_heads` when present.
    #[serde(default)]
    pub head_dim: Option<usize>,
    pub max_position_embeddings: usize,
    #[serde(default = "silu")]
    pub hidden_act: String,
    #[serde(default = "default_rms_eps")]
    pub rms_norm_eps: f64,
    /// transformers 4.x's key; 5.x writes `rope_parameters.rope_theta`.
    #[serde(default)]
    pub rope_theta: Option<f64>,
    /// Scaled RoPE (Llama 3.x, linear, dynamic, YaRN): must be null.
    #[serde(default)]
    pub rope_scaling: Option<Value>,
    /// transformers 5.x: `{"rope_type": "default", "rope_theta": ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_parameters: Option<Value>,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default)]
    pub attention_dropout: f64,
    #[serde(default = "default_init")]
    pub initializer_range: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bos_token_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eos_token_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch_dtype: Option<String>,
}

fn silu() -> String {
    "silu".to_string()
}

/// transformers' `LlamaConfig` default.
fn default_rms_eps() -> f64 {
    1e-6
}

fn default_init() -> f64 {
    0.02
}

/// transformers' default RoPE base.
const DEFAULT_ROPE_THETA: f64 = 10000.0;

impl HfLlamaConfig {
    /// The RoPE base: `rope_parameters.rope_theta`, else `rope_theta`, else 10000; an error
    /// naming the key when the config asks for a RoPE other than the original one.
    fn rope_theta(&self, src: &str) -> Result<f64> {
        if let Some(scaling) = self.rope_scaling.as_ref().filter(|v| !v.is_null()) {
            bail!(
                "{src}: rope_scaling = {scaling} is not supported: only the original RoPE (rope_scaling null or absent); \
                 scaled RoPE (Llama 3.x's \"llama3\", linear, dynamic, YaRN) is not implemented"
            );
        }
        let Some(params) = self.rope_parameters.as_ref().filter(|v| !v.is_null()) else {
            return Ok(self.rope_theta.unwrap_or(DEFAULT_ROPE_THETA));
        };
        let Some(params) = params.as_object() else {
            bail!("{src}: rope_parameters = {params} is not supported: expected {{\"rope_type\": \"default\", \"rope_theta\": ...}}");
        };
        match params.get("rope_type").or_else(|| params.get("type")).and_then(Value::as_str) {
            None | Some("default") => {}
            Some(other) => bail!(
                "{src}: rope_parameters.rope_type = {other:?} is not supported: only \"default\" (the original RoPE; \
                 Llama 3.x's scaled \"llama3\" is not implemented)"
            ),
        }
        match params.get("rope_theta") {
            None => Ok(self.rope_theta.unwrap_or(DEFAULT_ROPE_THETA)),
            Some(theta) => match theta.as_f64() {
                Some(theta) => Ok(theta),
                None => bail!("{src}: rope_parameters.rope_theta = {theta} is not a number"),
            },
        }
    }

    /// The model this config describes, or an error naming the `config.json` key (of `source`)
    /// that this crate's Llama cannot load.
    pub fn to_gpt_config(&self, source: &Path) -> Result<GptConfig> {
        let src = source.display().to_string();
        if self.model_type != "llama" {
            bail!("{src}: model_type = {:?}: expected \"llama\"", self.model_type);
        }
        if self.hidden_act != "silu" {
            bail!("{src}: hidden_act = {:?} is not supported: expected \"silu\" (SwiGLU)", self.hidden_act);
        }
        if self.attention_bias {
            bail!("{src}: attention_bias = true is not supported: expected false or absent (no biases)");
        }
        if self.mlp_bias {
            bail!("{src}: mlp_bias = true is not supported: expected false or absent (no biases)");
        }
        let rope_theta = self.rope_theta(&src)?;
        let heads = self.num_attention_heads;
        if heads == 0 || !self.hidden_size.is_multiple_of(heads) {
            bail!("{src}: hidden_size = {} is not divisible by num_attention_heads = {heads}", self.hidden_size);
        }
        if let Some(head_dim) = self.head_dim.filter(|&h| h != self.hidden_size / heads) {
            bail!(
                "{src}: head_dim = {head_dim} is not supported: expected hidden_size / num_attention_heads = {}",
                self.hidden_size / heads
            );
        }
        let kv_heads = self.num_key_value_heads.unwrap_or(heads);
        if kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            bail!("{src}: num_key_value_heads = {kv_heads} must be > 0 and divide num_attention_heads = {heads}");
        }
        Ok(GptConfig {
            vocab_size: Some(self.vocab_size),
            block_size: self.max_position_embeddings,
            d_model: self.hidden_size,
            n_layers: self.num_hidden_layers,
            n_heads: heads,
            d_ff: self.intermediate_size,
            dropout: 0.0,
            bias: false,
            tie_embeddings: self.tie_word_embeddings,
            positions: PositionKind::Rope,
            // Not used by a SwiGLU MLP: GPT-2's value, so that the key has one.
            gelu: GeluKind::Tanh,
            layer_norm_eps: self.rms_norm_eps,
            // Not used by RMSNorm: the key's default.
            layer_norm_bias: true,
            init_from: None,
            norm: NormKind::Rms,
            norm_affine: true,
            rope_theta,
            mlp: MlpKind::Swiglu,
            n_kv_heads: (kv_heads != heads).then_some(kv_heads),
            qk_norm: false,
            logit_softcap: 0.0,
            zero_init_proj: false,
        })
    }

    /// The Llama config of `gpt` (with the tokenizer's `bos`/`eos` ids when known), or an error
    /// naming the `model.` key that Llama cannot express.
    pub fn from_gpt_config(gpt: &GptConfig, bos: Option<u32>, eos: Option<u32>) -> Result<Self> {
        let Some(vocab_size) = gpt.vocab_size else {
            bail!("the model's vocabulary size is not known (model.vocab_size comes from the tokenizer)");
        };
        let refuse = |key: &str, value: String, needed: &str| -> Result<Self> {
            bail!("model.{key} = {value} cannot be exported as LlamaForCausalLM: Llama has {needed}")
        };
        if gpt.norm != NormKind::Rms {
            return refuse("norm", quoted(&gpt.norm), "RMSNorm (model.norm = \"rms\")");
        }
        if !gpt.norm_affine {
            return refuse("norm_affine", "false".into(), "a learned RMSNorm scale (model.norm_affine = true)");
        }
        if gpt.positions != PositionKind::Rope {
            return refuse("positions", quoted(&gpt.positions), "rotary positions (model.positions = \"rope\")");
        }
        if gpt.mlp != MlpKind::Swiglu {
            return refuse("mlp", quoted(&gpt.mlp), "a SwiGLU MLP (model.mlp = \"swiglu\")");
        }
        if gpt.bias {
            return refuse("bias", "true".into(), "no biases (model.bias = false)");
        }
        if gpt.qk_norm {
            return refuse("qk_norm", "true".into(), "no query/key norm (model.qk_norm = false)");
        }
        if gpt.logit_softcap != 0.0 {
            return refuse("logit_softcap", gpt.logit_softcap.to_string(), "no logit softcap (model.logit_softcap = 0)");
        }
        Ok(Self {
            architectures: vec!["LlamaForCausalLM".to_string()],
            model_type: "llama".to_string(),
            vocab_size,
            hidden_size: gpt.d_model,
            intermediate_size: gpt.d_ff,
            num_hidden_layers: gpt.n_layers,
            num_attention_heads: gpt.n_heads,
            num_key_value_heads: Some(gpt.kv_heads()),
            head_dim: Some(gpt.d_model / gpt.n_heads),
            max_position_embeddings: gpt.block_size,
            hidden_act: silu(),
            rms_norm_eps: gpt.layer_norm_eps,
            // Both spellings: transformers 4.x reads rope_theta, 5.x rope_parameters.
            rope_theta: Some(gpt.rope_theta),
            rope_scaling: Some(Value::Null),
            rope_parameters: Some(json!({"rope_type": "default", "rope_theta": gpt.rope_theta})),
            attention_bias: false,
            mlp_bias: false,
            tie_word_embeddings: gpt.tie_embeddings,
            attention_dropout: 0.0,
            initializer_range: default_init(),
            bos_token_id: bos.map(Value::from),
            eos_token_id: eos.map(Value::from),
            torch_dtype: Some("float32".to_string()),
        })
    }
}
