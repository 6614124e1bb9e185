//! A directory of llm.c token shards as a prepared corpus, read in place: FineWeb10B as llm.c and
//! modded-nanogpt train on it (`fineweb_train_000001.bin`, ..., `fineweb_val_000000.bin`), or what
//! `burngpt prepare --format llmc` writes ([`super::prepare::prepare_llmc`]).
//!
//! The `.bin` files whose names hold a part `train` or `val` (between `_`, `-` and `.`) are the
//! two splits, each read in name order as one memory-mapped stream. Headers and sizes are checked
//! when the directory is opened; every id is checked against the tokenizer's vocabulary as it is
//! read, so a damaged id is an error naming the shard and the token's index. Opening costs a few
//! reads per shard whatever the corpus's size (checking 10B ids of a 20 GB corpus up front would
//! read all of it at every start, resume and eval); the cost is one comparison per token read, and
//! a damaged training id surfaces only when a window holding it is drawn (the validation split is
//! read whole at the start of a run).
//!
//! What identifies the data in a run's `trained_on.json` ([`super::TrainedOn`]): the tokenizer's
//! checksum, and per shard its size and the checksum of its first and last 64 KiB (header
//! included) instead of a checksum of all of it, which would read 20 GB at every resume.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::config::{default_bpe_sample_bytes, default_sample_seed, default_shard_tokens};
use super::meta::DataMeta;
use super::prepared::PreparedData;
use super::shards::TokenStream;
use super::tokenizer::{load_tokenizer, Tokenizer};
use super::tokens::{ShardFormat, TokenFile};
use crate::run_dir::{hash_bytes, Manifest, META_FILE, TOKENIZER_FILE};

/// Bytes of each end of a shard that identify it ([`identity`]).
const SAMPLE_BYTES: usize = 64 << 10;

/// The shard names of a directory, per split, in name order.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Listing {
    /// Names with a part `train`.
    pub train: Vec<String>,
    /// Names with a part `val`.
    pub val: Vec<String>,
}

/// Whether `name` (a `.bin` file, not hidden) is a shard, and of which split: `Some(true)` for
/// training. A name with both parts is an error.
fn split_of(dir: &Path, name: &str) -> Result<Option<bool>> {
    let Some(stem) = name.strip_suffix(".bin").filter(|_| !name.starts_with('.')) else { return Ok(None) };
    let parts: Vec<&str> = stem.split(['_', '-', '.']).collect();
    match (parts.contains(&"train"), parts.contains(&"val")) {
        (true, true) => bail!("{}: the name has both `train` and `val`: its split is unclear", dir.join(name).display()),
        (train, val) => Ok((train || val).then_some(train)),
    }
}

/// The `.bin` files of `dir`: those named for a split, per split, in name order.
pub(super) fn list_shards(dir: &Path) -> Result<Listing> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut listing = Listing::default();
    for entry in entries {
        let name = entry.with_context(|| format!("cannot list {}", dir.display()))?.file_name();
        let Some(name) = name.to_str() else {
            bail!("{}: a file name that is not UTF-8 ({name:?})", dir.display());
        };
        match split_of(dir, name)? {
            Some(true) => listing.train.push(name.to_string()),
            Some(false) => listing.val.push(name.to_string()),
            None => {}
        }
    }
    listing.train.sort();
    listing.val.sort();
    Ok(listing)
}

/// Whether `dir` is a directory of llm.c shards: a directory without `data.json` holding a `.bin`
/// file that starts with an llm.c magic number (whether every shard is sound, [`open_llmc`]
/// checks and says). burngpt's own token files start otherwise, so the shards of an interrupted
/// `prepare` (no `data.json` yet) are not taken for an llm.c corpus.
pub fn is_llmc_dir(dir: &Path) -> bool {
    if !dir.is_dir() || dir.join(META_FILE).exists() {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let named = e.file_name().to_str().is_some_and(|n| n.ends_with(".bin") && !n.starts_with('.'));
        named && e.file_type().is_ok_and(|t| t.is_file()) && starts_with_llmc_magic(&e.path())
    })
}

/// Whether the file's first 4 bytes are llm.c's GPT-2 (20240520) or Llama 3 (20240801) magic.
fn starts_with_llmc_magic(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok()
        && matches!(i32::from_le_bytes(magic), 20240520 | 20240801)
}

