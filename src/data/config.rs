//! [`DataConfig`]: the `[data]` section of a run's TOML.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// `[data]`: where the text is and how it is tokenized.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A text file, a directory of `.txt` files, or a directory made by `burngpt prepare`
    /// (relative paths are relative to the working directory).
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
    /// Rejects a missing path and inconsistent tokenizer settings, naming the key.
    pub fn validate(&self) -> Result<()> {
        let d = self;
        if !d.path.exists() {
            bail!("data.path: data file {} does not exist", d.path.display());
        }
        if let Some(file) = &d.tokenizer_file {
            if d.tokenizer != TokenizerKind::Bpe || d.vocab_size.is_some() {
                bail!("data.tokenizer_file needs data.tokenizer = \"bpe\" and no data.vocab_size (the file sets the vocabulary)");
            }
            if !file.exists() {
                bail!("data.tokenizer_file: {} does not exist", file.display());
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

    fn check_fraction(&self) -> Result<()> {
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            bail!("data.train_fraction = {} must be in (0, 1)", self.train_fraction);
        }
        Ok(())
    }
}
