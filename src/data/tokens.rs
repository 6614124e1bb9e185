//! Token files: `train.bin` / `val.bin`, a 32-byte header then little-endian token ids.
//!
//! Header: magic `BGPT`, format version (u32), bytes per token (u32: 2 or 4), vocabulary
//! size (u32), token count (u64), 8 reserved bytes. Files are read memory-mapped, so a
//! corpus larger than memory trains.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use memmap2::Mmap;

use crate::run_dir::{create_new, rename_synced, TempGuard};

const MAGIC: &[u8; 4] = b"BGPT";
const VERSION: u32 = 1;
/// Bytes before the first token.
pub const HEADER_LEN: usize = 32;

/// How token ids are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenDtype {
    /// 2 bytes per token: vocabularies of at most 65,536 ids.
    U16,
    /// 4 bytes per token.
    U32,
}

impl TokenDtype {
    /// The smallest type that holds every id of a `vocab_size` vocabulary.
    pub fn for_vocab(vocab_size: usize) -> Self {
        if vocab_size <= 1 << 16 {
            Self::U16
        } else {
            Self::U32
        }
    }

    /// Bytes per token.
    pub fn bytes(self) -> usize {
        match self {
            Self::U16 => 2,
            Self::U32 => 4,
        }
    }

    /// `"u16"` or `"u32"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::U16 => "u16",
            Self::U32 => "u32",
        }
    }
}

/// Streams token ids into a new token file: a temporary beside it (`train.bin.tmp`), renamed into
/// place by `finish`. A writer dropped unfinished (a failed write, a full disk) removes its
/// temporary, so a failed `prepare` leaves no partial token file filling the disk.
pub struct TokenWriter {
    out: BufWriter<File>,
    tmp: PathBuf,
    guard: TempGuard,
    path: PathBuf,
    dtype: TokenDtype,
    vocab_size: usize,
    count: u64,
}

impl TokenWriter {
    /// Starts `path` for ids below `vocab_size`. Whatever is at the temporary's name (a
    /// temporary a crash left, a link planted there) is replaced, never written through.
    pub fn create(path: &Path, vocab_size: usize) -> Result<Self> {
        let tmp = path.with_extension("bin.tmp");
        let file = create_new(&tmp)?;
        let guard = TempGuard::new(&tmp);
        let mut out = BufWriter::new(file);
        out.write_all(&[0u8; HEADER_LEN]).with_context(|| format!("cannot write {}", tmp.display()))?;
        let dtype = TokenDtype::for_vocab(vocab_size);
        Ok(Self { out, tmp, guard, path: path.to_path_buf(), dtype, vocab_size, count: 0 })
    }

    /// Appends `ids`.
    pub fn push(&mut self, ids: &[u32]) -> Result<()> {
        for &id in ids {
            if id as usize >= self.vocab_size {
                bail!("token id {id} is outside the vocabulary of {} ids", self.vocab_size);
            }
            let written = match self.dtype {
                TokenDtype::U16 => self.out.write_all(&(id as u16).to_le_bytes()),
                TokenDtype::U32 => self.out.write_all(&id.to_le_bytes()),
            };
            written.with_context(|| format!("cannot write {}", self.tmp.display()))?;
        }
        self.count += ids.len() as u64;
        Ok(())
    }

    /// Tokens pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Writes the header, syncs and renames the file into place; returns the token count.
    pub fn finish(self) -> Result<u64> {
        let Self { mut out, tmp, guard, path, dtype, vocab_size, count } = self;
        let mut header = [0u8; HEADER_LEN];
        header[0..4].copy_from_slice(MAGIC);
        header[4..8].copy_from_slice(&VERSION.to_le_bytes());
        header[8..12].copy_from_slice(&(dtype.bytes() as u32).to_le_bytes());
        header[12..16].copy_from_slice(&(vocab_size as u32).to_le_bytes());
        header[16..24].copy_from_slice(&count.to_le_bytes());
        let written = out.seek(SeekFrom::Start(0)).and_then(|_| out.write_all(&header));
        written.with_context(|| format!("cannot write {}", tmp.display()))?;
        let file = out.into_inner().map_err(|e| e.into_error()).with_context(|| format!("cannot write {}", tmp.display()))?;
        file.sync_all().with_context(|| format!("cannot sync {}", tmp.display()))?;
        rename_synced(&tmp, &path)?;
        guard.keep();
        Ok(count)
    }
}

