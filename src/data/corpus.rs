//! A text corpus split into train and validation token streams.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::tokenizer::CharTokenizer;

/// The tokenized train and validation splits of one text file.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Characters in the whole file.
    pub chars: usize,
    /// Characters in the training split.
    pub train_chars: usize,
    /// Characters in the validation split.
    pub val_chars: usize,
    /// The tokenizer built from the text.
    pub tokenizer: CharTokenizer,
    /// Training token ids.
    pub train: Vec<u32>,
    /// Validation token ids.
    pub val: Vec<u32>,
}

impl Corpus {
    /// Reads `path`, splits it by characters at `train_fraction` (the first part trains),
    /// builds the char vocabulary of the whole text and encodes both splits.
    pub fn load(path: &Path, train_fraction: f64) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read data file {}", path.display()))?;
        let chars = text.chars().count();
        if chars == 0 {
            bail!("data file {} is empty", path.display());
        }
        let train_chars = (chars as f64 * train_fraction).floor() as usize;
        let split_byte = text.char_indices().nth(train_chars).map_or(text.len(), |(i, _)| i);
        let (train_text, val_text) = text.split_at(split_byte);
        let tokenizer = CharTokenizer::from_text(&text);
        Ok(Self {
            chars,
            train_chars,
            val_chars: chars - train_chars,
            train: tokenizer.encode(train_text)?,
            val: tokenizer.encode(val_text)?,
            tokenizer,
        })
    }
}
