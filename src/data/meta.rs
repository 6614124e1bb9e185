//! `data.json`: what a prepared corpus holds and how it was made, written last by `prepare`
//! (its presence marks a complete preparation).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::config::{default_bpe_sample_bytes, default_sample_seed, default_shard_tokens, default_text_field, DataConfig, TokenizerKind};
use crate::run_dir::{Manifest, META_FILE, TRAIN_FILE, VAL_FILE};

/// What `data.json` records about a prepared corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataMeta {
    /// The text it was made from.
    pub source: PathBuf,
    /// Size of the text in bytes.
    pub source_bytes: u64,
    /// Checksum of the text's contents (to notice a changed source); absent in data prepared by
    /// versions before it was recorded.
    #[serde(default)]
    pub source_hash: Option<String>,
    /// Tokenizer kind.
    pub tokenizer: TokenizerKind,
    /// BPE vocabulary target it was trained with (`None` for char).
    pub bpe_vocab_size: Option<usize>,
    /// Fraction of characters in the training split.
    pub train_fraction: f64,
    /// The existing tokenizer used instead of a trained one.
    #[serde(default)]
    pub tokenizer_file: Option<PathBuf>,
    /// Vocabulary size of the tokenizer.
    pub vocab_size: usize,
    /// `"u16"` or `"u32"`.
    pub dtype: String,
    /// Characters in the corpus.
    pub chars: u64,
    /// Characters in the training split.
    pub train_chars: u64,
    /// Characters in the validation split.
    pub val_chars: u64,
    /// Tokens in `train.bin`.
    pub train_tokens: u64,
    /// Tokens in `val.bin`.
    pub val_tokens: u64,
    /// Checksums of `tokenizer.json` and the token files, checked when they are opened.
    #[serde(default)]
    pub files: Manifest,
    /// The training split's token files, in order.
    #[serde(default = "train_shards")]
    pub train_shards: Vec<String>,
    /// The validation split's token files, in order.
    #[serde(default = "val_shards")]
    pub val_shards: Vec<String>,
    /// The token between files (`<|endoftext|>` for BPE), when the corpus has several.
    #[serde(default)]
    pub separator: Option<u32>,
    /// `data.bpe_sample_bytes` it was prepared with.
    #[serde(default = "default_bpe_sample_bytes")]
    pub bpe_sample_bytes: u64,
    /// `data.sample_seed` it was prepared with.
    #[serde(default = "default_sample_seed")]
    pub sample_seed: u64,
    /// `data.shard_tokens` it was prepared with.
    #[serde(default = "default_shard_tokens")]
    pub shard_tokens: u64,
    /// `data.text_field` it was prepared with.
    #[serde(default = "default_text_field")]
    pub text_field: String,
}

fn train_shards() -> Vec<String> {
    vec![TRAIN_FILE.to_string()]
}

fn val_shards() -> Vec<String> {
    vec![VAL_FILE.to_string()]
}

impl DataMeta {
    /// Whether it was prepared from this source (by checksum) with these settings.
    pub(super) fn matches(&self, data: &DataConfig, source_hash: &str) -> bool {
        self.source == data.path
            && self.source_hash.as_deref() == Some(source_hash)
            && self.tokenizer == data.tokenizer
            && self.bpe_vocab_size == bpe_target(data)
            && self.train_fraction == data.train_fraction
            && self.tokenizer_file == data.tokenizer_file
            && self.bpe_sample_bytes == data.bpe_sample_bytes
            && self.sample_seed == data.sample_seed
            && self.shard_tokens == data.shard_tokens
            && self.text_field == data.text_field
    }
}

/// The BPE vocabulary target of `data` (`None` for char).
pub(super) fn bpe_target(data: &DataConfig) -> Option<usize> {
    (data.tokenizer == TokenizerKind::Bpe).then_some(data.vocab_size.unwrap_or(0))
}

/// Reads `dir`/data.json.
pub(super) fn read_meta(dir: &Path) -> Result<DataMeta> {
    let path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a valid data description", path.display()))
}
