//! Hugging Face GPT-2 interoperability: export a run as a `GPT2LMHeadModel` directory
//! (`model.safetensors`, `config.json`, `tokenizer.json`) and load such a directory to
//! finetune (`[model] init_from = "DIR"`) or sample (`generate --hf DIR`).

mod hf_config;
mod weights;

use std::path::Path;

use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;

pub use hf_config::HfGpt2Config;
pub use weights::{hf_name, hf_tensors, load_safetensors, to_safetensors};

use crate::run_dir::write_atomic;

/// The tokenizer of a Hugging Face directory (data's loader).
pub use crate::data::load_tokenizer;
use crate::data::Tokenizer;
use crate::model::{Gpt, GptConfig};

/// Weights file of a Hugging Face model directory.
pub const HF_MODEL_FILE: &str = "model.safetensors";
/// Config file of a Hugging Face model directory.
pub const HF_CONFIG_FILE: &str = "config.json";

/// Writes `model` (built from `gpt`) and, when given, its BPE tokenizer as a Hugging Face
/// GPT-2 directory `out`. Refuses, before writing anything, a model GPT-2 cannot express.
pub fn export<B: Backend>(model: &Gpt<B>, gpt: &GptConfig, tokenizer: Option<&Tokenizer>, out: &Path) -> Result<()> {
    let config = HfGpt2Config::from_gpt_config(gpt)?;
    let weights = to_safetensors(model)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(&out.join(HF_MODEL_FILE), &weights)?;
    write_atomic(&out.join(HF_CONFIG_FILE), serde_json::to_string_pretty(&config)?.as_bytes())?;
    if let Some(tokenizer) = tokenizer {
        tokenizer.save(&out.join("tokenizer.json"))?;
    }
    Ok(())
}

/// The architecture described by `dir/config.json`.
pub fn load_config(dir: &Path) -> Result<GptConfig> {
    let path = dir.join(HF_CONFIG_FILE);
    if !path.is_file() {
        bail!("{} is missing: not a Hugging Face model directory", path.display());
    }
    HfGpt2Config::load(&path)?.to_gpt_config(&path)
}

/// Loads the weights of `dir/model.safetensors` into `model` (whose architecture must be
/// [`load_config`]'s); errors name the tensor and both shapes.
pub fn load_weights<B: Backend>(model: Gpt<B>, dir: &Path) -> Result<Gpt<B>> {
    let path = dir.join(HF_MODEL_FILE);
    if !path.is_file() {
        bail!("{} is missing: the Hugging Face directory has no weights", path.display());
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    load_safetensors(model, &bytes, &path)
}

/// The model of a Hugging Face GPT-2 directory, on `device`.
pub fn load_model<B: Backend>(dir: &Path, device: &B::Device) -> Result<(GptConfig, Gpt<B>)> {
    let gpt = load_config(dir)?;
    let model = load_weights(gpt.init::<B>(device), dir)?;
    Ok((gpt, model))
}

/// Architecture keys that `init_from` takes from `config.json`.
const ARCH_KEYS: [&str; 11] = [
    "block_size",
    "d_model",
    "n_layers",
    "n_heads",
    "d_ff",
    "bias",
    "tie_embeddings",
    "positions",
    "gelu",
    "layer_norm_eps",
    "layer_norm_bias",
];

/// For a config table whose `[model]` has `init_from = "DIR"`: fills the architecture keys
/// from `DIR/config.json` (a key also written in the TOML must agree, or it is an error
/// naming both values) and, unless `data.tokenizer_file` is set, uses `DIR`'s tokenizer.
pub fn resolve_init_from(table: &mut toml::Table, source: &Path) -> Result<()> {
    let Some(dir) = table.get("model").and_then(|m| m.get("init_from")).and_then(|v| v.as_str()).map(str::to_string)
    else {
        return Ok(());
    };
    let dir = Path::new(&dir);
    let gpt = load_config(dir).with_context(|| format!("{}: model.init_from", source.display()))?;
    let arch = toml::Value::try_from(&gpt)
        .ok()
        .and_then(|v| v.as_table().cloned())
        .context("cannot express the imported architecture in TOML")?;
    let model = table.get_mut("model").and_then(|m| m.as_table_mut()).context("[model] is not a table")?;
    for key in ARCH_KEYS {
        let imported = arch.get(key).cloned().context("architecture key")?;
        match model.get(key) {
            Some(given) if !same(given, &imported) => bail!(
                "{}: model.{key} = {given} but model.init_from {} says {imported}: remove model.{key} \
                 (init_from defines the architecture)",
                source.display(),
                dir.display()
            ),
            Some(_) => {}
            None => {
                model.insert(key.to_string(), imported);
            }
        }
    }
    model.entry("dropout").or_insert(toml::Value::Float(gpt.dropout));
    if let Some(data) = table.get_mut("data").and_then(|d| d.as_table_mut()) {
        if !data.contains_key("tokenizer_file") {
            data.insert("tokenizer_file".to_string(), toml::Value::String(dir.display().to_string()));
            data.insert("tokenizer".to_string(), toml::Value::String("bpe".to_string()));
            data.remove("vocab_size");
        }
    }
    Ok(())
}

fn same(a: &toml::Value, b: &toml::Value) -> bool {
    match (a.as_float().or_else(|| a.as_integer().map(|i| i as f64)), b.as_float().or_else(|| b.as_integer().map(|i| i as f64))) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * y.abs().max(1.0),
        _ => a == b,
    }
}
