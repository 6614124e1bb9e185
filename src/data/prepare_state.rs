//! `prepare.json`: how far an unfinished `prepare` got, so that running it again with the same
//! inputs and settings continues after the last finished shard instead of starting over.
//!
//! It is written (atomically) after the tokenizer and after every finished shard, and removed
//! once `data.json` marks the directory complete. Each finished shard is recorded with its
//! checksum and the text position after its last chunk; a resumed `prepare` checks the
//! checksums, keeps those files as they are, and reads on from that position.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::shards::Shard;
use super::source::Position;
use crate::run_dir::{hash_file, write_atomic};

/// The file name.
pub const STATE_FILE: &str = "prepare.json";

/// A finished shard and its checksum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Name and token count.
    pub shard: Shard,
    /// `blake3:<hex>` of the file.
    pub hash: String,
}

/// Progress of one `prepare`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrepareState {
    /// What is being prepared: the source's checksum and every setting that changes the output.
    pub fingerprint: String,
    /// Checksum of `tokenizer.json`, once it is written.
    pub tokenizer_hash: Option<String>,
    /// The separator token between files, when there is one.
    pub separator: Option<u32>,
    /// Finished shards of the training split, in order.
    pub train: Vec<ShardRecord>,
    /// Whether the training split's last shard is among them.
    pub train_done: bool,
    /// Finished shards of the validation split, in order.
    pub val: Vec<ShardRecord>,
    /// Where reading continues: the end of the last chunk all of whose tokens are in
    /// finished shards.
    pub resume_at: Position,
    /// Characters of text before `resume_at`.
    pub resume_chars: u64,
}

impl PrepareState {
    /// A fresh state for `fingerprint`.
    pub fn new(fingerprint: String) -> Self {
        Self { fingerprint, ..Self::default() }
    }

    /// The state an interrupted `prepare` of the same `fingerprint` left in `dir`, with every
    /// recorded file checked against its checksum; `None` when there is none to continue
    /// (no state, another fingerprint, or a recorded file missing or changed).
    pub fn resumable(dir: &Path, fingerprint: &str) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(STATE_FILE)).ok()?;
        let state: Self = serde_json::from_str(&text).ok()?;
        let files_intact = state.train.iter().chain(&state.val).all(|r| {
            hash_file(&dir.join(&r.shard.name)).is_ok_and(|h| h == r.hash)
        });
        (state.fingerprint == fingerprint && files_intact).then_some(state)
    }

    /// Records a finished shard of the training (`train`) or validation split.
    pub fn record(&mut self, dir: &Path, train: bool, shard: Shard) -> Result<()> {
        let hash = hash_file(&dir.join(&shard.name))?;
        let list = if train { &mut self.train } else { &mut self.val };
        list.push(ShardRecord { shard, hash });
        Ok(())
    }

    /// Writes the state to `dir/prepare.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(STATE_FILE);
        let json = serde_json::to_string_pretty(self)?;
        write_atomic(&path, json.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Tokens in finished shards.
    pub fn tokens(&self, train: bool) -> u64 {
        let list = if train { &self.train } else { &self.val };
        list.iter().map(|r| r.shard.tokens).sum()
    }
}
