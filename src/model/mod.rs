//! The GPT model: Burn modules, each an `XConfig` + `X<B>` pair, with GPT-2's parameter names.
//!
//! Shape letters used in every `# Shapes` section:
//! - `batch`: sequences in a batch
//! - `seq_len`: tokens per sequence (at most `block_size`)
//! - `d_model`: width of the residual stream
//! - `n_heads`, `head_dim = d_model / n_heads`: attention heads and their width
//! - `n_kv_heads`: key/value heads (grouped-query attention; `n_heads` by default)
//! - `d_ff`: hidden width of the MLP
//! - `vocab_size`: tokens in the vocabulary

mod attention;
mod block;
mod config;
mod gelu;
mod gpt;
mod host_init;
mod init;
mod mlp;
mod norm;
mod param_count;
mod params;
mod positions;
mod precision;
mod record;
mod rope;

pub use attention::{
    causal_attention, causal_attention_probs, CausalSelfAttention,
    CausalSelfAttentionConfig, LayerCache,
};
pub use block::{Block, BlockConfig};
pub use gelu::{gelu, GeluKind};
pub use config::GptConfig;
pub use gpt::{Gpt, KvCache};
pub(crate) use host_init::gpt2_init_values;
pub use host_init::normal_samples;
pub use mlp::{Mlp, MlpConfig, MlpKind};
pub use norm::{Norm, NormConfig, NormKind};
pub use params::named_values;
pub use precision::{check_precision, Precision};
pub use params::{named_params, replace_params, ParamInfo};
pub use positions::PositionKind;
pub use record::{load_model, model_bytes};
pub use rope::{rope_tables, Rope, RopeConfig};
