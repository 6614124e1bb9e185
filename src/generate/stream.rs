//! Generated text as it arrives, released in whole UTF-8 characters.
//!
//! A byte-level BPE token can end in the middle of a character (`é` is two bytes, often two
//! tokens). Decoding the tokens so far then ends in U+FFFD; printing that and the rest of the
//! character later would show a replacement character that the finished text does not have.

use anyhow::Result;

/// The tokens generated so far and how much of their text has been handed out.
#[derive(Debug, Default, Clone)]
pub struct Utf8Stream {
    ids: Vec<u32>,
    printed: usize,
}

impl Utf8Stream {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token ids pushed so far.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Adds token `id` and returns the text that became complete with it (often empty).
    ///
    /// `decode` turns ids into text, with U+FFFD for bytes that are not (yet) valid UTF-8, as
    /// [`crate::data::Tokenizer::decode`] does. Trailing U+FFFD is held back until the
    /// character completes (or until [`Utf8Stream::finish`]).
    pub fn push(&mut self, id: u32, decode: impl FnOnce(&[u32]) -> Result<String>) -> Result<String> {
        self.ids.push(id);
        let text = decode(&self.ids)?;
        // Hold back an incomplete UTF-8 sequence (shown as U+FFFD) until it completes.
        let ready = text.trim_end_matches('\u{FFFD}');
        if ready.len() > self.printed && ready.is_char_boundary(self.printed) {
            let new = ready[self.printed..].to_string();
            self.printed = ready.len();
            Ok(new)
        } else {
            Ok(String::new())
        }
    }

    /// The text not handed out yet, once no more tokens come: bytes that never completed a
    /// character are U+FFFD here.
    pub fn finish(self, decode: impl FnOnce(&[u32]) -> Result<String>) -> Result<String> {
        let text = decode(&self.ids)?;
        Ok(text.get(self.printed..).unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Tokenizer, TokenizerKind};

    /// A byte-level BPE with no merges: one token per byte, so every multi-byte character
    /// is split across tokens.
    fn byte_tokenizer() -> Result<Tokenizer> {
        Tokenizer::train(TokenizerKind::Bpe, 256, Vec::new(), std::iter::once("a".to_string()))
    }

    /// What `push` returned for each id, then what `finish` returned.
    fn stream(tokenizer: &Tokenizer, ids: &[u32]) -> Result<(Vec<String>, String)> {
        let mut stream = Utf8Stream::new();
        let mut pieces = Vec::new();
        for &id in ids {
            pieces.push(stream.push(id, |ids| tokenizer.decode(ids))?);
        }
        let rest = stream.finish(|ids| tokenizer.decode(ids))?;
        Ok((pieces, rest))
    }

    #[test]
    fn multi_byte_characters_split_across_tokens_come_out_whole() -> Result<()> {
        let tokenizer = byte_tokenizer()?;
        let ids = tokenizer.encode("aé€b")?;
        assert_eq!(ids.len(), 1 + 2 + 3 + 1, "one token per byte");
        let (pieces, rest) = stream(&tokenizer, &ids)?;
        assert_eq!(pieces, ["a", "", "é", "", "", "€", "b"]);
        assert_eq!(rest, "");
        assert_eq!(pieces.concat() + &rest, tokenizer.decode(&ids)?);
        Ok(())
    }

    #[test]
    fn bytes_that_never_complete_become_replacement_characters_at_the_end() -> Result<()> {
        let tokenizer = byte_tokenizer()?;
        let a = tokenizer.encode("a")?;
        let euro = tokenizer.encode("€")?;
        // `a` then the first two of the three bytes of `€`.
        let ids = [a[0], euro[0], euro[1]];
        let (pieces, rest) = stream(&tokenizer, &ids)?;
        assert_eq!(pieces, ["a", "", ""]);
        assert_eq!(rest, "\u{FFFD}");
        Ok(())
    }

    #[test]
    fn an_invalid_byte_inside_the_text_is_printed_once_text_follows_it() -> Result<()> {
        let tokenizer = byte_tokenizer()?;
        let e_acute = tokenizer.encode("é")?;
        let ab = tokenizer.encode("ab")?;
        // A lone continuation byte (the second byte of `é`) between `a` and `b`.
        let ids = [ab[0], e_acute[1], ab[1]];
        let (pieces, rest) = stream(&tokenizer, &ids)?;
        assert_eq!(pieces, ["a", "", "\u{FFFD}b"]);
        assert_eq!(rest, "");
        Ok(())
    }

    #[test]
    fn ids_are_kept_in_order() -> Result<()> {
        let mut stream = Utf8Stream::new();
        let decode = |ids: &[u32]| Ok(ids.iter().map(|&i| char::from(b'a' + i as u8)).collect::<String>());
        assert_eq!(stream.push(0, decode)?, "a");
        assert_eq!(stream.push(2, decode)?, "c");
        assert_eq!(stream.ids(), [0, 2]);
        assert_eq!(stream.finish(decode)?, "");
        Ok(())
    }
}
