//! The UTF-8 bytes each token id stands for: what bits per byte divides by.
//!
//! Bits per byte (nanochat's `evaluate_bpb`) is the summed cross-entropy of the target tokens
//! over ln 2 times the bytes those tokens decode to, so it does not depend on the tokenizer: a
//! char model, a BPE-2000 model and GPT-2 compare directly. Special tokens (`<|endoftext|>`)
//! stand for no text: 0 bytes, and the evaluation leaves their losses out too.

use tokenizers::decoders::DecoderWrapper;

use super::tokenizer::Tokenizer;

/// Bytes of text per token id, indexed by id (`0` for special tokens).
pub fn token_bytes(tokenizer: &Tokenizer) -> Vec<u32> {
    match tokenizer {
        Tokenizer::Char(t) => t.chars().iter().map(|c| c.len_utf8() as u32).collect(),
        Tokenizer::Bpe(t) => {
            let n = t.get_vocab_size(true);
            let added = t.get_added_tokens_decoder();
            // Byte-level BPE (GPT-2's) spells every byte as one character of its alphabet, so a
            // token's byte count is its string's character count; a token that cuts a UTF-8
            // character (decoded alone, it would not be valid text) still counts its own bytes.
            let byte_level = matches!(t.get_decoder(), Some(DecoderWrapper::ByteLevel(_)));
            (0..n as u32)
                .map(|id| match (added.get(&id), t.id_to_token(id)) {
                    (Some(token), _) if token.special => 0,
                    (Some(token), _) => token.content.len() as u32,
                    (None, Some(token)) if byte_level => token.chars().count() as u32,
                    (None, Some(token)) => other_bytes(t, id, &token),
                    (None, None) => 0,
                })
                .collect()
        }
    }
}

/// A token of a tokenizer that is not byte-level: a byte-fallback token `<0xNN>` is one byte,
/// anything else the UTF-8 length of its decoded text.
fn other_bytes(t: &tokenizers::Tokenizer, id: u32, token: &str) -> u32 {
    let fallback = token.len() == 6 && token.starts_with("<0x") && token.ends_with('>');
    if fallback && u8::from_str_radix(&token[3..5], 16).is_ok() {
        return 1;
    }
    t.decode(&[id], false).map_or(token.len(), |s| s.len()) as u32
}

/// Sums for bits per byte: the losses (nats) of the targets that stand for text, and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ByteLoss {
    /// Summed cross-entropy (nats) of the targets with at least one byte.
    pub nats: f64,
    /// Bytes those targets decode to.
    pub bytes: u64,
}

impl ByteLoss {
    /// Adds targets `ids` whose losses (nats) are `losses`.
    pub fn add(&mut self, losses: &[f32], ids: &[i64], token_bytes: &[u32]) {
        for (&loss, &id) in losses.iter().zip(ids) {
            let bytes = usize::try_from(id).ok().and_then(|i| token_bytes.get(i)).copied().unwrap_or(0);
            if bytes > 0 {
                self.nats += loss as f64;
                self.bytes += bytes as u64;
            }
        }
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: ByteLoss) {
        self.nats += other.nats;
        self.bytes += other.bytes;
    }

    /// Bits per byte: nats / (ln 2 x bytes); NaN without bytes.
    pub fn bpb(&self) -> f64 {
        if self.bytes == 0 {
            f64::NAN
        } else {
            self.nats / (std::f64::consts::LN_2 * self.bytes as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::char_tokenizer::CharTokenizer;
    use crate::data::TokenizerKind;

    #[test]
    fn char_tokens_count_their_utf8_bytes() {
        let t = Tokenizer::Char(CharTokenizer::from_text("aé日😀"));
        // Sorted: 'a' (1 byte), 'é' (2), '日' (3), '😀' (4).
        assert_eq!(token_bytes(&t), vec![1, 2, 3, 4]);
    }

    /// For a byte-level BPE the bytes of a text's tokens add up to the text's UTF-8 length
    /// (non-ASCII included), and `<|endoftext|>` counts none.
    #[test]
    fn bpe_token_bytes_add_up_to_the_text_and_special_tokens_count_none() {
        let text = "Über Straße, 日本語 and naïve café.\nThe cat sat on the mat.\n".repeat(30);
        let mut t = Tokenizer::train(TokenizerKind::Bpe, 300, Vec::new(), std::iter::once(text.clone())).expect("bpe");
        if let Tokenizer::Bpe(bpe) = &mut t {
            bpe.add_special_tokens(&[tokenizers::AddedToken::from(crate::data::END_OF_TEXT, true)]);
        }
        let bytes = token_bytes(&t);
        assert_eq!(bytes.len(), t.vocab_size());
        let ids = t.encode(&text).expect("encode");
        assert!(ids.len() < text.len(), "merges were learnt");
        assert_eq!(ids.iter().map(|&i| bytes[i as usize] as usize).sum::<usize>(), text.len());
        let Tokenizer::Bpe(bpe) = &t else { unreachable!() };
        let eot = bpe.token_to_id(crate::data::END_OF_TEXT).expect("added");
        assert_eq!(bytes[eot as usize], 0);
    }

    /// Losses [1.0, 2.0, 3.0] of targets with 1, 0 (special) and 3 bytes: the special target is
    /// left out of both sums, so bpb = (1 + 3) / (ln 2 x (1 + 3)) = 1 / ln 2.
    #[test]
    fn special_targets_count_in_neither_sum() {
        let mut sum = ByteLoss::default();
        sum.add(&[1.0, 2.0, 3.0], &[0, 1, 2], &[1, 0, 3]);
        assert_eq!(sum, ByteLoss { nats: 4.0, bytes: 4 });
        assert!((sum.bpb() - 1.0 / std::f64::consts::LN_2).abs() < 1e-12);
        assert!(ByteLoss::default().bpb().is_nan());
    }
}
