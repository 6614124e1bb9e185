//! Pass 2 of `prepare`: the tokenizer, and the separator token between documents.
//!
//! BPE trains on the training split streamed chunk by chunk from a reader thread (the
//! `tokenizers` trainer counts words in parallel and keeps only the counts), or, when the split
//! is larger than `data.bpe_sample_bytes`, on a seeded sample of its ~1 MiB chunks of about that
//! size (sentencepiece's `input_sentence_size`): chunk `i` is kept when a hash of
//! (`data.sample_seed`, `i`) falls below `sample_bytes / split_bytes`, the same chunks every time.

use std::sync::mpsc::sync_channel;

use anyhow::{anyhow, Context, Result};

use super::encode::{byte_offset, release_freed_memory, safe_parts, PART_BYTES};
use super::progress::{mib, Progress};
use super::scan::Scan;
use super::source::{Position, TextSource};
use crate::data::config::{DataConfig, TokenizerKind};
use crate::data::tokenizer::{load_tokenizer, Tokenizer, END_OF_TEXT};

/// The tokenizer of `data` and, when `scan` counted several documents and the tokenizer is BPE,
/// the id of the separator token (added to the vocabulary when it lacks one).
pub fn build_tokenizer(
    data: &DataConfig,
    source: &TextSource,
    scan: Scan,
    train_chars: u64,
    log: &mut dyn FnMut(&str),
) -> Result<(Tokenizer, Option<u32>)> {
    let several_documents = scan.documents > 1;
    let mut tokenizer = match (&data.tokenizer_file, data.tokenizer) {
        (Some(file), _) => {
            log(&format!("Loading tokenizer {} ...", file.display()));
            load_tokenizer(file).context("data.tokenizer_file")?
        }
        (None, TokenizerKind::Char) => Tokenizer::train(TokenizerKind::Char, 0, scan.alphabet, std::iter::empty())?,
        (None, TokenizerKind::Bpe) => train_bpe(data, source, (scan.chars, scan.text_bytes, train_chars), log)?,
    };
    let separator = match (several_documents, &mut tokenizer) {
        (true, Tokenizer::Bpe(bpe)) => Some(match bpe.token_to_id(END_OF_TEXT) {
            Some(id) => id,
            None => {
                bpe.add_special_tokens(&[tokenizers::AddedToken::from(END_OF_TEXT, true)]);
                bpe.token_to_id(END_OF_TEXT).ok_or_else(|| anyhow!("cannot add {END_OF_TEXT} to the tokenizer"))?
            }
        }),
        _ => None,
    };
    Ok((tokenizer, separator))
}

/// BPE trained on the training split's first `train_chars` characters, sampled down to about
/// `data.bpe_sample_bytes`.
fn train_bpe(
    data: &DataConfig,
    source: &TextSource,
    (chars, text_bytes, train_chars): (u64, u64, u64),
    log: &mut dyn FnMut(&str),
) -> Result<Tokenizer> {
    // The split's bytes of text, estimated from its share of characters (exact for one-byte
    // text): the same for the same documents in any file format.
    let split_bytes = (text_bytes as f64 * train_chars as f64 / chars.max(1) as f64) as u64;
    let keep = (data.bpe_sample_bytes as f64 / split_bytes.max(1) as f64).min(1.0);
    if keep < 1.0 {
        log(&format!(
            "Training tokenizer (bpe) on a sample of about {:.0} MiB of the {:.0} MiB training split ...",
            mib(data.bpe_sample_bytes),
            mib(split_bytes)
        ));
    } else {
        log("Training tokenizer (bpe) ...");
    }
    let seed = data.sample_seed;
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<String>(16);
        let reader = scope.spawn(move || -> Result<()> {
            let mut progress = Progress::new("Training tokenizer", split_bytes, 0);
            let (mut seen, mut index) = (0u64, 0u64);
            source.chunks_from(Position::default(), |chunk| {
                let n = chunk.text.chars().count() as u64;
                let text = if seen + n <= train_chars {
                    chunk.text
                } else {
                    &chunk.text[..byte_offset(chunk.text, (train_chars - seen) as usize)]
                };
                seen += n;
                progress.add(text.len() as u64);
                let kept = keep >= 1.0 || unit_hash(seed, index) < keep;
                index += 1;
                // A send fails only when the trainer stopped; it reports why.
                let open = !kept || safe_parts(text, PART_BYTES).all(|part| tx.send(part.to_string()).is_ok());
                release_freed_memory(); // what the trainer's threads freed
                Ok(open && seen < train_chars)
            })?;
            progress.finish();
            Ok(())
        });
        let trained = Tokenizer::train(TokenizerKind::Bpe, data.vocab_size.unwrap_or(0), Vec::new(), rx.into_iter());
        reader.join().map_err(|_| anyhow!("the corpus reader panicked"))??;
        trained
    })
}

/// A uniform number in [0, 1) from (`seed`, `index`): SplitMix64's finaliser.
fn unit_hash(seed: u64, index: u64) -> f64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::unit_hash;

    /// The sample keeps about the asked fraction of chunks, the same ones for the same seed.
    #[test]
    fn the_sample_is_seeded_and_of_the_asked_size() {
        let kept = |seed| (0..100_000u64).filter(|&i| unit_hash(seed, i) < 0.25).collect::<Vec<_>>();
        let (a, b, c) = (kept(1337), kept(1337), kept(7));
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Binomial(100000, 0.25): standard deviation 137, so 25,000 +- 700 is > 5 sigma.
        assert!((a.len() as i64 - 25_000).abs() < 700, "{} kept", a.len());
    }
}
