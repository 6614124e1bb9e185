//! `trained_on.json`: which prepared data a run trained on, written when the run starts, so that
//! every later reader of the run (resume, eval, generate, export) can check that the tokenizer
//! and token files it finds are still those: a corpus prepared again in the same directory
//! (`prepare --overwrite`) or a `tokenizer.json` copied from another run is refused, naming the
//! directory, instead of feeding the model ids it never saw.
//!
//! It records the prepared directory (`None` when the data lives in the run directory itself,
//! so that a moved run directory stays whole) as an absolute path, and the checksums its
//! `data.json` gave the tokenizer and the token files. Runs made before it existed have none:
//! they are checked as before (a resumed run's tokenizer against the prepared directory's).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::config::DataConfig;
use super::open::{data_dir, is_prepared_dir, open_corpus};
use super::prepared::PreparedData;
use super::tokens::ShardFormat;
use crate::run_dir::{hash_file, write_atomic, Manifest, TOKENIZER_FILE, TRAINED_ON_FILE};

/// What a run recorded about its data when it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainedOn {
    /// The prepared directory, absolute; `None`: the run directory itself.
    pub dir: Option<PathBuf>,
    /// The checksums of its `tokenizer.json` and token files, as its `data.json` gave them.
    pub files: Manifest,
}

impl TrainedOn {
    /// Records that the run in `run_root` trains on the prepared data in `data_dir`.
    pub fn record(run_root: &Path, data_dir: &Path, data: &PreparedData) -> Result<()> {
        let dir = if same_dir(data_dir, run_root) {
            None
        } else {
            Some(std::fs::canonicalize(data_dir).with_context(|| format!("cannot resolve {}", data_dir.display()))?)
        };
        let record = TrainedOn { dir, files: data.meta.files.clone() };
        write_atomic(&run_root.join(TRAINED_ON_FILE), &serde_json::to_vec_pretty(&record)?)
    }

    /// The record of the run in `run_root`; `None` for a run made before records existed.
    pub fn read(run_root: &Path) -> Result<Option<Self>> {
        let path = run_root.join(TRAINED_ON_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        let record = serde_json::from_slice(&bytes).with_context(|| format!("{}: damaged (not a data record)", path.display()))?;
        Ok(Some(record))
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// Where the run in `run_root` finds its prepared data: the directory it recorded (the run
/// directory itself, or a prepared directory that still holds prepared data), else `data.path`
/// when that is a prepared directory (relative to the working directory), else the run directory.
pub fn run_data_dir(data: &DataConfig, run_root: &Path) -> Result<PathBuf> {
    match TrainedOn::read(run_root)? {
        Some(TrainedOn { dir: None, .. }) => Ok(run_root.to_path_buf()),
        Some(TrainedOn { dir: Some(dir), .. }) if is_prepared_dir(&dir) => Ok(dir),
        _ => Ok(data_dir(data, run_root)),
    }
}

/// Opens the prepared data of the run in `run_root` (checked against the checksums in its
/// `data.json`) and checks that it is the data the run recorded: an error names the directory
/// when it was prepared again since, or cannot be found. llm.c shards are read with the run's
/// own `tokenizer.json`, the one it trained with (`data.tokenizer_file` may have moved since).
pub fn open_run_data(data: &DataConfig, run_root: &Path) -> Result<PreparedData> {
    let record = TrainedOn::read(run_root)?;
    let dir = run_data_dir(data, run_root)?;
    if let Some(TrainedOn { dir: Some(recorded), .. }) = &record {
        if !is_prepared_dir(&dir) {
            bail!(
                "the run {} trained on the prepared data in {}, which holds none now (data.path = {}): \
                 prepare the same corpus there again with the same settings, or restore it",
                run_root.display(),
                recorded.display(),
                data.path.display()
            );
        }
    }
    let own = run_root.join(TOKENIZER_FILE);
    // (A burngpt directory always uses its own.)
    let tokenizer = own.is_file().then_some(own.as_path());
    let prepared = open_corpus(&dir, tokenizer.or(data.tokenizer_file.as_deref()))
        .with_context(|| format!("the data of the run {} in {} is missing or damaged", run_root.display(), dir.display()))?;
    if let Some(record) = record {
        if prepared.meta.files != record.files && prepared.format == ShardFormat::Llmc {
            bail!(
                "{} is not the llm.c corpus the run {} trained on: its shards (names, sizes, first and last 64 KiB) or \
                 its tokenizer differ from those recorded in {}; restore the original shards, or start a new run",
                dir.display(),
                run_root.display(),
                run_root.join(TRAINED_ON_FILE).display()
            );
        }
        if prepared.meta.files != record.files {
            bail!(
                "{} is not the data the run {} trained on: it was prepared again since (its tokenizer or token files \
                 differ from those recorded in {}); prepare the original corpus with the original settings into \
                 another directory and point data.path there, or start a new run",
                dir.display(),
                run_root.display(),
                run_root.join(TRAINED_ON_FILE).display()
            );
        }
    }
    Ok(prepared)
}

/// Checks the run's own `tokenizer.json` (the one generate, eval and export decode with): it
/// must be the one the run trained with, by the checksum recorded when it started (for runs made
/// before records, the checksum in its prepared data's `data.json`, where that is found).
pub fn check_run_tokenizer(data: &DataConfig, run_root: &Path) -> Result<()> {
    let path = run_root.join(TOKENIZER_FILE);
    let expected = match TrainedOn::read(run_root)? {
        Some(record) => record.files.get(TOKENIZER_FILE).map(str::to_string),
        None => {
            let dir = data_dir(data, run_root);
            super::meta::read_meta(&dir).ok().and_then(|meta| meta.files.get(TOKENIZER_FILE).map(str::to_string))
        }
    };
    let Some(expected) = expected else { return Ok(()) };
    if !path.is_file() {
        bail!("tokenizer {} is missing: the run directory is incomplete", path.display());
    }
    if hash_file(&path)? != expected {
        bail!(
            "{} is not the tokenizer the run {} trained with (its checksum differs from the one recorded when the run \
             started): restore the run's own tokenizer.json",
            path.display(),
            run_root.display()
        );
    }
    Ok(())
}
