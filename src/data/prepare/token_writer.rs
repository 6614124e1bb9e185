//! [`TokenWriter`]: token ids streamed into a new token file, burngpt's or an llm.c shard
//! ([`ShardFormat`]), written safely: a temporary beside it, synced, then renamed into place.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::data::llmc_header;
use crate::data::tokens::{ShardFormat, TokenDtype, HEADER_LEN, MAGIC, VERSION};
use crate::run_dir::{create_new, rename_synced, TempGuard};

/// Streams token ids into a new token file: a temporary beside it (`train.bin.tmp`), renamed into
/// place by `finish`. A writer dropped unfinished (a failed write, a full disk) removes its
/// temporary, so a failed `prepare` leaves no partial token file filling the disk.
pub struct TokenWriter {
    out: BufWriter<File>,
    tmp: PathBuf,
    guard: TempGuard,
    path: PathBuf,
    format: ShardFormat,
    dtype: TokenDtype,
    vocab_size: usize,
    count: u64,
}

impl TokenWriter {
    /// Starts `path` for ids below `vocab_size`. Whatever is at the temporary's name (a
    /// temporary a crash left, a link planted there) is replaced, never written through.
    pub fn create(path: &Path, vocab_size: usize) -> Result<Self> {
        Self::create_as(path, vocab_size, ShardFormat::Burngpt)
    }

    /// [`TokenWriter::create`] with the header of `format`. llm.c shards take u16 ids (GPT-2's
    /// header) when the vocabulary fits 65,536 ids, else u32 (llm.c's Llama 3 header).
    pub fn create_as(path: &Path, vocab_size: usize, format: ShardFormat) -> Result<Self> {
        // `x_train_000001.bin.tmp`: llm.c's glob (`*_train_*.bin`) never takes it for a shard.
        let tmp = path.with_extension("bin.tmp");
        let file = create_new(&tmp)?;
        let guard = TempGuard::new(&tmp);
        let mut out = BufWriter::new(file);
        let reserved = vec![0u8; format.header_len()];
        out.write_all(&reserved).with_context(|| format!("cannot write {}", tmp.display()))?;
        let dtype = TokenDtype::for_vocab(vocab_size);
        Ok(Self { out, tmp, guard, path: path.to_path_buf(), format, dtype, vocab_size, count: 0 })
    }

    /// Appends `ids`.
    pub fn push(&mut self, ids: &[u32]) -> Result<()> {
        let count = self.count + ids.len() as u64;
        if self.format == ShardFormat::Llmc && count > i32::MAX as u64 {
            // Refused before the write, not after gigabytes: the count must fit llm.c's int32.
            llmc_header::header(self.dtype, count, &self.path)?;
        }
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
        let Self { mut out, tmp, guard, path, format, dtype, vocab_size, count } = self;
        let header = match format {
            ShardFormat::Burngpt => burngpt_header(dtype, vocab_size, count).to_vec(),
            ShardFormat::Llmc => llmc_header::header(dtype, count, &path)?.to_vec(),
        };
        let written = out.seek(SeekFrom::Start(0)).and_then(|_| out.write_all(&header));
        written.with_context(|| format!("cannot write {}", tmp.display()))?;
        let file = out.into_inner().map_err(|e| e.into_error()).with_context(|| format!("cannot write {}", tmp.display()))?;
        file.sync_all().with_context(|| format!("cannot sync {}", tmp.display()))?;
        rename_synced(&tmp, &path)?;
        guard.keep();
        Ok(count)
    }
}

/// burngpt's header of a file of `count` ids of `dtype` below `vocab_size`.
fn burngpt_header(dtype: TokenDtype, vocab_size: usize, count: u64) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0..4].copy_from_slice(MAGIC);
    header[4..8].copy_from_slice(&VERSION.to_le_bytes());
    header[8..12].copy_from_slice(&(dtype.bytes() as u32).to_le_bytes());
    header[12..16].copy_from_slice(&(vocab_size as u32).to_le_bytes());
    header[16..24].copy_from_slice(&count.to_le_bytes());
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TokenFile;

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

    /// An llm.c writer: GPT-2's header and u16 ids for a vocabulary of 65,536, Llama 3's and u32
    /// for 65,537; read back by `open_llmc`, and refused by burngpt's own `open` with a hint.
    #[test]
    fn an_llmc_writer_writes_shards_that_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (vocab, dtype, magic) in [(65_536, TokenDtype::U16, 20240520), (65_537, TokenDtype::U32, 20240801)] {
            let path = dir.path().join(format!("x_train_{vocab}.bin"));
            let mut w = TokenWriter::create_as(&path, vocab, ShardFormat::Llmc).expect("create");
            w.push(&[0, vocab as u32 - 1, 7]).expect("push");
            assert_eq!(w.finish().expect("finish"), 3);
            let bytes = std::fs::read(&path).expect("read");
            assert_eq!(bytes.len(), 1024 + 3 * dtype.bytes());
            assert_eq!(i32::from_le_bytes(bytes[0..4].try_into().expect("4")), magic);
            let file = TokenFile::open_llmc(&path, vocab).expect("open");
            assert_eq!((file.dtype(), file.format()), (dtype, ShardFormat::Llmc));
            assert_eq!(file.to_vec().expect("ids"), [0, vocab as u32 - 1, 7]);
            let err = format!("{:#}", TokenFile::open(&path).err().expect("not burngpt's"));
            assert!(err.contains("not a burngpt token file (bad header) (it is an llm.c shard"), "{err}");
        }
    }
}
