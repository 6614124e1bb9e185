//! Hugging Face interoperability: export a run as a `LlamaForCausalLM` or `GPT2LMHeadModel`
//! directory (`model.safetensors`, `config.json`, `tokenizer.json`) and load such a directory
//! to finetune (`[model] init_from = "DIR"`), sample (`generate --hf DIR`) or evaluate
//! (`eval --hf DIR`).

mod dir;
mod export;
mod hf_config;
mod init_from;
mod llama_config;
mod llama_weights;
mod load;
mod tensor_file;
mod weights;

pub use dir::{HfFormat, HF_CONFIG_FILE, HF_INDEX_FILE, HF_MODEL_FILE, HF_TOKENIZER_FILE};
pub use export::{export, export_format, special_ids};
pub use hf_config::HfGpt2Config;
pub use init_from::resolve_init_from;
pub use llama_config::HfLlamaConfig;
pub use llama_weights::{gather_columns, llama_source, llama_tensors, llama_values, split_columns, LlamaSource};
pub use load::{load_config, load_model, load_weights};
pub use tensor_file::{serialize, NamedTensor, TensorFiles, Tensors};
pub use weights::{hf_name, hf_tensors, load_safetensors, to_safetensors};

/// The tokenizer of a Hugging Face directory (data's loader).
pub use crate::data::load_tokenizer;
