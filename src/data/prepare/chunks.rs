//! A document cut into chunks of about [`CHUNK_BYTES`], each ending at a line break where there
//! is one: the same cuts for a text file read from disk and for a record's text in memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context, Result};

/// Chunks end at a line break once they reach this many bytes.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Calls `f(chunk, end, first)` on the chunks of the text file `path` from byte `offset` on
/// (`end`: the offset after the chunk; `first`: whether it starts the file) until `f` returns
/// `false`; returns whether the file was read to its end.
pub fn text_file_chunks(path: &Path, mut offset: u64, mut f: impl FnMut(&str, u64, bool) -> Result<bool>) -> Result<bool> {
    let mut file = File::open(path).with_context(|| format!("cannot read data file {}", path.display()))?;
    file.seek(SeekFrom::Start(offset)).with_context(|| format!("cannot read data file {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut chunk = String::new();
    loop {
        let n = reader.read_line(&mut chunk).with_context(|| format!("{}: not valid UTF-8 text", path.display()))?;
        if (n == 0 || chunk.len() >= CHUNK_BYTES) && !chunk.is_empty() {
            let first = offset == 0;
            offset += chunk.len() as u64;
            if !f(&chunk, offset, first)? {
                return Ok(false);
            }
            chunk.clear();
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// [`text_file_chunks`] of a document in memory, from byte `from` (a character boundary) on.
pub fn str_chunks(text: &str, from: usize, mut f: impl FnMut(&str, u64, bool) -> Result<bool>) -> Result<bool> {
    let bytes = text.as_bytes();
    let mut start = from;
    while start < bytes.len() {
        let mut end = start;
        while end < bytes.len() {
            end = bytes[end..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| end + i + 1);
            if end - start >= CHUNK_BYTES {
                break;
            }
        }
        if !f(&text[start..end], end as u64, start == 0)? {
            return Ok(false);
        }
        start = end;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document of 3.5 MiB (lines of varying lengths, multi-byte characters, one line longer
    /// than a chunk, no final line break) is cut at the same places from a file and from memory,
    /// from the start and from a chunk's end.
    #[test]
    fn a_file_and_a_string_are_cut_alike() {
        let mut text = String::new();
        for i in 0..60_000 {
            text.push_str(&"wörd ".repeat(i % 17));
            text.push_str(if i % 7 == 0 { "\n\n" } else { "\n" });
        }
        text.push_str(&"x".repeat(CHUNK_BYTES + 10));
        text.push_str("\nlast line, unended");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("doc.txt");
        std::fs::write(&path, &text).expect("write");
        let cuts = |from: u64, in_file: bool| {
            let mut out = Vec::new();
            let record = |chunk: &str, end: u64, first: bool| {
                out.push((chunk.len(), end, first));
                Ok(true)
            };
            if in_file {
                text_file_chunks(&path, from, record).expect("file");
            } else {
                str_chunks(&text, from as usize, record).expect("str");
            }
            out
        };
        let whole = cuts(0, true);
        assert!(whole.len() >= 4, "{whole:?}");
        assert_eq!(whole, cuts(0, false));
        assert!(whole[0].2 && !whole[1].2);
        assert_eq!(whole.iter().map(|c| c.0).sum::<usize>(), text.len());
        let resumed = cuts(whole[1].1, true);
        assert_eq!(resumed, whole[2..]);
        assert_eq!(resumed, cuts(whole[1].1, false));
    }
}
