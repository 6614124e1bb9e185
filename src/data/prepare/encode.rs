//! Pass 3 of `prepare`: the corpus encoded into sharded token files, in bounded memory.
//!
//! A reader thread cuts the text into the source's ~1 MiB chunks (line-ended, so no character and
//! no line is cut; each chunk is encoded on its own, so tokens never span two chunks), splits the
//! chunk that crosses the train/validation boundary, and hands them over in batches of about
//! `buffer / 4` bytes through a channel that holds one batch: reading overlaps encoding, and at
//! most a few batches of text and their ids are in memory whatever the corpus size. The batch's
//! chunks are encoded in parallel (rayon) and written in order; the separator id goes before the
//! first chunk of every document after the first. A shard ends after the first chunk that fills it,
//! and is then recorded in `prepare.json` with the position after that chunk.

use std::path::Path;
use std::sync::mpsc::sync_channel;

use anyhow::{anyhow, Result};
use rayon::prelude::*;

use super::progress::Progress;
use super::shard_writer::ShardWriter;
use super::source::{Position, TextSource};
use super::state::PrepareState;
use crate::data::tokenizer::Tokenizer;
use crate::run_dir::{TRAIN_FILE, VAL_FILE};

/// A piece of a chunk, all of it in one split.
struct Piece {
    text: String,
    train: bool,
    /// Whether the separator goes before it (the first piece of a document after the first).
    separator: bool,
    /// Bytes of the corpus's files read once it is (for progress).
    done: u64,
    /// For the last piece of a chunk: the position after the chunk and the characters before it.
    end: Option<(Position, u64)>,
}

/// What pass 3 needs.
pub struct EncodeJob<'a> {
    /// The corpus.
    pub source: &'a TextSource,
    /// Where the shards go.
    pub dir: &'a Path,
    /// The tokenizer of pass 2.
    pub tokenizer: &'a Tokenizer,
    /// The id put between files, if any.
    pub separator: Option<u32>,
    /// Characters of the training split (the first ones of the corpus).
    pub train_chars: u64,
    /// `data.shard_tokens`.
    pub shard_tokens: u64,
    /// `data.prepare_buffer_bytes`.
    pub buffer_bytes: u64,
    /// The corpus's size, for the progress report.
    pub total_bytes: u64,
}

/// Encodes the text from `state.resume_at` on, recording finished shards in `state` (saved to
/// `prepare.json` after each); returns the characters and tokens encoded in this run.
pub fn encode(job: &EncodeJob, state: &mut PrepareState) -> Result<(u64, u64)> {
    let vocab = job.tokenizer.vocab_size();
    let mut train = ShardWriter::new(job.dir, TRAIN_FILE, vocab, job.shard_tokens, state.train.len());
    let mut val = ShardWriter::new(job.dir, VAL_FILE, vocab, job.shard_tokens, state.val.len());
    let mut train_open = !state.train_done;
    let batch_bytes = (job.buffer_bytes / 4).max(1) as usize;
    let done_bytes = job.source.bytes_before(state.resume_at);
    let mut progress = Progress::new("Encoding", job.total_bytes, done_bytes);
    let (mut chars_encoded, mut tokens_encoded) = (0u64, 0u64);
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = sync_channel::<Vec<Piece>>(1);
        let (start, start_chars, train_chars) = (state.resume_at, state.resume_chars, job.train_chars);
        let reader = scope.spawn(move || read_pieces(job.source, start, start_chars, train_chars, batch_bytes, tx));
        for batch in rx {
            // Each piece is encoded in parts of about PART_BYTES, in parallel, and written in order.
            let parts: Vec<(usize, &str)> = batch
                .iter()
                .enumerate()
                .filter(|(_, p)| !p.train || train_open)
                .flat_map(|(i, p)| safe_parts(&p.text, PART_BYTES).map(move |part| (i, part)))
                .collect();
            let encoded = parts
                .par_iter()
                .map(|(_, part)| {
                    let ids = job.tokenizer.encode(part);
                    release_freed_memory();
                    ids
                })
                .collect::<Result<Vec<_>>>()?;
            let mut encoded = parts.iter().map(|(i, _)| *i).zip(encoded).peekable();
            for (i, piece) in batch.iter().enumerate() {
                progress.to(piece.done);
                if piece.train && !train_open {
                    continue; // its shards were finished before a restart
                }
                if !piece.train && train_open {
                    // The training split ends here: its last shard is finished.
                    let last = std::mem::replace(&mut train, ShardWriter::new(job.dir, TRAIN_FILE, vocab, 1, 0));
                    if let Some(shard) = last.finish()? {
                        state.record(job.dir, true, shard)?;
                    }
                    state.train_done = true;
                    train_open = false;
                    state.save(job.dir)?;
                }
                chars_encoded += piece.text.chars().count() as u64;
                let writer = if piece.train { &mut train } else { &mut val };
                if let (true, Some(sep)) = (piece.separator, job.separator) {
                    writer.push(&[sep])?;
                }
                while let Some((_, ids)) = encoded.next_if(|(j, _)| *j == i) {
                    tokens_encoded += ids.len() as u64;
                    writer.push(&ids)?;
                }
                if let Some((end, chars)) = piece.end {
                    if let Some(shard) = writer.end_shard_if_full()? {
                        state.record(job.dir, piece.train, shard)?;
                        (state.resume_at, state.resume_chars) = (end, chars);
                        state.save(job.dir)?;
                    }
                }
            }
            release_freed_memory();
        }
        reader.join().map_err(|_| anyhow!("the corpus reader panicked"))??;
        Ok(())
    })?;
    if train_open {
        if let Some(shard) = train.finish()? {
            state.record(job.dir, true, shard)?;
        }
        state.train_done = true;
    }
    if let Some(shard) = val.finish()? {
        state.record(job.dir, false, shard)?;
    }
    progress.finish();
    Ok((chars_encoded, tokens_encoded))
}

