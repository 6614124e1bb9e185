//! The tokenizer of a run: characters or byte-level BPE, saved as `tokenizer.json`.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;

use super::char_tokenizer::CharTokenizer;
use super::config::TokenizerKind;
use crate::run_dir::write_atomic;

/// GPT-2's end-of-text token, put between the documents of a BPE corpus (its files of text,
/// and its records).
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// Text <-> token ids.
#[derive(Debug, Clone)]
pub enum Tokenizer {
    /// One token per distinct character.
    Char(CharTokenizer),
    /// Byte-level BPE (GPT-2 style) from the `tokenizers` crate.
    Bpe(Box<tokenizers::Tokenizer>),
}

/// The on-disk form of a char tokenizer (a BPE tokenizer is saved in Hugging Face's format).
#[derive(Serialize, Deserialize)]
struct CharFile {
    #[serde(rename = "type")]
    kind: String,
    chars: String,
}

impl Tokenizer {
    /// Builds a tokenizer of `kind` from the training text, given as chunks.
    ///
    /// `char`: every character of `alphabet` (the whole corpus, so validation text encodes).
    /// `bpe`: byte-level BPE trained on the chunks up to `vocab_size` tokens; any text
    /// encodes, since the 256 byte symbols are in the vocabulary.
    pub fn train<I>(kind: TokenizerKind, vocab_size: usize, alphabet: Vec<char>, chunks: I) -> Result<Self>
    where
        I: Iterator<Item = String> + Send,
    {
        match kind {
            TokenizerKind::Char => Ok(Self::Char(CharTokenizer::from_chars(alphabet))),
            TokenizerKind::Bpe => {
                let trainer = BpeTrainerBuilder::new()
                    .show_progress(false)
                    .vocab_size(vocab_size)
                    .min_frequency(0)
                    .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
                    .build();
                let mut trainer = TrainerWrapper::from(trainer);
                let mut tokenizer = tokenizers::Tokenizer::new(BPE::default());
                // No prefix space, no offset trimming: decode(encode(text)) == text.
                tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, false, true)));
                tokenizer.with_decoder(Some(ByteLevel::new(false, false, true)));
                tokenizer
                    .train(&mut trainer, chunks)
                    .map_err(|e| anyhow!("BPE training failed: {e}"))?;
                Ok(Self::Bpe(Box::new(tokenizer)))
            }
        }
    }

    /// Reads a `tokenizer.json` written by [`Tokenizer::save`] (or any Hugging Face
    /// tokenizer file).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read tokenizer {}", path.display()))?;
        if let Ok(file) = serde_json::from_str::<CharFile>(&text) {
            if file.kind == "char" {
                return Ok(Self::Char(CharTokenizer::from_chars(file.chars.chars().collect())));
            }
        }
        // tokenizers panics on a syntax error inside some sections (the decoder's
        // `expect("Helper")`), so the text must be valid JSON before it gets it.
        serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| anyhow!("{}: not a tokenizer file: not valid JSON: {e}", path.display()))?;
        let tokenizer = tokenizers::Tokenizer::from_bytes(text.as_bytes())
            .map_err(|e| anyhow!("{}: not a tokenizer file: {e}", path.display()))?;
        Ok(Self::Bpe(Box::new(tokenizer)))
    }

    /// A GPT-2 style byte-level BPE from `vocab.json` + `merges.txt`.
    pub fn from_vocab_merges(vocab: &Path, merges: &Path) -> Result<Self> {
        let files = format!("{} + {}", vocab.display(), merges.display());
        let bpe = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy())
            .build()
            .map_err(|e| anyhow!("{files}: not a BPE vocabulary: {e}"))?;
        let mut tokenizer = tokenizers::Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        tokenizer.with_decoder(Some(ByteLevel::new(false, true, true)));
        Ok(Self::Bpe(Box::new(tokenizer)))
    }

    /// Writes the tokenizer to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_json()?.as_bytes())
    }

    /// What [`Tokenizer::save`] writes: a `tokenizer.json`.
    pub fn to_json(&self) -> Result<String> {
        Ok(match self {
            Self::Char(t) => serde_json::to_string_pretty(&CharFile {
                kind: "char".to_string(),
                chars: t.chars().iter().collect(),
            })?,
            Self::Bpe(t) => t.to_string(true).map_err(|e| anyhow!("cannot serialize the tokenizer: {e}"))?,
        })
    }

    /// Which kind this is.
    pub fn kind(&self) -> TokenizerKind {
        match self {
            Self::Char(_) => TokenizerKind::Char,
            Self::Bpe(_) => TokenizerKind::Bpe,
        }
    }

    /// Number of token ids.
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Char(t) => t.vocab_size(),
            Self::Bpe(t) => t.get_vocab_size(true),
        }
    }

    /// Token ids of `text`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            Self::Char(t) => t.encode(text),
            Self::Bpe(t) => Ok(t
                .encode_fast(text, false)
                .map_err(|e| anyhow!("BPE encoding failed: {e}"))?
                .get_ids()
                .to_vec()),
        }
    }

    /// Text of `ids`.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        match self {
            Self::Char(t) => Ok(t.decode(ids)),
            Self::Bpe(t) => t.decode(ids, false).map_err(|e| anyhow!("BPE decoding failed: {e}")),
        }
    }

    /// A short description for the banner.
    pub fn describe(&self) -> String {
        match self {
            Self::Char(_) => "char".to_string(),
            Self::Bpe(_) => "byte-level BPE".to_string(),
        }
    }
}

/// Fails unless `tokenizer` has exactly `vocab_size` ids (a data file was made with it).
pub fn check_vocab(tokenizer: &Tokenizer, vocab_size: usize, what: &str) -> Result<()> {
    if tokenizer.vocab_size() != vocab_size {
        bail!(
            "vocabulary mismatch: {what} was tokenized with {vocab_size} ids but the tokenizer has {}",
            tokenizer.vocab_size()
        );
    }
    Ok(())
}

/// The tokenizer of a Hugging Face directory: `tokenizer.json`, else `vocab.json` +
/// `merges.txt` (byte-level BPE, as GPT-2's). `path` may also name a `tokenizer.json` file.
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    if path.is_file() {
        return Tokenizer::load(path);
    }
    let json = path.join("tokenizer.json");
    if json.is_file() {
        return Tokenizer::load(&json);
    }
    let (vocab, merges) = (path.join("vocab.json"), path.join("merges.txt"));
    if vocab.is_file() && merges.is_file() {
        return Tokenizer::from_vocab_merges(&vocab, &merges);
    }
    bail!("{}: no tokenizer.json, and no vocab.json + merges.txt", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A syntax error inside the decoder section (`{` followed by `1`, where a key belongs):
    /// tokenizers panicked ("Helper: key must be a string"). Now an error naming the file.
    #[test]
    fn a_syntax_error_in_the_decoder_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tokenizer.json");
        let text = "First Citizen: before we proceed any further, hear me speak.\n".repeat(20);
        Tokenizer::train(TokenizerKind::Bpe, 280, Vec::new(), std::iter::once(text)).and_then(|t| t.save(&path)).expect("bpe");
        let json = std::fs::read_to_string(&path).expect("read");
        assert!(Tokenizer::load(&path).is_ok());
        let damaged = json.replacen("\"decoder\": {", "\"decoder\": {1", 1);
        assert_ne!(damaged, json);
        std::fs::write(&path, damaged).expect("write");
        let err = format!("{:#}", Tokenizer::load(&path).err().expect("fails"));
        assert!(err.contains("tokenizer.json: not a tokenizer file: not valid JSON: key must be a string"), "{err}");
    }
}
