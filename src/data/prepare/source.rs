//! Raw text sources: one file, or a directory of corpus files (`.txt`, `.jsonl`, `.jsonl.gz`,
//! `.jsonl.zst`, `.parquet`) in name order, read as a sequence of documents in chunks.
//!
//! A text file is one document; each record of the other formats is one ([`super::formats`]).
//! Every document is cut into the same ~1 MiB line-ended chunks whatever file it came from, so
//! the same documents prepare to the same files in any of the formats.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::chunks::{str_chunks, text_file_chunks};
use super::formats::{open_records, Format, SUPPORTED};

/// The files of a corpus, in the order their documents are read.
#[derive(Debug, Clone)]
pub struct TextSource {
    files: Vec<PathBuf>,
    formats: Vec<Format>,
    sizes: Vec<u64>,
    text_field: String,
}

impl TextSource {
    /// A corpus file (a file of any other name is read as text), or every corpus file of a
    /// directory in name order; records' documents are their `text_field`.
    pub fn new(path: &Path, text_field: &str) -> Result<Self> {
        let files = if path.is_file() {
            vec![path.to_path_buf()]
        } else if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && Format::of(p).is_some())
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("data.path: directory {} has no corpus file (one of {SUPPORTED})", path.display());
            }
            files
        } else {
            bail!("data.path: {} is neither a corpus file nor a directory", path.display());
        };
        let formats = files.iter().map(|f| Format::of(f).unwrap_or(Format::Text)).collect();
        let sizes = files
            .iter()
            .map(|f| Ok(std::fs::metadata(f).with_context(|| format!("cannot stat {}", f.display()))?.len()))
            .collect::<Result<_>>()?;
        Ok(Self { files, formats, sizes, text_field: text_field.to_string() })
    }

    /// Total size of the files in bytes.
    pub fn bytes(&self) -> u64 {
        self.sizes.iter().sum()
    }

    /// The size of the text when the files say it without being read: when none is compressed
    /// (a jsonl record's text is no longer than its line).
    pub fn text_bytes_bound(&self) -> Option<u64> {
        let compressed = |f: &Format| matches!(f, Format::Parquet | Format::Jsonl(super::formats::Compression::Gzip | super::formats::Compression::Zstd));
        (!self.formats.iter().any(compressed)).then(|| self.bytes())
    }

    /// Checksum of the concatenated contents (what identifies the corpus of prepared data).
    pub fn content_hash(&self) -> Result<String> {
        crate::run_dir::hash_files(&self.files)
    }

    /// Whether `at` can be a place in this corpus (its file exists; in a text file, its offset
    /// is within it). A record's offset is checked when its document is read.
    pub fn holds(&self, at: Position) -> bool {
        match (self.formats.get(at.file), self.sizes.get(at.file)) {
            (Some(Format::Text), Some(&size)) => at.record == 0 && at.offset <= size,
            (Some(_), Some(_)) => true,
            _ => false,
        }
    }

    /// Bytes of the files before `at` (the files before its own, and its offset in a text
    /// file), for progress.
    pub fn bytes_before(&self, at: Position) -> u64 {
        let own = match self.formats.get(at.file) {
            Some(Format::Text) => at.offset,
            _ => 0,
        };
        self.sizes.iter().take(at.file).sum::<u64>() + own
    }

    /// Calls `f` on the chunks from `start` on (a position a previous [`Chunk::end`] gave), until
    /// the text ends or `f` returns `false`; returns the number of documents that started in
    /// this read (empty ones included). Chunk boundaries depend only on the documents, so reading
    /// from a chunk's end gives the chunks that followed it.
    pub fn chunks_from(&self, start: Position, mut f: impl FnMut(Chunk) -> Result<bool>) -> Result<u64> {
        let mut documents = 0u64;
        // Whether a document came before the next one: then the separator goes before it.
        let mut any_before = start != Position::default();
        for (file, path) in self.files.iter().enumerate().skip(start.file) {
            let from = if file == start.file { start } else { Position { file, ..Position::default() } };
            let before = self.sizes[..file].iter().sum::<u64>();
            let go_on = match self.formats[file] {
                Format::Text => {
                    let separated = any_before;
                    documents += u64::from(from.offset == 0);
                    any_before = true;
                    text_file_chunks(path, from.offset, |text, offset, first| {
                        let end = Position { file, record: 0, offset };
                        f(Chunk { text, separated: first && separated, end, done: before + offset })
                    })?
                }
                format => {
                    let mut reader = open_records(path, format, &self.text_field, from.record)?;
                    loop {
                        let Some((record, text)) = reader.next_document()? else { break true };
                        let offset = if record == from.record { from.offset } else { 0 };
                        if offset as usize > text.len() || !text.is_char_boundary(offset as usize) {
                            bail!(
                                "{}: record {record}: a prepare.json position (byte {offset}) outside its text; remove \
                                 prepare.json to prepare from the start",
                                path.display()
                            );
                        }
                        let separated = any_before;
                        documents += u64::from(offset == 0);
                        any_before = true;
                        let done = before + reader.bytes_read();
                        let go_on = str_chunks(&text, offset as usize, |text, offset, first| {
                            let end = Position { file, record, offset };
                            f(Chunk { text, separated: first && separated, end, done })
                        })?;
                        if !go_on {
                            break false;
                        }
                    }
                }
            };
            if !go_on {
                break;
            }
        }
        Ok(documents)
    }
}

/// A place in the corpus: a byte offset in a document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Index of the file in the corpus (its files in order, as [`TextSource::new`] lists them).
    pub file: usize,
    /// Index of the record in that file (a jsonl line's, a Parquet row's; 0 in a text file).
    #[serde(default)]
    pub record: u64,
    /// Byte offset in the document (the text file, or the record's text).
    pub offset: u64,
}

/// A chunk of text as [`TextSource::chunks_from`] reads it.
pub struct Chunk<'a> {
    /// The text.
    pub text: &'a str,
    /// Whether the separator between documents goes before it: it starts a document, and
    /// another came before.
    pub separated: bool,
    /// Where the next chunk starts.
    pub end: Position,
    /// Bytes of the files read so far (about, within a compressed file), for progress.
    pub done: u64,
}
