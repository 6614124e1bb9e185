//! Opening a prepared directory: burngpt's (`data.json`, made by [`super::prepare`]) or llm.c's
//! token shards, and where a run keeps its prepared data.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::config::DataConfig;
use super::llmc_corpus::{is_llmc_dir, open_llmc};
use super::meta::read_meta;
use super::prepared::PreparedData;
use super::shards::TokenStream;
use super::tokenizer::{check_vocab, Tokenizer};
use super::tokens::ShardFormat;
use crate::run_dir::{META_FILE, TOKENIZER_FILE};

/// Whether `dir` is a prepared corpus: made by `burngpt prepare` (it has `data.json`), or a
/// directory of llm.c token shards.
pub fn is_prepared_dir(dir: &Path) -> bool {
    dir.join(META_FILE).is_file() || is_llmc_dir(dir)
}

/// Where a run in `run_dir` keeps its prepared data: `data.path` when it is a prepared
/// directory ([`is_prepared_dir`]), else the run directory itself.
pub fn data_dir(data: &DataConfig, run_dir: &Path) -> PathBuf {
    if is_prepared_dir(&data.path) {
        data.path.clone()
    } else {
        run_dir.to_path_buf()
    }
}

/// Opens a prepared directory and checks its files against their checksums and each other (an
/// llm.c directory: [`open_corpus`] with its own `tokenizer.json`).
pub fn open_prepared(dir: &Path) -> Result<PreparedData> {
    open_corpus(dir, None)
}

/// Opens the prepared corpus in `dir`: burngpt's (`data.json`), checked against its checksums,
/// or llm.c shards ([`super::llmc_corpus`]) with the tokenizer at `tokenizer_file`, else the
/// directory's `tokenizer.json` (a burngpt directory always uses its own).
pub fn open_corpus(dir: &Path, tokenizer_file: Option<&Path>) -> Result<PreparedData> {
    if !dir.join(META_FILE).is_file() && is_llmc_dir(dir) {
        return open_llmc(dir, tokenizer_file);
    }
    open_checked(dir, true)
}

/// [`open_prepared`] of burngpt's directory, with the checksums checked only when `verify`.
pub(super) fn open_checked(dir: &Path, verify: bool) -> Result<PreparedData> {
    let meta = read_meta(dir)?;
    if verify {
        meta.files.verify(dir, &dir.join(META_FILE)).with_context(|| format!("the prepared data in {} cannot be used", dir.display()))?;
    }
    let tokenizer_path = dir.join(TOKENIZER_FILE);
    let tokenizer_json = std::fs::read(&tokenizer_path).with_context(|| format!("cannot read tokenizer {}", tokenizer_path.display()))?;
    let tokenizer = Tokenizer::load(&tokenizer_path)?;
    // The shards are the ones data.json names: a damaged name is reported with it.
    let listed = |split: &str| format!("the {split} split listed in {}", dir.join(META_FILE).display());
    let train = TokenStream::open(dir, &meta.train_shards).with_context(|| listed("training"))?;
    let val = TokenStream::open(dir, &meta.val_shards).with_context(|| listed("validation"))?;
    for stream in [&train, &val] {
        for file in stream.shards() {
            check_vocab(&tokenizer, file.vocab_size(), &file.path().display().to_string())?;
        }
    }
    Ok(PreparedData { meta, tokenizer, train, val, format: ShardFormat::Burngpt, tokenizer_json })
}
