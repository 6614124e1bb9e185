//! [`DataConfig`]: the `[data]` section of a run's TOML.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// `[data]`: where the text is and how it is tokenized.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A corpus file (`.txt`, `.jsonl`, `.jsonl.gz`, `.jsonl.zst`, `.parquet`; another name is
    /// read as text), a directory of them (read in name order), a directory made by
    /// `burngpt prepare`, or a directory of llm.c token shards (with `tokenizer_file` or its own
    /// `tokenizer.json`) (relative paths are relative to the working directory).
    pub path: PathBuf,
    /// `"char"` (one token per character) or `"bpe"` (byte-level BPE).
    pub tokenizer: TokenizerKind,
    /// Vocabulary size the BPE tokenizer is trained to (bpe only). The model's vocabulary
    /// is always the tokenizer's.
    pub vocab_size: Option<usize>,
    /// Fraction of the corpus used for training; the rest is the validation split.
    pub train_fraction: f64,
    /// An existing BPE tokenizer to use instead of training one: a Hugging Face
    /// `tokenizer.json`, or a directory holding one (or `vocab.json` + `merges.txt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_file: Option<PathBuf>,
    /// At most about this many bytes of the training split train the BPE tokenizer: a seeded
    /// sample of its ~1 MiB chunks when the split is larger (default 256 MiB: smaller corpora
    /// train on all of it).
    #[serde(default = "default_bpe_sample_bytes")]
    pub bpe_sample_bytes: u64,
    /// Seed of that sample.
    #[serde(default = "default_sample_seed")]
    pub sample_seed: u64,
    /// Token files are cut into shards of about this many tokens (default 2^29: 1 GiB of
    /// 16-bit ids); training reads the shards as one stream.
    #[serde(default = "default_shard_tokens")]
    pub shard_tokens: u64,
    /// Text `prepare` reads ahead and encodes at once (default 64 MiB): with the tokenizer, what
    /// bounds its memory, whatever the corpus's size. It does not change the output.
    #[serde(default = "default_prepare_buffer_bytes")]
    pub prepare_buffer_bytes: u64,
    /// The field of a jsonl record, or the column of a Parquet file, that holds a document's
    /// text (default `text`, FineWeb's). Text files are read whole.
    #[serde(default = "default_text_field", skip_serializing_if = "is_default_text_field")]
    pub text_field: String,
}

/// 256 MiB.
pub fn default_bpe_sample_bytes() -> u64 {
    256 << 20
}

/// 1337.
pub fn default_sample_seed() -> u64 {
    1337
}

/// 2^29 tokens.
pub fn default_shard_tokens() -> u64 {
    1 << 29
}

/// 64 MiB.
pub fn default_prepare_buffer_bytes() -> u64 {
    64 << 20
}

/// `"text"`.
pub fn default_text_field() -> String {
    "text".to_string()
}

fn is_default_text_field(field: &str) -> bool {
    field == "text"
}

/// Which tokenizer turns text into ids.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    /// One token per distinct character of the corpus.
    Char,
    /// Byte-level BPE trained on the training split.
    Bpe,
}

impl TokenizerKind {
    /// The name used in configs: `"char"` or `"bpe"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Char => "char",
            Self::Bpe => "bpe",
        }
    }
}

impl DataConfig {
    /// `path` with `tokenizer`, 90% of the text for training and the other settings' defaults
    /// (a BPE tokenizer still needs `vocab_size`).
    pub fn new(path: &std::path::Path, tokenizer: TokenizerKind) -> Self {
        Self {
            path: path.to_path_buf(),
            tokenizer,
            vocab_size: None,
            train_fraction: 0.9,
            tokenizer_file: None,
            bpe_sample_bytes: default_bpe_sample_bytes(),
            sample_seed: default_sample_seed(),
            shard_tokens: default_shard_tokens(),
            prepare_buffer_bytes: default_prepare_buffer_bytes(),
            text_field: default_text_field(),
        }
    }

    /// Rejects a missing path and inconsistent tokenizer settings, naming the key.
    pub fn validate(&self) -> Result<()> {
        if !self.path.exists() {
            bail!("data.path: data file {} does not exist", self.path.display());
        }
        if let Some(file) = self.tokenizer_file.as_ref().filter(|f| !f.exists()) {
            bail!("data.tokenizer_file: {} does not exist", file.display());
        }
        self.validate_settings()
    }

    /// [`DataConfig::validate`] without looking at the files: what a resumed run, which reads
    /// its own prepared data rather than `data.path`, checks (from any working directory).
    pub fn validate_settings(&self) -> Result<()> {
        let d = self;
        if d.tokenizer_file.is_some() {
            if d.tokenizer != TokenizerKind::Bpe || d.vocab_size.is_some() {
                bail!("data.tokenizer_file needs data.tokenizer = \"bpe\" and no data.vocab_size (the file sets the vocabulary)");
            }
            return self.check_fraction();
        }
        match (d.tokenizer, d.vocab_size) {
            (TokenizerKind::Bpe, None) => bail!("data.vocab_size is required with data.tokenizer = \"bpe\""),
            (TokenizerKind::Bpe, Some(v)) if v <= 256 => {
                bail!("data.vocab_size = {v} must exceed the 256 byte symbols of byte-level BPE")
            }
            (TokenizerKind::Char, Some(_)) => {
                bail!("data.vocab_size applies to the bpe tokenizer only; the char vocabulary is the corpus's characters")
            }
            _ => {}
        }
        self.check_fraction()
    }

    fn check_sizes(&self) -> Result<()> {
        for (key, value) in [
            ("bpe_sample_bytes", self.bpe_sample_bytes),
            ("shard_tokens", self.shard_tokens),
            ("prepare_buffer_bytes", self.prepare_buffer_bytes),
        ] {
            if value == 0 {
                bail!("data.{key} must be > 0");
            }
        }
        Ok(())
    }

    fn check_fraction(&self) -> Result<()> {
        self.check_sizes()?;
        if self.text_field.is_empty() {
            bail!("data.text_field must name a jsonl field / Parquet column (default \"text\"), not be empty");
        }
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            bail!("data.train_fraction = {} must be in (0, 1)", self.train_fraction);
        }
        Ok(())
    }
}
