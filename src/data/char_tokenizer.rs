//! The character tokenizer: one id per distinct character of the corpus.

use std::collections::HashMap;

use anyhow::{bail, Result};

/// Maps each distinct character of a text to an id, in sorted character order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharTokenizer {
    chars: Vec<char>,
    index: HashMap<char, u32>,
}

impl CharTokenizer {
    /// The vocabulary of every character that occurs in `text`.
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Self::from_chars(chars)
    }

    /// A tokenizer over exactly `chars` (id = position).
    pub fn from_chars(chars: Vec<char>) -> Self {
        let index = chars.iter().enumerate().map(|(i, &c)| (c, i as u32)).collect();
        Self { chars, index }
    }

    /// The vocabulary, in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// Number of distinct tokens.
    pub fn vocab_size(&self) -> usize {
        self.chars.len()
    }

    /// Token ids of `text`; a character outside the vocabulary is an error naming it.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::with_capacity(text.len());
        for (pos, c) in text.chars().enumerate() {
            match self.index.get(&c) {
                Some(&id) => ids.push(id),
                None => bail!(
                    "character {c:?} (U+{:04X}) at position {pos} is not in the char tokenizer's vocabulary of {} characters",
                    c as u32,
                    self.chars.len()
                ),
            }
        }
        Ok(ids)
    }

    /// The text of `ids`; ids outside the vocabulary decode to U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .map(|&id| self.chars.get(id as usize).copied().unwrap_or('\u{FFFD}'))
            .collect()
    }
}
