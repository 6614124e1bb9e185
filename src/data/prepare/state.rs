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

use super::shard_writer::Shard;
use super::source::{Position, TextSource};
use crate::run_dir::{hash_bytes, hash_file, write_atomic};

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
    /// Checksum of the rest (this state with `checksum: None`, as compact JSON), set by
    /// [`PrepareState::save`]: a damaged or edited state that still parses is not continued, since
    /// a changed position or count would give other files than a preparation from scratch.
    #[serde(default)]
    pub checksum: Option<String>,
}

impl PrepareState {
    /// A fresh state for `fingerprint`.
    pub fn new(fingerprint: String) -> Self {
        Self { fingerprint, ..Self::default() }
    }

    /// The state an interrupted `prepare` of the same `fingerprint` left in `dir`, checked against
    /// its own checksum, its position against the `source`, and every recorded file
    /// against its checksum; `None` when there is none to continue (no state, a damaged one,
    /// another fingerprint, or a recorded file missing or changed): `prepare` then starts over.
    pub fn resumable(dir: &Path, fingerprint: &str, source: &TextSource) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(STATE_FILE)).ok()?;
        let state: Self = serde_json::from_str(&text).ok()?;
        if state.checksum.is_none() || state.checksum != state.sealed().ok()?.checksum {
            return None;
        }
        if !source.holds(state.resume_at) {
            return None;
        }
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

    /// This state with its checksum.
    fn sealed(&self) -> Result<Self> {
        let unsealed = Self { checksum: None, ..self.clone() };
        let checksum = Some(hash_bytes(serde_json::to_string(&unsealed)?.as_bytes()));
        Ok(Self { checksum, ..unsealed })
    }

    /// Writes the state, with its checksum, to `dir/prepare.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(STATE_FILE);
        let json = serde_json::to_string_pretty(&self.sealed()?)?;
        write_atomic(&path, json.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Tokens in finished shards.
    pub fn tokens(&self, train: bool) -> u64 {
        let list = if train { &self.train } else { &self.val };
        list.iter().map(|r| r.shard.tokens).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state saved in `dir` after the tokenizer, for a corpus of one 100-byte file.
    fn saved(dir: &Path) -> (PrepareState, TextSource) {
        let corpus = dir.join("corpus.txt");
        std::fs::write(&corpus, "a".repeat(100)).expect("write corpus");
        let state = PrepareState { tokenizer_hash: Some("blake3:00".to_string()), ..PrepareState::new("fp".to_string()) };
        state.save(dir).expect("save");
        (state, TextSource::new(&corpus, "text").expect("source"))
    }

    #[test]
    fn a_saved_state_is_resumable_as_it_was() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (state, files) = saved(dir.path());
        let resumed = PrepareState::resumable(dir.path(), "fp", &files).expect("resumable");
        assert_eq!(PrepareState { checksum: None, ..resumed }, state);
        assert!(PrepareState::resumable(dir.path(), "other", &files).is_none());
    }

    /// An edit that keeps the JSON valid (here `resume_chars` 0 -> 10, which would shift the
    /// train/validation split) is not continued: prepare starts over instead of writing other files.
    #[test]
    fn an_edited_state_is_not_resumed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_, files) = saved(dir.path());
        let path = dir.path().join(STATE_FILE);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("\"resume_chars\": 0"), "{text}");
        std::fs::write(&path, text.replace("\"resume_chars\": 0", "\"resume_chars\": 10")).expect("write");
        assert!(PrepareState::resumable(dir.path(), "fp", &files).is_none());
    }

    /// A position outside the source (file 3 of 1; an offset past the file's end) is not
    /// continued, even with a checksum that matches: encoding from file 3 sliced the source's file
    /// list past its end, a panic.
    #[test]
    fn a_position_outside_the_source_is_not_resumed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (state, files) = saved(dir.path());
        for (file, offset) in [(3, 0), (0, 101)] {
            PrepareState { resume_at: Position { file, offset, record: 0 }, ..state.clone() }.save(dir.path()).expect("save");
            assert!(PrepareState::resumable(dir.path(), "fp", &files).is_none(), "file {file}, offset {offset}");
        }
        PrepareState { resume_at: Position { file: 0, offset: 100, record: 0 }, ..state }.save(dir.path()).expect("save");
        assert!(PrepareState::resumable(dir.path(), "fp", &files).is_some());
    }
}
