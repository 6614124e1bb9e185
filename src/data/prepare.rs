//! Corpus preparation: text -> tokenizer + `train.bin` / `val.bin` + `data.json`, once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::source::TextSource;
use super::tokenizer::{check_vocab, Tokenizer};
use super::tokens::{TokenFile, TokenWriter};
use super::config::{DataConfig, TokenizerKind};
use crate::run_dir::{write_atomic, Manifest, META_FILE, TOKENIZER_FILE, TRAIN_FILE, VAL_FILE};

/// What `data.json` records about a prepared corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataMeta {
    /// The text it was made from.
    pub source: PathBuf,
    /// Size of the text in bytes.
    pub source_bytes: u64,
    /// Checksum of the text's contents (to notice a changed source); absent in data prepared by
    /// versions before it was recorded.
    #[serde(default)]
    pub source_hash: Option<String>,
    /// Tokenizer kind.
    pub tokenizer: TokenizerKind,
    /// BPE vocabulary target it was trained with (`None` for char).
    pub bpe_vocab_size: Option<usize>,
    /// Fraction of characters in the training split.
    pub train_fraction: f64,
    /// The existing tokenizer used instead of a trained one.
    #[serde(default)]
    pub tokenizer_file: Option<PathBuf>,
    /// Vocabulary size of the tokenizer.
    pub vocab_size: usize,
    /// `"u16"` or `"u32"`.
    pub dtype: String,
    /// Characters in the corpus.
    pub chars: u64,
    /// Characters in the training split.
    pub train_chars: u64,
    /// Characters in the validation split.
    pub val_chars: u64,
    /// Tokens in `train.bin`.
    pub train_tokens: u64,
    /// Tokens in `val.bin`.
    pub val_tokens: u64,
    /// Checksums of `tokenizer.json`, `train.bin` and `val.bin`, checked when they are opened.
    #[serde(default)]
    pub files: Manifest,
}

/// A prepared corpus, opened for training.
pub struct PreparedData {
    /// What it holds.
    pub meta: DataMeta,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Training tokens (memory-mapped).
    pub train: TokenFile,
    /// Validation tokens (memory-mapped).
    pub val: TokenFile,
}

impl DataMeta {
    fn matches(&self, data: &DataConfig, source_hash: &str) -> bool {
        self.source == data.path
            && self.source_hash.as_deref() == Some(source_hash)
            && self.tokenizer == data.tokenizer
            && self.bpe_vocab_size == bpe_target(data)
            && self.train_fraction == data.train_fraction
            && self.tokenizer_file == data.tokenizer_file
    }
}

fn bpe_target(data: &DataConfig) -> Option<usize> {
    (data.tokenizer == TokenizerKind::Bpe).then_some(data.vocab_size.unwrap_or(0))
}

/// Where a run in `run_dir` keeps its prepared data: `data.path` when it is a prepared
/// directory (made by `burngpt prepare`), else the run directory itself.
pub fn data_dir(data: &DataConfig, run_dir: &Path) -> PathBuf {
    if data.path.join(META_FILE).is_file() {
        data.path.clone()
    } else {
        run_dir.to_path_buf()
    }
}

/// The prepared data for a new run in `dir`: `data.path` itself when it is a prepared
/// directory, else `dir`, prepared now unless it already holds this corpus (the same contents,
/// by checksum) with these settings. A resumed run opens its data with [`open_prepared`]
/// instead and never prepares.
pub fn ensure_prepared(data: &DataConfig, dir: &Path, log: &mut dyn FnMut(&str)) -> Result<PreparedData> {
    if data.path.join(META_FILE).is_file() {
        return open_prepared(&data.path);
    }
    let source_hash = TextSource::new(&data.path)?.content_hash()?;
    if let Ok(meta) = read_meta(dir) {
        if meta.matches(data, &source_hash) {
            log(&format!("Using prepared data in {}", dir.display()));
            return open_prepared(dir);
        }
        log(&format!("Prepared data in {} is for other settings: preparing again", dir.display()));
    }
    prepare(data, dir, log)?;
    // Just written and checksummed: no need to read the files back again.
    open_checked(dir, false)
}

