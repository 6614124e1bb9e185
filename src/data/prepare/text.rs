//! Corpus preparation: text -> tokenizer + token files (`train.bin`, `val.bin`, more shards for
//! large corpora) + `data.json`, once, in memory bounded by `data.prepare_buffer_bytes`.
//!
//! Pass 1 counts characters (the train/validation split is by characters) and collects the
//! alphabet; pass 2 trains the tokenizer on the training split, streamed (or on a seeded sample of
//! its chunks, [`super::bpe_sample`]); pass 3 encodes the corpus into shards ([`super::encode`]).
//! An interrupted `prepare` continues from its last finished shard ([`super::state`]).

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::bpe_sample::build_tokenizer;
use super::bpe_vocab::{check_bpe_text, check_bpe_vocab};
use super::encode::{encode, EncodeJob};
use super::progress::mib;
use super::scan::scan;
use super::source::TextSource;
use super::state::{PrepareState, ShardRecord, STATE_FILE};
use crate::data::config::DataConfig;
use crate::data::meta::{bpe_target, read_meta, DataMeta};
use crate::data::open::{is_prepared_dir, open_checked, open_corpus};
use crate::data::prepared::PreparedData;
use crate::data::token_dtype::TokenDtype;
use crate::data::tokenizer::Tokenizer;
use crate::host_memory::MemoryCheck;
use crate::run_dir::{hash_file, write_atomic, Manifest, META_FILE, TOKENIZER_FILE};

/// Changes whenever the same inputs and settings would give other files.
const FORMAT: &str = "prepare-2";

/// What identifies a preparation: the source's contents and every setting that changes the files.
fn fingerprint(data: &DataConfig, source_hash: &str) -> String {
    format!(
        "{FORMAT} {source_hash} {} {:?} {:?} {} {} {} {} {:?} {:?}",
        data.tokenizer.name(),
        bpe_target(data),
        data.tokenizer_file,
        data.train_fraction,
        data.bpe_sample_bytes,
        data.sample_seed,
        data.shard_tokens,
        data.path,
        data.text_field
    )
}

/// The prepared data for a new run in `dir`: `data.path` itself when it is a prepared
/// directory, else `dir`, prepared now unless it already holds this corpus (the same contents,
/// by checksum) with these settings. A resumed run opens its data with [`crate::data::open_run_data`]
/// instead and never prepares. A BPE vocabulary beyond the corpus or `memory` is refused first.
pub fn ensure_prepared(data: &DataConfig, dir: &Path, memory: &MemoryCheck, log: &mut dyn FnMut(&str)) -> Result<PreparedData> {
    if is_prepared_dir(&data.path) {
        return open_corpus(&data.path, data.tokenizer_file.as_deref());
    }
    let reused = prepare_unless_done(data, dir, memory, log)?.1;
    // Just written and checksummed: no need to read the files back again.
    open_checked(dir, reused)
}

/// [`prepare`] into `dir` unless it holds this corpus (by checksum) prepared with these settings
/// already; returns its description and whether it was there already.
pub(super) fn prepare_unless_done(
    data: &DataConfig,
    dir: &Path,
    memory: &MemoryCheck,
    log: &mut dyn FnMut(&str),
) -> Result<(DataMeta, bool)> {
    let source = TextSource::new(&data.path, &data.text_field)?;
    check_bpe_vocab(data, source.text_bytes_bound(), memory)?;
    let source_hash = source.content_hash()?;
    if let Ok(meta) = read_meta(dir) {
        if meta.matches(data, &source_hash) {
            log(&format!("Using prepared data in {}", dir.display()));
            return Ok((meta, true));
        }
        log(&format!("Prepared data in {} is for other settings: preparing again", dir.display()));
    }
    Ok((prepare_source(data, &source, source_hash, dir, log)?, false))
}

/// Tokenizes `data.path` into `dir`: trains (or, for char, collects) the tokenizer on the
/// training split, then writes the token files and `data.json`. Continues an interrupted
/// preparation of the same corpus with the same settings from its last finished shard. A BPE
/// vocabulary beyond the corpus, or whose trainer does not fit in `memory`, is refused first.
pub fn prepare(data: &DataConfig, dir: &Path, memory: &MemoryCheck, log: &mut dyn FnMut(&str)) -> Result<DataMeta> {
    let source = TextSource::new(&data.path, &data.text_field)?;
    check_bpe_vocab(data, source.text_bytes_bound(), memory)?;
    let source_hash = source.content_hash()?;
    prepare_source(data, &source, source_hash, dir, log)
}

