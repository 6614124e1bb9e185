//! Loading a run's config: the TOML file, then `--set key.path=value` overrides, then
//! `model.init_from` (a Hugging Face directory supplies the architecture), then
//! [`RunConfig::validate`], whose errors name the offending key.
//!
//! This is the top layer: each section's type belongs to the layer it configures
//! (`[model]` [`crate::model::GptConfig`], `[data]` [`crate::data::DataConfig`], `[optimizer]`,
//! `[schedule]` and `[training]` the learner's, [`crate::train`]); this module only assembles them.

use std::path::Path;

use anyhow::{Context, Result};

pub use crate::train::RunConfig;

mod overrides;
pub use overrides::{apply_override, lookup};

impl RunConfig {
    /// Reads `path`, applies `overrides` (`key.path=value`), parses and validates.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{}: not valid TOML", path.display()))?;
        for item in overrides {
            apply_override(&mut table, item)
                .with_context(|| format!("bad override --set {item}"))?;
        }
        crate::hf::resolve_init_from(&mut table, path)?;
        let mut config: RunConfig = serde_path_to_error::deserialize(table).map_err(|e| {
            anyhow::anyhow!("{}: key `{}`: {}", path.display(), e.path(), e.inner().message())
        })?;
        if config.training.run_name.is_none() {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            config.training.run_name = Some(stem.unwrap_or_else(|| "run".to_string()));
        }
        config
            .validate()
            .with_context(|| format!("{}: invalid configuration", path.display()))?;
        Ok(config)
    }
}