/// Tokenizes `data.path` into `dir`: trains (or, for char, collects) the tokenizer on the
/// training split, then writes `train.bin`, `val.bin` and `data.json`.
pub fn prepare(data: &DataConfig, dir: &Path, log: &mut dyn FnMut(&str)) -> Result<DataMeta> {
    let source = TextSource::new(&data.path)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;

    // Pass 1: characters and alphabet.
    let mut chars = 0u64;
    let mut alphabet = BTreeSet::new();
    source.for_each_chunk(|chunk| {
        chars += chunk.chars().count() as u64;
        alphabet.extend(chunk.chars());
        Ok(())
    })?;
    if chars == 0 {
        bail!("data.path: {} holds no text", data.path.display());
    }
    let train_chars = (chars as f64 * data.train_fraction).floor() as u64;
    log(&format!("Preparing {} ({chars} characters) ...", data.path.display()));

    // Pass 2: the tokenizer, trained on the training split only (or read from tokenizer_file).
    match &data.tokenizer_file {
        Some(file) => log(&format!("Loading tokenizer {} ...", file.display())),
        None => log(&format!("Training tokenizer ({}) ...", data.tokenizer.name())),
    }
    let train_text = match data.tokenizer {
        TokenizerKind::Bpe if data.tokenizer_file.is_none() => split_text(&source, train_chars)?,
        TokenizerKind::Bpe => Vec::new(),
        TokenizerKind::Char => Vec::new(),
    };
    let tokenizer = match &data.tokenizer_file {
        Some(file) => super::tokenizer::load_tokenizer(file).context("data.tokenizer_file")?,
        None => Tokenizer::train(data.tokenizer, data.vocab_size.unwrap_or(0), alphabet.into_iter().collect(), train_text.into_iter())?,
    };
    tokenizer.save(&dir.join(TOKENIZER_FILE))?;
    let vocab_size = tokenizer.vocab_size();

    // Pass 3: encode both splits.
    let mut train = TokenWriter::create(&dir.join(TRAIN_FILE), vocab_size)?;
    let mut val = TokenWriter::create(&dir.join(VAL_FILE), vocab_size)?;
    let mut seen = 0u64;
    source.for_each_chunk(|chunk| {
        let n = chunk.chars().count() as u64;
        let (a, b) = if seen >= train_chars {
            ("", chunk)
        } else if seen + n <= train_chars {
            (chunk, "")
        } else {
            chunk.split_at(byte_offset(chunk, (train_chars - seen) as usize))
        };
        seen += n;
        train.push(&tokenizer.encode(a)?)?;
        val.push(&tokenizer.encode(b)?)
    })?;
    let dtype = super::tokens::TokenDtype::for_vocab(vocab_size).name().to_string();
    let (train_tokens, val_tokens) = (train.finish()?, val.finish()?);
    let mut files = Manifest::default();
    for name in [TOKENIZER_FILE, TRAIN_FILE, VAL_FILE] {
        files.add_file(dir, name)?;
    }
    let meta = DataMeta {
        source: data.path.clone(),
        source_bytes: source.bytes()?,
        source_hash: Some(source.content_hash()?),
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
    };
    write_atomic(&dir.join(META_FILE), serde_json::to_string_pretty(&meta)?.as_bytes())?;
    log(&format!("Prepared {} train and {} val tokens in {}", meta.train_tokens, meta.val_tokens, dir.display()));
    Ok(meta)
}

/// Opens a prepared directory and checks its files against their checksums and each other.
pub fn open_prepared(dir: &Path) -> Result<PreparedData> {
    open_checked(dir, true)
}

/// [`open_prepared`], with the checksums checked only when `verify`.
fn open_checked(dir: &Path, verify: bool) -> Result<PreparedData> {
    let meta = read_meta(dir)?;
    if verify {
        meta.files.verify(dir).with_context(|| format!("the prepared data in {} cannot be used", dir.display()))?;
    }
    let tokenizer = Tokenizer::load(&dir.join(TOKENIZER_FILE))?;
    let train = TokenFile::open(&dir.join(TRAIN_FILE))?;
    let val = TokenFile::open(&dir.join(VAL_FILE))?;
    for file in [&train, &val] {
        check_vocab(&tokenizer, file.vocab_size(), &file.path().display().to_string())?;
    }
    Ok(PreparedData { meta, tokenizer, train, val })
}

fn read_meta(dir: &Path) -> Result<DataMeta> {
    let path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a valid data description", path.display()))
}

/// The text's chunks before character `at`: the training text the tokenizer trains on
/// (held in memory only for that).
fn split_text(source: &TextSource, at: u64) -> Result<Vec<String>> {
    let mut train = Vec::new();
    let mut seen = 0u64;
    source.for_each_chunk(|chunk| {
        if seen < at {
            let n = chunk.chars().count() as u64;
            let take = if seen + n <= at { chunk } else { &chunk[..byte_offset(chunk, (at - seen) as usize)] };
            train.push(take.to_string());
            seen += n;
        }
        Ok(())
    })?;
    Ok(train)
}

fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices().nth(chars).map_or(text.len(), |(i, _)| i)
}
