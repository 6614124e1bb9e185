//! `export`: a run's model as a Hugging Face directory, `LlamaForCausalLM` for a run Llama can
//! express, else `GPT2LMHeadModel`, else an error naming the keys neither can express.

use std::path::Path;

use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;

use super::dir::{HfFormat, HF_CONFIG_FILE, HF_MODEL_FILE, HF_TOKENIZER_FILE};
use super::hf_config::HfGpt2Config;
use super::llama_config::HfLlamaConfig;
use super::llama_weights::llama_tensors;
use super::tensor_file::serialize;
use super::weights::to_safetensors;
use crate::data::Tokenizer;
use crate::model::{Gpt, GptConfig};
use crate::run_dir::write_atomic;

/// The format a run of architecture `gpt` exports to: Llama when it can express every
/// component, else GPT-2; an error naming both refusals when neither can.
pub fn export_format(gpt: &GptConfig) -> Result<HfFormat> {
    if gpt.vocab_size.is_none() {
        bail!("the model's vocabulary size is not known (model.vocab_size comes from the tokenizer)");
    }
    let llama = match HfLlamaConfig::from_gpt_config(gpt, None, None) {
        Ok(_) => return Ok(HfFormat::Llama),
        Err(e) => e,
    };
    match HfGpt2Config::from_gpt_config(gpt) {
        Ok(_) => Ok(HfFormat::Gpt2),
        Err(gpt2) => bail!("this model can be exported neither as LlamaForCausalLM ({llama}) nor as GPT2LMHeadModel ({gpt2})"),
    }
}

/// Special tokens Llama-family and GPT-2 tokenizers use to begin and end a text.
const BOS_TOKENS: [&str; 3] = ["<s>", "<|begin_of_text|>", "<|endoftext|>"];
const EOS_TOKENS: [&str; 3] = ["</s>", "<|end_of_text|>", "<|endoftext|>"];

/// The ids of the tokenizer's special beginning- and end-of-text tokens, when it has them.
pub fn special_ids(tokenizer: Option<&Tokenizer>) -> (Option<u32>, Option<u32>) {
    let Some(Tokenizer::Bpe(bpe)) = tokenizer else {
        return (None, None);
    };
    let special = bpe.get_added_tokens_decoder();
    let find = |names: &[&str]| {
        names.iter().find_map(|name| special.iter().find(|(_, t)| t.special && t.content == *name).map(|(id, _)| *id))
    };
    (find(&BOS_TOKENS), find(&EOS_TOKENS))
}

/// Writes `model` (built from `gpt`) and, when given, its BPE tokenizer as a Hugging Face
/// directory `out` ([`export_format`] chooses which). Refuses, before writing anything, a
/// model neither format can express; each file is written atomically.
pub fn export<B: Backend>(model: &Gpt<B>, gpt: &GptConfig, tokenizer: Option<&Tokenizer>, out: &Path) -> Result<()> {
    let (config, weights) = match export_format(gpt)? {
        HfFormat::Llama => {
            let (bos, eos) = special_ids(tokenizer);
            let config = HfLlamaConfig::from_gpt_config(gpt, bos, eos)?;
            (serde_json::to_string_pretty(&config)?, serialize(llama_tensors(model, gpt)?)?)
        }
        HfFormat::Gpt2 => (serde_json::to_string_pretty(&HfGpt2Config::from_gpt_config(gpt)?)?, to_safetensors(model)?),
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(&out.join(HF_MODEL_FILE), &weights)?;
    write_atomic(&out.join(HF_CONFIG_FILE), config.as_bytes())?;
    if let Some(tokenizer) = tokenizer {
        tokenizer.save(&out.join(HF_TOKENIZER_FILE))?;
    }
    Ok(())
}