/// Opens the llm.c corpus in `dir` with the tokenizer at `tokenizer_file` (a `tokenizer.json`,
/// or a directory holding one or GPT-2's `vocab.json` + `merges.txt`), else `dir`'s own
/// `tokenizer.json`.
pub(super) fn open_llmc(dir: &Path, tokenizer_file: Option<&Path>) -> Result<PreparedData> {
    let listing = list_shards(dir)?;
    for (split, names, example) in [("training", &listing.train, "train"), ("validation", &listing.val, "val")] {
        if names.is_empty() {
            bail!(
                "{}: llm.c shards of the {split} split are missing: no .bin file named like fineweb_{example}_000001.bin \
                 (both splits are needed)",
                dir.display()
            );
        }
    }
    let own = dir.join(TOKENIZER_FILE);
    let (tokenizer, tokenizer_json) = match tokenizer_file {
        Some(path) => tokenizer_with_json(path).context("data.tokenizer_file")?,
        None if own.is_file() => tokenizer_with_json(&own)?,
        None => bail!(
            "{}: an llm.c corpus needs its tokenizer: set data.tokenizer_file (GPT-2's tokenizer.json, or a directory \
             with vocab.json + merges.txt, for FineWeb10B) or put a tokenizer.json in the directory",
            dir.display()
        ),
    };
    let vocab_size = tokenizer.vocab_size();
    let in_dir = |split: &str| format!("the {split} split of the llm.c corpus in {}", dir.display());
    let train = TokenStream::open_llmc(dir, &listing.train, vocab_size).with_context(|| in_dir("training"))?;
    let val = TokenStream::open_llmc(dir, &listing.val, vocab_size).with_context(|| in_dir("validation"))?;
    let mut files = Manifest::default();
    files.add(TOKENIZER_FILE, &tokenizer_json);
    for shard in train.shards().iter().chain(val.shards()) {
        files.add_hash(&shard.path().file_name().map(|n| n.to_string_lossy()).unwrap_or_default(), &identity(shard));
    }
    let (train_tokens, val_tokens) = (train.len() as u64, val.len() as u64);
    let meta = DataMeta {
        source: dir.to_path_buf(),
        source_bytes: train.shards().iter().chain(val.shards()).map(|s| s.bytes().len() as u64).sum(),
        source_hash: None,
        tokenizer: tokenizer.kind(),
        bpe_vocab_size: None,
        train_fraction: train_tokens as f64 / (train_tokens + val_tokens).max(1) as f64,
        tokenizer_file: tokenizer_file.map(Path::to_path_buf),
        vocab_size,
        dtype: train.dtype().name().to_string(),
        chars: 0,
        train_chars: 0,
        val_chars: 0,
        train_tokens,
        val_tokens,
        files,
        train_shards: listing.train,
        val_shards: listing.val,
        separator: None,
        bpe_sample_bytes: default_bpe_sample_bytes(),
        sample_seed: default_sample_seed(),
        shard_tokens: train.shards().iter().chain(val.shards()).map(|s| s.len() as u64).max().unwrap_or(default_shard_tokens()),
        text_field: super::config::default_text_field(),
    };
    Ok(PreparedData { meta, tokenizer, train, val, format: ShardFormat::Llmc, tokenizer_json })
}

/// The tokenizer at `path` and the `tokenizer.json` bytes a run saves as its own: the file's
/// own bytes where there is one, else (`vocab.json` + `merges.txt`) the tokenizer serialized.
fn tokenizer_with_json(path: &Path) -> Result<(Tokenizer, Vec<u8>)> {
    let file = if path.is_dir() { path.join(TOKENIZER_FILE) } else { path.to_path_buf() };
    if file.is_file() {
        let bytes = std::fs::read(&file).with_context(|| format!("cannot read tokenizer {}", file.display()))?;
        return Ok((Tokenizer::load(&file)?, bytes));
    }
    let tokenizer = load_tokenizer(path)?;
    let json = tokenizer.to_json()?.into_bytes();
    Ok((tokenizer, json))
}

/// `llmc:<bytes>:<blake3 of the first and last 64 KiB>`: a shard replaced by another (other
/// tokens, another tokenizer, another count) differs here, read in two small pieces.
fn identity(shard: &TokenFile) -> String {
    let bytes = shard.bytes();
    let sample = if bytes.len() <= 2 * SAMPLE_BYTES {
        bytes.to_vec()
    } else {
        [&bytes[..SAMPLE_BYTES], &bytes[bytes.len() - SAMPLE_BYTES..]].concat()
    };
    format!("llmc:{}:{}", bytes.len(), hash_bytes(&sample))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_named_for_their_split_by_a_part_of_the_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in [
            "fineweb_train_000002.bin", "fineweb_train_000001.bin", "fineweb_val_000000.bin", "tiny-val.bin",
            "train.bin", "interval_data.bin", "fineweb_train_000003.bin.tmp", ".x_train_1.bin", "tokenizer.json",
            "README_train.md",
        ] {
            std::fs::write(dir.path().join(name), b"").expect("write");
        }
        let listing = list_shards(dir.path()).expect("lists");
        assert_eq!(listing.train, ["fineweb_train_000001.bin", "fineweb_train_000002.bin", "train.bin"]);
        assert_eq!(listing.val, ["fineweb_val_000000.bin", "tiny-val.bin"]);
        // Empty .bin files (as an interrupted prepare's burngpt shards) do not make an llm.c corpus;
        // a file starting with 20240520 = 0x0134D888 (little-endian 88 D8 34 01) does.
        assert!(!is_llmc_dir(dir.path()));
        std::fs::write(dir.path().join("fineweb_val_000000.bin"), [0x88, 0xD8, 0x34, 0x01]).expect("write");
        assert!(is_llmc_dir(dir.path()));
        std::fs::write(dir.path().join("x_train_val.bin"), b"").expect("write");
        let err = format!("{:#}", list_shards(dir.path()).err().expect("fails"));
        assert!(err.contains("x_train_val.bin: the name has both `train` and `val`"), "{err}");
        std::fs::write(dir.path().join(META_FILE), b"{}").expect("write");
        assert!(!is_llmc_dir(dir.path()), "a directory with data.json is burngpt's");
    }
}
