//! `burngpt prepare --format llmc`: a corpus written as llm.c token shards
//! (`burngpt_train_000000.bin`, ..., `burngpt_val_000000.bin`, found by llm.c's globs
//! `*_train_*.bin` / `*_val_*.bin`) with its `tokenizer.json`: llm.c and modded-nanogpt read it,
//! and so does burngpt ([`super::llmc_corpus`]).
//!
//! The corpus is prepared as burngpt's own files first, in a hidden working directory inside the
//! output ([`WORK_DIR`]; an interrupted preparation continues there from its last finished
//! shard), then each burngpt shard is copied into one llm.c shard: the same ids and the same
//! shard boundaries (`data.shard_tokens`) as `burngpt prepare` writes. The working directory is
//! removed at the end. Cost: the tokens are written twice, and take twice their space until the
//! end; what it buys is one encoder for both layouts.

use std::path::Path;

use anyhow::{Context, Result};

use super::state::STATE_FILE;
use super::text::prepare_unless_done;
use super::token_writer::TokenWriter;
use crate::data::config::DataConfig;
use crate::data::llmc_corpus::list_shards;
use crate::data::meta::DataMeta;
use crate::data::open::open_checked;
use crate::data::token_dtype::TokenDtype;
use crate::data::tokens::{ShardFormat, TokenFile};
use crate::host_memory::MemoryCheck;
use crate::run_dir::{remove_stale, sync_dir, write_atomic, META_FILE, TOKENIZER_FILE};

/// The first part of the shard names `prepare --format llmc` writes.
pub const LLMC_SHARD_PREFIX: &str = "burngpt";
/// Where the corpus is prepared in burngpt's layout before it is copied into llm.c shards.
pub const WORK_DIR: &str = ".burngpt-prepare";
/// Tokens copied at a time (8 MiB of ids in memory).
const COPY_TOKENS: usize = 1 << 20;

/// Prepares `data.path` into `out` as llm.c shards plus `tokenizer.json`, replacing whatever
/// corpus `out` held (the caller checks that this is wanted); returns what burngpt's own
/// preparation of the same corpus records.
pub fn prepare_llmc(data: &DataConfig, out: &Path, memory: &MemoryCheck, log: &mut dyn FnMut(&str)) -> Result<DataMeta> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let work = out.join(WORK_DIR);
    let (meta, reused) = prepare_unless_done(data, &work, memory, log)?;
    let prepared = open_checked(&work, reused)?;
    remove_corpus(out)?;
    let vocab = prepared.tokenizer.vocab_size();
    let mut written = 0;
    for (split, stream) in [("train", &prepared.train), ("val", &prepared.val)] {
        for (k, shard) in stream.shards().iter().enumerate() {
            copy_shard(shard, &out.join(format!("{LLMC_SHARD_PREFIX}_{split}_{k:06}.bin")), vocab)?;
            written += 1;
        }
    }
    // Last: a directory of shards without its tokenizer is not yet a corpus burngpt opens.
    write_atomic(&out.join(TOKENIZER_FILE), &prepared.tokenizer_json)?;
    drop(prepared);
    remove_stale(&work)?;
    sync_dir(out)?;
    let dtype = TokenDtype::for_vocab(vocab).name();
    log(&format!("Wrote {written} llm.c shards ({dtype} ids) and {TOKENIZER_FILE} in {}", out.display()));
    Ok(meta)
}

/// Removes the corpus `out` holds (burngpt's `data.json`, an unfinished preparation's state, and
/// every file the llm.c reader would take for a shard): no old shard may stay among the new ones.
fn remove_corpus(out: &Path) -> Result<()> {
    remove_stale(&out.join(META_FILE))?;
    remove_stale(&out.join(STATE_FILE))?;
    let listing = list_shards(out)?;
    for name in listing.train.iter().chain(&listing.val) {
        remove_stale(&out.join(name))?;
    }
    Ok(())
}

/// Writes the ids of `shard` into a new llm.c shard at `path`, a block at a time.
fn copy_shard(shard: &TokenFile, path: &Path, vocab: usize) -> Result<()> {
    let mut writer = TokenWriter::create_as(path, vocab, ShardFormat::Llmc)?;
    let mut block = Vec::with_capacity(COPY_TOKENS);
    for start in (0..shard.len()).step_by(COPY_TOKENS) {
        block.clear();
        shard.read_into(start, COPY_TOKENS.min(shard.len() - start), &mut block)?;
        // Ids come from a file checked against the same vocabulary: each fits a u32.
        let ids: Vec<u32> = block.iter().map(|&id| id as u32).collect();
        writer.push(&ids)?;
    }
    writer.finish()?;
    Ok(())
}