/// A memory-mapped token file.
pub struct TokenFile {
    map: Mmap,
    path: PathBuf,
    dtype: TokenDtype,
    vocab_size: usize,
    len: usize,
}

impl TokenFile {
    /// Opens and checks `path`: magic, version, dtype, and a size that matches the header.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open token file {}", path.display()))?;
        // SAFETY: the file is opened read-only and token files are only ever replaced by
        // rename, never modified in place, so the mapping stays valid while it is used.
        let map = unsafe { Mmap::map(&file) }.with_context(|| format!("cannot map {}", path.display()))?;
        let shown = path.display();
        if map.len() < HEADER_LEN || &map[0..4] != MAGIC {
            bail!("{shown} is not a burngpt token file (bad header); run `burngpt prepare` again");
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
        Ok(Self { map, path: path.to_path_buf(), dtype, vocab_size, len })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file holds no token.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The vocabulary size recorded when the file was written.
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

    /// Appends tokens `start..start + n` to `out`, checking each id against the vocabulary.
    pub fn read_into(&self, start: usize, n: usize, out: &mut Vec<i64>) -> Result<()> {
        if start + n > self.len {
            bail!("{}: window {start}..{} is past the last token ({})", self.path.display(), start + n, self.len);
        }
        let width = self.dtype.bytes();
        let bytes = &self.map[HEADER_LEN + start * width..HEADER_LEN + (start + n) * width];
        for chunk in bytes.chunks_exact(width) {
            let id = match self.dtype {
                TokenDtype::U16 => u16::from_le_bytes([chunk[0], chunk[1]]) as u32,
                TokenDtype::U32 => u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
            };
            if id as usize >= self.vocab_size {
                bail!("{}: token id {id} is outside its vocabulary of {} (corrupted file)", self.path.display(), self.vocab_size);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_dropped_unfinished_removes_its_temporary_and_a_finished_one_leaves_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("train.bin");
        let mut writer = TokenWriter::create(&path, 100).expect("create");
        writer.push(&[1, 2, 3]).expect("push");
        let tmp = dir.path().join("train.bin.tmp");
        assert!(tmp.is_file(), "the tokens go to the temporary first");
        drop(writer); // as when a push fails: the error returns and drops it
        assert!(!tmp.exists(), "an unfinished token file is removed");
        assert!(!path.exists());

        let mut writer = TokenWriter::create(&path, 100).expect("create");
        writer.push(&[7, 8]).expect("push");
        assert_eq!(writer.finish().expect("finish"), 2);
        assert!(!tmp.exists());
        assert_eq!(TokenFile::open(&path).expect("open").to_vec().expect("read"), vec![7, 8]);
    }

    /// A header whose count times the token width passes 2^64: 2^63 + 3 two-byte tokens wrap to
    /// the 6 bytes of 3 tokens, which the file has. It overflowed (a panic with overflow checks,
    /// and without them a file of 2^63 + 3 tokens whose reads went past its end).
    #[test]
    fn a_count_that_overflows_the_size_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("train.bin");
        let mut w = TokenWriter::create(&path, 10).expect("create");
        w.push(&[1, 2, 3]).expect("push");
        w.finish().expect("finish");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[16..24].copy_from_slice(&((1u64 << 63) + 3).to_le_bytes());
        std::fs::write(&path, &bytes).expect("write");
        let err = format!("{:#}", TokenFile::open(&path).err().expect("a bogus count fails"));
        assert!(err.contains("train.bin is truncated or corrupted"), "{err}");
        assert!(err.contains("promises 9223372036854775811 u16 tokens (more than 2^64 bytes)"), "{err}");
    }
}
