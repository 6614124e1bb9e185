//! `[model] init_from = "DIR"`: a Hugging Face directory (GPT-2 or Llama) supplies the run's
//! architecture keys and, unless `data.tokenizer_file` is set, its tokenizer.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::load::load_config;
use crate::model::{GptConfig, MlpKind, NormKind, PositionKind};

/// Architecture keys that `init_from` takes from `config.json`.
const ARCH_KEYS: [&str; 18] = [
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
    "norm",
    "norm_affine",
    "rope_theta",
    "mlp",
    "n_kv_heads",
    "qk_norm",
    "logit_softcap",
];

/// Whether `key` changes the model `gpt` describes: `gelu` does only for a GELU MLP,
/// `layer_norm_bias` only for LayerNorm, `rope_theta` only with rotary positions. A key that
/// does not may be written in the TOML with any value.
fn matters(key: &str, gpt: &GptConfig) -> bool {
    match key {
        "gelu" => gpt.mlp == MlpKind::Gelu,
        "layer_norm_bias" => gpt.norm == NormKind::Layer,
        "rope_theta" => gpt.positions == PositionKind::Rope,
        _ => true,
    }
}

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
        // n_kv_heads is left out when it equals n_heads: compare (and write) the count itself.
        let written = arch.get(key).cloned();
        let imported = match (key, &written) {
            ("n_kv_heads", None) => toml::Value::Integer(i64::try_from(gpt.kv_heads()).context("n_kv_heads")?),
            (_, Some(value)) => value.clone(),
            (_, None) => bail!("architecture key model.{key} is missing from the imported config"),
        };
        match model.get(key) {
            Some(given) if matters(key, &gpt) && !same(given, &imported) => bail!(
                "{}: model.{key} = {given} but model.init_from {} says {imported}: remove model.{key} \
                 (init_from defines the architecture)",
                source.display(),
                dir.display()
            ),
            Some(_) => {}
            None => {
                if let Some(value) = written {
                    model.insert(key.to_string(), value);
                }
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
