//! The BPE vocabulary a corpus can give, checked before the `tokenizers` trainer is built.
//!
//! Its `BpeTrainer::do_train` reserves a map and a vector of `vocab_size` entries before reading a
//! word (tokenizers 0.22, `src/models/bpe/trainer.rs`: `AHashMap::with_capacity(self.vocab_size)`
//! and `Vec::with_capacity(self.vocab_size)`), so `data.vocab_size = 1000000000` asked for 88 GiB
//! at once and the process aborted ("memory allocation of ... bytes failed").

use anyhow::{bail, Result};

use crate::data::config::{DataConfig, TokenizerKind};
use crate::host_memory::{human_bytes, MemoryCheck, SKIP_FLAG};

/// How the vocabulary's size is named in messages: the config key and `prepare`'s flag.
const KEY: &str = "data.vocab_size (`prepare --vocab-size`)";

/// Bytes the trainer reserves up front for a vocabulary of `vocab_size`: `id_to_word`, a
/// `Vec<CompactString>` of 24-byte entries, and `word_to_id`, a hashbrown map of
/// `(CompactString, u32)` (32 bytes a bucket, padded, plus one control byte, plus 16 after the
/// last) with `next_power_of_two(vocab_size * 8 / 7)` buckets (4 or 8 below 8 entries).
pub fn bpe_trainer_bytes(vocab_size: usize) -> u128 {
    let v = vocab_size as u128;
    let buckets = match v {
        0..4 => 4,
        4..8 => 8,
        _ => (v * 8 / 7).next_power_of_two(),
    };
    24 * v + 33 * buckets + 16
}

/// Refuses a BPE `data.vocab_size` that a corpus of `text_bytes` bytes of text (when they are
/// known before reading it: see [`check_bpe_text`]) cannot give, and, when `memory` says so, one
/// whose up-front reservation does not fit in the memory available.
pub fn check_bpe_vocab(data: &DataConfig, text_bytes: Option<u64>, memory: &MemoryCheck) -> Result<()> {
    let Some(vocab) = trained_vocab(data) else { return Ok(()) };
    if let Some(bytes) = text_bytes {
        check_bpe_text(data, bytes)?;
    }
    let reserved = bpe_trainer_bytes(vocab);
    if memory.refuses_host(reserved) {
        bail!(
            "{KEY} = {vocab}: the BPE trainer reserves {} up front for that many tokens and {} is available; \
             choose a smaller vocabulary, or pass {SKIP_FLAG} to try anyway",
            human_bytes(reserved),
            human_bytes(u128::from(memory.host.unwrap_or(0)))
        );
    }
    Ok(())
}

/// Refuses a BPE `data.vocab_size` that `text_bytes` bytes of text cannot give: each merge joins
/// a pair of tokens that occurs in the text, and each occurrence merged leaves one token fewer,
/// so at most `text_bytes` merges on top of the 256 byte symbols.
pub fn check_bpe_text(data: &DataConfig, text_bytes: u64) -> Result<()> {
    let Some(vocab) = trained_vocab(data) else { return Ok(()) };
    let most = 256 + u128::from(text_bytes);
    if vocab as u128 > most {
        bail!(
            "{KEY} = {vocab}: a byte-level BPE vocabulary trained on the {text_bytes} bytes of {} has at most \
             256 + {text_bytes} = {most} tokens (each merge needs a pair that occurs in the text); ask for at most \
             that (training stops by itself when the text runs out of pairs)",
            data.path.display()
        );
    }
    Ok(())
}

/// The vocabulary size BPE is trained to, when it is trained.
fn trained_vocab(data: &DataConfig) -> Option<usize> {
    match (data.tokenizer, &data.tokenizer_file, data.vocab_size) {
        (TokenizerKind::Bpe, None, Some(v)) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_reservation_follows_the_trainer_s_capacities() {
        // 2,000: 2,000 x 8 / 7 = 2,285 -> 4,096 buckets: 48,000 + 135,168 + 16.
        assert_eq!(bpe_trainer_bytes(2000), 183_184);
        // 1e9: 1,142,857,142 -> 2^31 buckets: 24e9 + 70,866,960,384 + 16 = 88.4 GiB.
        assert_eq!(bpe_trainer_bytes(1_000_000_000), 94_866_960_400);
        assert_eq!(bpe_trainer_bytes(5), 24 * 5 + 33 * 8 + 16);
        assert!(bpe_trainer_bytes(usize::MAX) > u128::from(u64::MAX), "u128 holds it without overflow");
    }

    #[test]
    fn a_vocabulary_beyond_the_corpus_or_the_memory_is_refused() {
        let mut data = DataConfig::new(Path::new("corpus.txt"), TokenizerKind::Bpe);
        data.vocab_size = Some(1_000_000_000);
        let err = check_bpe_vocab(&data, Some(1_000_000), &MemoryCheck::off()).expect_err("1e9 > 256 + 1e6").to_string();
        assert!(err.contains("data.vocab_size (`prepare --vocab-size`) = 1000000000") && err.contains("1000256"), "{err}");
        data.vocab_size = Some(1_000_256);
        check_bpe_vocab(&data, Some(1_000_000), &MemoryCheck::off()).expect("the bound itself is allowed");
        // Within a 10 GB corpus's bound, but 88.4 GiB reserved against 16 GiB.
        data.vocab_size = Some(1_000_000_000);
        let memory = MemoryCheck { enforce: true, host: Some(16 << 30), ..MemoryCheck::off() };
        let err = check_bpe_vocab(&data, Some(10_000_000_000), &memory).expect_err("reservation too large").to_string();
        assert!(err.contains("reserves 88.4 GiB") && err.contains("16.0 GiB is available") && err.contains(SKIP_FLAG), "{err}");
        check_bpe_vocab(&data, Some(10_000_000_000), &MemoryCheck { enforce: false, ..memory }).expect("not enforced");
        data.tokenizer = TokenizerKind::Char;
        check_bpe_vocab(&data, Some(10), &memory).expect("char vocabularies are the corpus's");
    }
}