/// [`prepare`] of `source`, whose checksum the caller computed already.
fn prepare_source(
    data: &DataConfig,
    source: &TextSource,
    source_hash: String,
    dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<DataMeta> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let fingerprint = fingerprint(data, &source_hash);
    let mut state = match PrepareState::resumable(dir, &fingerprint, source) {
        Some(state) => {
            let shards = state.train.len() + state.val.len();
            log(&format!("Continuing the preparation in {} after its {shards} finished shards", dir.display()));
            state
        }
        None => PrepareState::new(fingerprint),
    };
    // From here until the new data.json, the directory does not hold a complete preparation.
    match std::fs::remove_file(dir.join(META_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot remove {}", dir.join(META_FILE).display()));
        }
        _ => {}
    }

    // Pass 1: characters, bytes, documents and alphabet.
    let total_bytes = source.bytes();
    let scan = scan(source)?;
    let chars = scan.chars;
    if chars == 0 {
        bail!("data.path: {} holds no text", data.path.display());
    }
    let train_chars = (chars as f64 * data.train_fraction).floor() as u64;
    check_splits(data, "characters", train_chars, chars - train_chars, 1)?;
    check_bpe_text(data, scan.text_bytes)?;
    log(&format!("Preparing {} ({chars} characters, {:.1} MiB) ...", data.path.display(), mib(total_bytes)));

    // Pass 2: the tokenizer, trained on the training split only (or read from tokenizer_file).
    let tokenizer_path = dir.join(TOKENIZER_FILE);
    let saved = state.tokenizer_hash.as_ref().filter(|h| hash_file(&tokenizer_path).is_ok_and(|f| &f == *h));
    let tokenizer = match saved {
        Some(_) => Tokenizer::load(&tokenizer_path)?,
        None => {
            let started = Instant::now();
            let (tokenizer, separator) = build_tokenizer(data, source, scan, train_chars, log)?;
            tokenizer.save(&tokenizer_path)?;
            log(&format!("Tokenizer ready in {:.1} s", started.elapsed().as_secs_f64()));
            state = PrepareState { tokenizer_hash: Some(hash_file(&tokenizer_path)?), separator, ..PrepareState::new(state.fingerprint) };
            state.save(dir)?;
            tokenizer
        }
    };
    let vocab_size = tokenizer.vocab_size();

    // Pass 3: encode both splits into shards.
    let started = Instant::now();
    let job = EncodeJob {
        source,
        dir,
        tokenizer: &tokenizer,
        separator: state.separator,
        train_chars,
        shard_tokens: data.shard_tokens,
        buffer_bytes: data.prepare_buffer_bytes,
        total_bytes,
    };
    let (encoded_chars, encoded_tokens) = encode(&job, &mut state)?;
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let (train_tokens, val_tokens) = (state.tokens(true), state.tokens(false));
    // Training and evaluation read windows of a token and the next one: at least 2 per split.
    check_splits(data, "tokens", train_tokens, val_tokens, 2)?;
    log(&format!(
        "Encoded {encoded_chars} characters into {encoded_tokens} tokens in {secs:.1} s: {:.0} characters/s, {:.0} tokens/s",
        encoded_chars as f64 / secs,
        encoded_tokens as f64 / secs
    ));

    let dtype = TokenDtype::for_vocab(vocab_size).name().to_string();
    let mut files = Manifest::default();
    files.add_file(dir, TOKENIZER_FILE)?;
    for record in state.train.iter().chain(&state.val) {
        files.add_hash(&record.shard.name, &record.hash);
    }
    let names = |records: &[ShardRecord]| records.iter().map(|r| r.shard.name.clone()).collect();
    let meta = DataMeta {
        source: data.path.clone(),
        source_bytes: total_bytes,
        source_hash: Some(source_hash),
        tokenizer: data.tokenizer,
        bpe_vocab_size: bpe_target(data),
        train_fraction: data.train_fraction,
        tokenizer_file: data.tokenizer_file.clone(),
        vocab_size,
        dtype,
        chars,
        train_chars,
        val_chars: chars - train_chars,
        train_tokens,
        val_tokens,
        files,
        train_shards: names(&state.train),
        val_shards: names(&state.val),
        separator: state.separator,
        bpe_sample_bytes: data.bpe_sample_bytes,
        sample_seed: data.sample_seed,
        shard_tokens: data.shard_tokens,
        text_field: data.text_field.clone(),
    };
    write_atomic(&dir.join(META_FILE), serde_json::to_string_pretty(&meta)?.as_bytes())?;
    let _ = std::fs::remove_file(dir.join(STATE_FILE)); // data.json now says the directory is complete
    log(&format!("Prepared {} train and {} val tokens in {}", meta.train_tokens, meta.val_tokens, dir.display()));
    Ok(meta)
}

/// Fails, naming the corpus and the split fraction, when the training or the validation split
/// holds fewer than `least` `unit`s (`train` and `val` of them).
fn check_splits(data: &DataConfig, unit: &str, train: u64, val: u64, least: u64) -> Result<()> {
    if train < least || val < least {
        bail!(
            "data.path (--input) {}: split by data.train_fraction (--train-fraction) = {}, it gives {train} {unit} \
             for training and {val} for validation, and each split needs at least {least}; use a longer corpus or \
             another train_fraction",
            data.path.display(),
            data.train_fraction
        );
    }
    Ok(())
}
