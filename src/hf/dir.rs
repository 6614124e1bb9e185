//! A Hugging Face model directory: its file names, and which architecture its `config.json`
//! describes.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

/// Weights file of a Hugging Face model directory.
pub const HF_MODEL_FILE: &str = "model.safetensors";
/// Index of a sharded checkpoint (which `model-0000N-of-0000M.safetensors` holds each tensor).
pub const HF_INDEX_FILE: &str = "model.safetensors.index.json";
/// Config file of a Hugging Face model directory.
pub const HF_CONFIG_FILE: &str = "config.json";
/// Tokenizer file of a Hugging Face model directory.
pub const HF_TOKENIZER_FILE: &str = "tokenizer.json";

/// The architectures this crate reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HfFormat {
    /// `GPT2LMHeadModel` (`model_type = "gpt2"`).
    Gpt2,
    /// `LlamaForCausalLM` (`model_type = "llama"`).
    Llama,
}

/// The two keys that name the architecture.
#[derive(Deserialize)]
struct Kind {
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
}

impl HfFormat {
    /// `config.json`'s `model_type`, else its `architectures`.
    pub fn of_config(text: &str, path: &Path) -> Result<Self> {
        let kind: Kind = serde_json::from_str(text).map_err(|e| anyhow!("{}: not a model config: {e}", path.display()))?;
        match (kind.model_type.as_deref(), kind.architectures.as_deref()) {
            (Some("gpt2"), _) => Ok(Self::Gpt2),
            (Some("llama"), _) => Ok(Self::Llama),
            (None, Some([arch, ..])) if arch == "GPT2LMHeadModel" => Ok(Self::Gpt2),
            (None, Some([arch, ..])) if arch == "LlamaForCausalLM" => Ok(Self::Llama),
            (Some(other), _) => bail!(
                "{}: model_type = {other:?} is not supported: expected \"gpt2\" (GPT2LMHeadModel) or \"llama\" (LlamaForCausalLM)",
                path.display()
            ),
            (None, architectures) => bail!(
                "{}: no model_type, and architectures = {architectures:?}: expected model_type \"gpt2\" or \"llama\"",
                path.display()
            ),
        }
    }
}

/// `dir/config.json`: its path, its text and the architecture it names.
pub fn read_config(dir: &Path) -> Result<(PathBuf, String, HfFormat)> {
    let path = dir.join(HF_CONFIG_FILE);
    if !path.is_file() {
        bail!("{} is missing: not a Hugging Face model directory", path.display());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let format = HfFormat::of_config(&text, &path)?;
    Ok((path, text, format))
}

/// Parses `text` (the file `path`) as `T`; errors name the file and the key.
pub fn parse_config<T: for<'de> Deserialize<'de>>(text: &str, path: &Path) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| anyhow!("{}: key `{}`: {}", path.display(), e.path(), e.inner()))
}

/// A config value as TOML and JSON write it (`"rms"`, `4`), for errors.
pub fn quoted<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_comes_from_model_type_then_architectures() {
        let path = Path::new("config.json");
        assert_eq!(HfFormat::of_config(r#"{"model_type": "llama"}"#, path).ok(), Some(HfFormat::Llama));
        assert_eq!(HfFormat::of_config(r#"{"model_type": "gpt2"}"#, path).ok(), Some(HfFormat::Gpt2));
        let arch = r#"{"architectures": ["LlamaForCausalLM"]}"#;
        assert_eq!(HfFormat::of_config(arch, path).ok(), Some(HfFormat::Llama));
        let err = format!("{:#}", HfFormat::of_config(r#"{"model_type": "mistral"}"#, path).expect_err("mistral"));
        assert!(err.contains("model_type = \"mistral\" is not supported"), "{err}");
    }
}