/// The reader thread: pieces from `start` (with `chars` characters before it) in batches of
/// about `batch_bytes`. Stops early, without error, when the receiver is gone (the encoder
/// failed and reports its own error).
fn read_pieces(
    source: &TextSource,
    start: Position,
    mut chars: u64,
    train_chars: u64,
    batch_bytes: usize,
    tx: std::sync::mpsc::SyncSender<Vec<Piece>>,
) -> Result<()> {
    let mut batch: Vec<Piece> = Vec::new();
    let mut bytes = 0usize;
    let mut open = true;
    source.chunks_from(start, |chunk| {
        let n = chunk.text.chars().count() as u64;
        let (separator, done) = (chunk.separated, chunk.done);
        let end = Some((chunk.end, chars + n));
        let cut = if chars >= train_chars {
            0
        } else if chars + n <= train_chars {
            chunk.text.len()
        } else {
            byte_offset(chunk.text, (train_chars - chars) as usize)
        };
        let (a, b) = chunk.text.split_at(cut);
        if !a.is_empty() {
            batch.push(Piece { text: a.to_string(), train: true, separator, done, end: if b.is_empty() { end } else { None } });
        }
        if !b.is_empty() {
            batch.push(Piece { text: b.to_string(), train: false, separator: separator && a.is_empty(), done, end });
        }
        chars += n;
        bytes += chunk.text.len();
        if bytes >= batch_bytes {
            bytes = 0;
            open = tx.send(std::mem::take(&mut batch)).is_ok();
        }
        Ok(open)
    })?;
    if open && !batch.is_empty() {
        let _ = tx.send(batch); // a receiver gone has failed and reports why
    }
    Ok(())
}

/// Returns the allocator's free memory to the system. glibc keeps what a batch's many short-lived
/// allocations freed (the tokenizer's per-byte offsets and token strings, from several threads)
/// in its arenas, so without this the resident memory creeps up to several times what is live.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // Safety: malloc_trim only releases memory that is already free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes of text per call to the tokenizer: its encoder allocates tens of bytes per byte of
/// input (offsets, token strings, alignments), so this, not the batch, sets its memory.
pub const PART_BYTES: usize = 16 << 10;

/// `text` in consecutive parts of at least `target` bytes (the last may be shorter), cut only
/// after a line break that follows a printable ASCII character and precedes one. There, GPT-2's
/// pre-tokenizer regex ends a word at the line break whether or not the text continues (the
/// break alone is a `\s+` match; a longer run of whitespace could be split differently at the
/// end of a text), so encoding the parts one by one gives the ids of encoding `text` whole.
pub fn safe_parts(text: &str, target: usize) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let printable = |b: u8| b.is_ascii_graphic();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let mut cut = bytes.len();
        let mut i = (start + target).max(start + 2);
        while i < bytes.len() {
            if bytes[i - 1] == b'\n' && printable(bytes[i - 2]) && printable(bytes[i]) {
                cut = i;
                break;
            }
            i += 1;
        }
        let part = &text[start..cut];
        start = cut;
        Some(part)
    })
}

/// Byte offset of character `chars` of `text` (its length when shorter).
pub fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices().nth(chars).map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TokenizerKind;

    /// Text whose line ends include every case: a break after a space, blank lines, indented
    /// lines, a break before a non-ASCII letter, CRLF.
    fn text() -> String {
        let lines = ["fn main() {", "    let x = 1; ", "", "", "    x + 1", "}", "über alles", "日本語\r", "end.\t", "  ", "ok"];
        (0..400).map(|i| format!("{} {i}\n", lines[i % lines.len()])).collect()
    }

    #[test]
    fn parts_cover_the_text_and_cut_only_at_safe_breaks() {
        let text = text();
        let parts: Vec<&str> = safe_parts(&text, 100).collect();
        assert!(parts.len() > 20, "{} parts", parts.len());
        assert_eq!(parts.concat(), text);
        for pair in parts.windows(2) {
            let (a, b) = (pair[0].as_bytes(), pair[1].as_bytes());
            assert!(a.len() >= 100 && a.ends_with(b"\n") && a[a.len() - 2].is_ascii_graphic() && b[0].is_ascii_graphic());
        }
    }

    /// Encoding the parts one by one gives the ids of the whole text, for a BPE trained on it.
    #[test]
    fn parts_encode_as_the_whole_text() {
        let text = text();
        let bpe = Tokenizer::train(TokenizerKind::Bpe, 400, Vec::new(), std::iter::once(text.clone())).expect("train");
        let whole = bpe.encode(&text).expect("encode");
        let parts: Vec<u32> = safe_parts(&text, 64).flat_map(|p| bpe.encode(p).expect("encode")).collect();
        assert_eq!(parts, whole);
        // A cut after a space and a line break would not be safe: "x \n" at the end of a text is
        // one whitespace word, in the middle two. This is what the rule avoids.
        let (a, b) = ("let x = 1; \n", "    x");
        let joined = bpe.encode(&format!("{a}{b}")).expect("encode");
        let split: Vec<u32> = [a, b].iter().flat_map(|p| bpe.encode(p).expect("encode")).collect();
        assert_ne!(joined, split);
    }
}
