//! Loading a Hugging Face directory, GPT-2 or Llama as its `config.json` says: the
//! architecture, the weights, the model.

use std::path::Path;

use anyhow::Result;
use burn::tensor::backend::Backend;

use super::dir::{parse_config, read_config, HfFormat};
use super::hf_config::HfGpt2Config;
use super::llama_config::HfLlamaConfig;
use super::llama_weights::load_llama;
use super::tensor_file::TensorFiles;
use super::weights::load_gpt2;
use crate::model::{Gpt, GptConfig};

/// The architecture described by `dir/config.json` (`GPT2LMHeadModel` or `LlamaForCausalLM`).
pub fn load_config(dir: &Path) -> Result<GptConfig> {
    let (path, text, format) = read_config(dir)?;
    match format {
        HfFormat::Gpt2 => parse_config::<HfGpt2Config>(&text, &path)?.to_gpt_config(&path),
        HfFormat::Llama => parse_config::<HfLlamaConfig>(&text, &path)?.to_gpt_config(&path),
    }
}

/// Loads the weights of `dir` (`model.safetensors`, or the shards of
/// `model.safetensors.index.json`; float32, float16 or bfloat16) into `model`, whose
/// architecture must be [`load_config`]'s; errors name the tensor and both shapes.
pub fn load_weights<B: Backend>(model: Gpt<B>, dir: &Path) -> Result<Gpt<B>> {
    let (_, _, format) = read_config(dir)?;
    let files = TensorFiles::open(dir)?;
    let tensors = files.parse()?;
    match format {
        HfFormat::Gpt2 => load_gpt2(model, &tensors, &files.describe()),
        HfFormat::Llama => load_llama(model, &load_config(dir)?, &tensors, &files.describe()),
    }
}

/// The model of a Hugging Face directory, on `device`.
pub fn load_model<B: Backend>(dir: &Path, device: &B::Device) -> Result<(GptConfig, Gpt<B>)> {
    let gpt = load_config(dir)?;
    let model = load_weights(gpt.init::<B>(device), dir)?;
    Ok((gpt, model))
}
