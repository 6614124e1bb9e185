//! Writing a split's tokens into one or more token files (shards), in order.
//!
//! Shard 0 of the training split is `train.bin`, shard `k > 0` is `train.k.bin` (likewise
//! `val.bin`, `val.k.bin`), so a corpus that fits one shard keeps the single-file layout.

use std::path::Path;

use anyhow::Result;

use super::token_writer::TokenWriter;

/// The file name of shard `index` of the split whose shard 0 is `first` (`train.bin`).
pub fn shard_name(first: &str, index: usize) -> String {
    match (index, first.strip_suffix(".bin")) {
        (0, _) | (_, None) => first.to_string(),
        (k, Some(stem)) => format!("{stem}.{k}.bin"),
    }
}

/// A finished shard: its file name and token count.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// File name in the prepared directory.
    pub name: String,
    /// Tokens it holds.
    pub tokens: u64,
}

/// Writes a split's tokens into shards of about `shard_tokens` tokens each. A shard is closed
/// (synced and renamed into place) by [`ShardWriter::end_shard_if_full`], called where the
/// caller can resume from, and by [`ShardWriter::finish`].
pub struct ShardWriter<'a> {
    dir: &'a Path,
    first: &'static str,
    vocab_size: usize,
    shard_tokens: u64,
    next_index: usize,
    current: Option<TokenWriter>,
}

impl<'a> ShardWriter<'a> {
    /// A writer whose next shard is number `next_index` (0 for a new split; more when
    /// continuing after `next_index` finished shards).
    pub fn new(dir: &'a Path, first: &'static str, vocab_size: usize, shard_tokens: u64, next_index: usize) -> Self {
        Self { dir, first, vocab_size, shard_tokens: shard_tokens.max(1), next_index, current: None }
    }

    /// Appends `ids` to the open shard (opening one if needed).
    pub fn push(&mut self, ids: &[u32]) -> Result<()> {
        let writer = match &mut self.current {
            Some(w) => w,
            None => {
                let path = self.dir.join(shard_name(self.first, self.next_index));
                self.current.insert(TokenWriter::create(&path, self.vocab_size)?)
            }
        };
        writer.push(ids)
    }

    /// Closes the open shard when it holds `shard_tokens` or more.
    pub fn end_shard_if_full(&mut self) -> Result<Option<Shard>> {
        match &self.current {
            Some(w) if w.count() >= self.shard_tokens => self.end_shard(),
            _ => Ok(None),
        }
    }

    /// Closes the open shard (if any); a split that wrote nothing gets one empty shard, so that
    /// every split has a file.
    pub fn finish(mut self) -> Result<Option<Shard>> {
        if self.current.is_none() && self.next_index == 0 {
            self.push(&[])?;
        }
        self.end_shard()
    }

    fn end_shard(&mut self) -> Result<Option<Shard>> {
        let Some(writer) = self.current.take() else { return Ok(None) };
        let tokens = writer.finish()?;
        let name = shard_name(self.first, self.next_index);
        self.next_index += 1;
        Ok(Some(Shard { name, tokens }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::shards::TokenStream;

    #[test]
    fn shard_names_keep_the_single_file_layout() {
        assert_eq!(shard_name("train.bin", 0), "train.bin");
        assert_eq!(shard_name("train.bin", 1), "train.1.bin");
        assert_eq!(shard_name("val.bin", 12), "val.12.bin");
    }

    /// 10 ids pushed as [0, 1], [2, 3, 4], [5], [6, 7, 8], [9] into shards of at least 4: a shard
    /// closes after the push that fills it, so [0..5), [5..9), [9..10); every window, across
    /// shard boundaries or not, reads the ids in order.
    #[test]
    fn a_stream_reads_windows_across_shards() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut w = ShardWriter::new(dir.path(), "train.bin", 100, 4, 0);
        let mut shards = Vec::new();
        for ids in [&[0u32, 1][..], &[2, 3, 4], &[5], &[6, 7, 8], &[9]] {
            w.push(ids).expect("push");
            shards.extend(w.end_shard_if_full().expect("end"));
        }
        shards.extend(w.finish().expect("finish"));
        let names: Vec<String> = shards.iter().map(|s| s.name.clone()).collect();
        assert_eq!(names, ["train.bin", "train.1.bin", "train.2.bin"]);
        assert_eq!(shards.iter().map(|s| s.tokens).collect::<Vec<_>>(), [5, 4, 1]);
        let stream = TokenStream::open(dir.path(), &names).expect("open");
        assert_eq!(stream.len(), 10);
        for start in 0..10 {
            for n in 0..=10 - start {
                let mut out = Vec::new();
                stream.read_into(start, n, &mut out).expect("read");
                assert_eq!(out, (start as i64..(start + n) as i64).collect::<Vec<_>>(), "window {start}+{n}");
            }
        }
        assert!(stream.read_into(8, 3, &mut Vec::new()).is_err());
    }

    /// Shards of two vocabularies: either may be the damaged one, so the error names both (it
    /// named only the second, when a flipped header of the first was the damage).
    #[test]
    fn shards_of_two_vocabularies_are_an_error_naming_both() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, vocab) in [("train.bin", 59), ("train.1.bin", 58)] {
            let mut w = TokenWriter::create(&dir.path().join(name), vocab).expect("create");
            w.push(&[1, 2]).expect("push");
            w.finish().expect("finish");
        }
        let names = ["train.bin".to_string(), "train.1.bin".to_string()];
        let err = format!("{:#}", TokenStream::open(dir.path(), &names).err().expect("fails"));
        assert!(err.contains("train.1.bin: vocabulary of 58 ids, but the split's first shard"), "{err}");
        assert!(err.contains("train.bin has 59"), "{err}");
    }
}
