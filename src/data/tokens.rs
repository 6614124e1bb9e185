//! Token files: a header then little-endian token ids, read memory-mapped, so a corpus larger
//! than memory trains. Two headers ([`ShardFormat`]):
//!
//! - burngpt's own (`train.bin` / `val.bin`): magic `BGPT`, format version (u32), bytes per token
//!   (u32: 2 or 4), vocabulary size (u32), token count (u64), 8 reserved bytes;
//! - llm.c's token shards (`fineweb_train_000001.bin`), [`super::llmc_header`]: no vocabulary in
//!   the header, so the reader gives it (the tokenizer's).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use memmap2::Mmap;

pub use super::token_dtype::TokenDtype;
use super::llmc_header::{self, LLMC_HEADER_LEN};

pub(super) const MAGIC: &[u8; 4] = b"BGPT";
pub(super) const VERSION: u32 = 1;
/// Bytes before the first token.
pub const HEADER_LEN: usize = 32;

/// Which header a token file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardFormat {
    /// burngpt's own 32-byte header, with the vocabulary size.
    Burngpt,
    /// llm.c's 1024-byte header (magic, version, count).
    Llmc,
}

impl ShardFormat {
    /// Bytes before the first token.
    pub fn header_len(self) -> usize {
        match self {
            Self::Burngpt => HEADER_LEN,
            Self::Llmc => LLMC_HEADER_LEN,
        }
    }
}

/// A memory-mapped token file.
pub struct TokenFile {
    map: Mmap,
    path: PathBuf,
    format: ShardFormat,
    dtype: TokenDtype,
    vocab_size: usize,
    len: usize,
}

/// `path`, mapped read-only.
fn map_file(path: &Path) -> Result<Mmap> {
    let file = File::open(path).with_context(|| format!("cannot open token file {}", path.display()))?;
    // SAFETY: the file is opened read-only and token files are only ever replaced by rename,
    // never modified in place, so the mapping stays valid while it is used.
    unsafe { Mmap::map(&file) }.with_context(|| format!("cannot map {}", path.display()))
}

impl TokenFile {
    /// Opens an llm.c shard and checks its header and size ([`llmc_header::parse`]); its ids
    /// are checked against `vocab_size` (the tokenizer's) as they are read.
    pub fn open_llmc(path: &Path, vocab_size: usize) -> Result<Self> {
        let map = map_file(path)?;
        if map.starts_with(MAGIC) {
            bail!(
                "{} is a burngpt token file, not an llm.c shard, and its directory has no data.json: an interrupted \
                 `burngpt prepare`? Prepare it again, or keep only llm.c shards there",
                path.display()
            );
        }
        let (dtype, len) = llmc_header::parse(&map, path)?;
        Ok(Self { map, path: path.to_path_buf(), format: ShardFormat::Llmc, dtype, vocab_size, len })
    }

    /// Opens and checks a burngpt token file: magic, version, dtype, and a size that matches the header.
    pub fn open(path: &Path) -> Result<Self> {
        let map = map_file(path)?;
        let shown = path.display();
        if map.len() < HEADER_LEN || &map[0..4] != MAGIC {
            let llmc = if llmc_header::has_llmc_magic(&map) { " (it is an llm.c shard: use its directory as data.path)" } else { "" };
            bail!("{shown} is not a burngpt token file (bad header){llmc}; run `burngpt prepare` again");
        }
        let u32_at = |at: usize| u32::from_le_bytes([map[at], map[at + 1], map[at + 2], map[at + 3]]);
        let version = u32_at(4);
        if version != VERSION {
            bail!("{shown}: token file format version {version}, this build reads version {VERSION}");
        }
        let dtype = match u32_at(8) {
            2 => TokenDtype::U16,
            4 => TokenDtype::U32,
            other => bail!("{shown}: corrupted header ({other} bytes per token; expected 2 or 4)"),
        };
        let vocab_size = u32_at(12) as usize;
        let mut count = [0u8; 8];
        count.copy_from_slice(&map[16..24]);
        let len = u64::from_le_bytes(count);
        // Checked: a damaged count (up to 2^64 - 1) must not overflow into a size that matches.
        let expected = len.checked_mul(dtype.bytes() as u64).and_then(|b| b.checked_add(HEADER_LEN as u64));
        if expected != Some(map.len() as u64) {
            let expected = expected.map_or_else(|| "more than 2^64".to_string(), |b| b.to_string());
            bail!(
                "{shown} is truncated or corrupted: its header promises {len} {} tokens ({expected} bytes) but the file has {} bytes",
                dtype.name(),
                map.len()
            );
        }
        // At most the file's length, so it fits a usize.
        let len = len as usize;
        Ok(Self { map, path: path.to_path_buf(), format: ShardFormat::Burngpt, dtype, vocab_size, len })
    }

    /// Which header it has.
    pub fn format(&self) -> ShardFormat {
        self.format
    }

    /// The whole file: header and ids.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file holds no token.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The vocabulary its ids are checked against: recorded when the file was written (burngpt),
    /// or the tokenizer's (llm.c).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// How ids are stored.
    pub fn dtype(&self) -> TokenDtype {
        self.dtype
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends tokens `start..start + n` to `out`, checking each id against the vocabulary: a
    /// damaged id is an error naming the file and the token's index in it.
    pub fn read_into(&self, start: usize, n: usize, out: &mut Vec<i64>) -> Result<()> {
        if start + n > self.len {
            bail!("{}: window {start}..{} is past the last token ({})", self.path.display(), start + n, self.len);
        }
        let (width, header) = (self.dtype.bytes(), self.format.header_len());
        let bytes = &self.map[header + start * width..header + (start + n) * width];
        for (k, chunk) in bytes.chunks_exact(width).enumerate() {
            let id = match self.dtype {
                TokenDtype::U16 => u16::from_le_bytes([chunk[0], chunk[1]]) as u32,
                TokenDtype::U32 => u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
            };
            if id as usize >= self.vocab_size {
                bail!(
                    "{}: token id {id} (token {} of the file) is outside its vocabulary of {} (corrupted file, or \
                     another tokenizer's)",
                    self.path.display(),
                    start + k,
                    self.vocab_size
                );
            }
            out.push(id as i64);
        }
        Ok(())
    }

    /// Every token (for tests and small files).
    pub fn to_vec(&self) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(self.len);
        self.read_into(0, self.len, &mut out)?;
        Ok(out.into_iter().map(|t| t as u32).collect())
    }
}
