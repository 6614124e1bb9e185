//! A split's tokens as one or more token files (shards), read as one memory-mapped stream (the
//! shards are written by [`super::prepare`]).

use std::path::Path;

use anyhow::{bail, Result};

use super::token_dtype::TokenDtype;
use super::tokens::TokenFile;

/// Token files read as one sequence: token `i` of the stream is token `i - start` of the shard
/// that holds it.
pub struct TokenStream {
    shards: Vec<TokenFile>,
    /// Index of each shard's first token in the stream, then the total.
    starts: Vec<usize>,
}

impl TokenStream {
    /// Opens the shards `names` of `dir`, in order; they must share one vocabulary.
    pub fn open(dir: &Path, names: &[String]) -> Result<Self> {
        if names.is_empty() {
            bail!("{}: a split without token files", dir.display());
        }
        let shards = names.iter().map(|n| TokenFile::open(&dir.join(n))).collect::<Result<Vec<_>>>()?;
        let vocab = shards[0].vocab_size();
        if let Some(odd) = shards.iter().find(|s| s.vocab_size() != vocab) {
            // Either may be the damaged one: name both.
            bail!(
                "{}: vocabulary of {} ids, but the split's first shard {} has {vocab}",
                odd.path().display(),
                odd.vocab_size(),
                shards[0].path().display()
            );
        }
        Ok(Self::from_files(shards))
    }

    /// Opens the llm.c shards `names` of `dir`, in order: headers and sizes are checked now,
    /// every id against `vocab_size` (the tokenizer's) as it is read.
    pub fn open_llmc(dir: &Path, names: &[String], vocab_size: usize) -> Result<Self> {
        if names.is_empty() {
            bail!("{}: a split without token files", dir.display());
        }
        let shards = names.iter().map(|n| TokenFile::open_llmc(&dir.join(n), vocab_size)).collect::<Result<Vec<_>>>()?;
        Ok(Self::from_files(shards))
    }

    fn from_files(shards: Vec<TokenFile>) -> Self {
        let mut starts = vec![0];
        for s in &shards {
            starts.push(starts[starts.len() - 1] + s.len());
        }
        Self { shards, starts }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.starts[self.shards.len()]
    }

    /// Whether the stream holds no token.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The vocabulary size recorded in the token files.
    pub fn vocab_size(&self) -> usize {
        self.shards[0].vocab_size()
    }

    /// How ids are stored.
    pub fn dtype(&self) -> TokenDtype {
        self.shards[0].dtype()
    }

    /// The token files.
    pub fn shards(&self) -> &[TokenFile] {
        &self.shards
    }

    /// Appends tokens `start..start + n` to `out`, across shard boundaries.
    pub fn read_into(&self, start: usize, n: usize, out: &mut Vec<i64>) -> Result<()> {
        if start + n > self.len() {
            bail!("{}: window {start}..{} is past the last token ({})", self.shards[0].path().display(), start + n, self.len());
        }
        let (mut at, end) = (start, start + n);
        // The shard holding token `at`: the last whose first token is at or before it.
        let mut k = self.starts.partition_point(|&s| s <= at) - 1;
        while at < end {
            let take = end.min(self.starts[k + 1]) - at;
            self.shards[k].read_into(at - self.starts[k], take, out)?;
            at += take;
            k += 1;
        }
        Ok(())
    }

    /// Every token (for tests and small splits).
    pub fn to_vec(&self) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(self.len());
        self.read_into(0, self.len(), &mut out)?;
        Ok(out.into_iter().map(|t| t as u32).collect())
    }
}
