//! Raw text sources: one file or a directory of `.txt` files, read in chunks.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

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

    /// Calls `f` on successive chunks of the concatenated text (each about 1 MiB, ending
    /// at a line break where there is one).
    pub fn for_each_chunk(&self, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
        for path in &self.files {
            let file = File::open(path).with_context(|| format!("cannot read data file {}", path.display()))?;
            let mut reader = BufReader::new(file);
            let mut chunk = String::new();
            loop {
                let n = reader
                    .read_line(&mut chunk)
                    .with_context(|| format!("{}: not valid UTF-8 text", path.display()))?;
                if n == 0 || chunk.len() >= CHUNK_BYTES {
                    if !chunk.is_empty() {
                        f(&chunk)?;
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
