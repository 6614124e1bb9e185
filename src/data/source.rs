//! Raw text sources: one file or a directory of `.txt` files, read in chunks.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::progress::Progress;

/// Chunks end at a line break once they reach this many bytes.
const CHUNK_BYTES: usize = 1 << 20;

/// The files of a text corpus, in the order they are concatenated.
#[derive(Debug, Clone)]
pub struct TextSource {
    files: Vec<PathBuf>,
}

impl TextSource {
    /// A text file, or every `.txt` file of a directory in name order.
    pub fn new(path: &Path) -> Result<Self> {
        if path.is_file() {
            return Ok(Self { files: vec![path.to_path_buf()] });
        }
        if !path.is_dir() {
            bail!("data.path: {} is neither a text file nor a directory", path.display());
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("data.path: directory {} has no .txt file", path.display());
        }
        Ok(Self { files })
    }

    /// Total size in bytes.
    pub fn bytes(&self) -> Result<u64> {
        self.files.iter().try_fold(0, |sum, f| {
            Ok(sum + std::fs::metadata(f).with_context(|| format!("cannot stat {}", f.display()))?.len())
        })
    }

    /// Checksum of the concatenated contents (what identifies the corpus of prepared data).
    pub fn content_hash(&self) -> Result<String> {
        crate::run_dir::hash_files(&self.files)
    }

    /// Pass 1 of `prepare`: the number of characters and the set of characters of the text.
    pub fn scan(&self) -> Result<(u64, Vec<char>)> {
        let mut progress = Progress::new("Reading", self.bytes()?, 0);
        let mut chars = 0u64;
        let mut alphabet = BTreeSet::new();
        self.for_each_chunk(|chunk| {
            chars += chunk.chars().count() as u64;
            // Most chunks add no new character: check cheaply before inserting.
            if chunk.chars().any(|c| !alphabet.contains(&c)) {
                alphabet.extend(chunk.chars());
            }
            progress.add(chunk.len() as u64);
            Ok(())
        })?;
        progress.finish();
        Ok((chars, alphabet.into_iter().collect()))
    }

    /// The files, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Calls `f` on successive chunks of the concatenated text (each about 1 MiB, ending
    /// at a line break where there is one).
    pub fn for_each_chunk(&self, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
        self.chunks_from(Position::default(), |chunk| f(chunk.text).map(|()| true))
    }

    /// Calls `f` on the chunks from `start` on (a position a previous [`Chunk::end`] gave), until
    /// the text ends or `f` returns `false`. Chunk boundaries depend only on the text, so reading
    /// from a chunk's end gives the chunks that followed it.
    pub fn chunks_from(&self, start: Position, mut f: impl FnMut(Chunk) -> Result<bool>) -> Result<()> {
        for (file_index, path) in self.files.iter().enumerate().skip(start.file) {
            let mut file = File::open(path).with_context(|| format!("cannot read data file {}", path.display()))?;
            let mut offset = if file_index == start.file { start.offset } else { 0 };
            file.seek(SeekFrom::Start(offset)).with_context(|| format!("cannot read data file {}", path.display()))?;
            let mut reader = BufReader::new(file);
            let mut chunk = String::new();
            loop {
                let n = reader
                    .read_line(&mut chunk)
                    .with_context(|| format!("{}: not valid UTF-8 text", path.display()))?;
                if n == 0 || chunk.len() >= CHUNK_BYTES {
                    if !chunk.is_empty() {
                        let first_of_file = offset == 0;
                        offset += chunk.len() as u64;
                        let end = Position { file: file_index, offset };
                        if !f(Chunk { text: &chunk, first_of_file, file: file_index, end })? {
                            return Ok(());
                        }
                        chunk.clear();
                    }
                    if n == 0 {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A place in the concatenated text: a byte offset in one of its files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Index of the file in [`TextSource::files`].
    pub file: usize,
    /// Byte offset in that file.
    pub offset: u64,
}

/// A chunk of text as [`TextSource::chunks_from`] reads it.
pub struct Chunk<'a> {
    /// The text.
    pub text: &'a str,
    /// Whether it starts its file.
    pub first_of_file: bool,
    /// Index of its file.
    pub file: usize,
    /// Where the next chunk starts.
    pub end: Position,
}
