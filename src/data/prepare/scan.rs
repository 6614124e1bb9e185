//! Pass 1 of `prepare`: what the documents hold, counted before the tokenizer is built.

use std::collections::BTreeSet;

use anyhow::Result;

use super::progress::Progress;
use super::source::{Position, TextSource};

/// The documents' text, counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    /// Characters of text (the train/validation split is by characters).
    pub chars: u64,
    /// Bytes of text (UTF-8).
    pub text_bytes: u64,
    /// Documents, empty ones included.
    pub documents: u64,
    /// The distinct characters, in order.
    pub alphabet: Vec<char>,
}

/// Reads every document of `source` once.
pub fn scan(source: &TextSource) -> Result<Scan> {
    let mut progress = Progress::new("Reading", source.bytes(), 0);
    let (mut chars, mut text_bytes) = (0u64, 0u64);
    let mut alphabet = BTreeSet::new();
    let documents = source.chunks_from(Position::default(), |chunk| {
        chars += chunk.text.chars().count() as u64;
        text_bytes += chunk.text.len() as u64;
        // Most chunks add no new character: check cheaply before inserting.
        if chunk.text.chars().any(|c| !alphabet.contains(&c)) {
            alphabet.extend(chunk.text.chars());
        }
        progress.to(chunk.done);
        Ok(true)
    })?;
    progress.finish();
    Ok(Scan { chars, text_bytes, documents, alphabet: alphabet.into_iter().collect() })
}
