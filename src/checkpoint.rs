//! The run directory: resolved config, tokenizer and model record, each written atomically.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::Backend;

use crate::config::Config;
use crate::model::Gpt;

/// File names inside a run directory.
pub const CONFIG_FILE: &str = "config.toml";
/// The model's parameters (Burn named MessagePack record, full precision).
pub const MODEL_FILE: &str = "model.mpk";

/// Writes the resolved config and the model record into `run_dir`.
pub fn save_run<B: Backend>(run_dir: &Path, config: &Config, model: Gpt<B>) -> Result<()> {
    fs::create_dir_all(run_dir)
        .with_context(|| format!("cannot create run directory {}", run_dir.display()))?;
    let toml = toml::to_string_pretty(config).context("cannot serialize the config")?;
    write_atomic(&run_dir.join(CONFIG_FILE), toml.as_bytes())?;
    let bytes = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .record(model.into_record(), ())
        .context("cannot serialize the model record")?;
    write_atomic(&run_dir.join(MODEL_FILE), &bytes)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, then renames it over `path`,
/// so a crash leaves either the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    let mut file = fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    file.sync_all().with_context(|| format!("cannot sync {}", tmp.display()))?;
    drop(file);
    fs::rename(&tmp, path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}
