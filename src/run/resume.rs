//! Resuming a run with `--set` overrides: which keys may change, and the saved config with them
//! applied.

use anyhow::{bail, Context, Result};

use super::config::RunConfig;
use super::overrides::{apply_override, lookup};

impl RunConfig {
    /// Keys that may differ when a run is resumed: they change neither the model, nor the
    /// data, nor the optimizer's trajectory up to the checkpoint.
    pub const RESUME_SAFE_KEYS: [&'static str; 12] = [
        "training.max_steps",
        "training.epochs",
        "training.log_every",
        "training.eval_every",
        "training.eval_batches",
        "training.checkpoint_every",
        "training.keep_last",
        "training.out_dir",
        "training.sample_every",
        "training.sample_prompt",
        "training.sample_tokens",
        "training.precision",
    ];

    /// The saved config of a run with `overrides` applied; an override of any key outside
    /// [`RunConfig::RESUME_SAFE_KEYS`] that changes its value is refused, naming the key.
    pub fn for_resume(saved: &RunConfig, overrides: &[String]) -> Result<RunConfig> {
        let mut table = toml::Table::try_from(saved).context("cannot re-read the saved config")?;
        for item in overrides {
            let key = item.split_once('=').map_or(item.as_str(), |(k, _)| k).trim();
            let before = lookup(&table, key).cloned();
            apply_override(&mut table, item).with_context(|| format!("bad override --set {item}"))?;
            // An unknown key or a wrong type is named as such before any "cannot change".
            serde_path_to_error::deserialize::<_, RunConfig>(table.clone())
                .map_err(|e| anyhow::anyhow!("bad override --set {item}: key `{}`: {}", e.path(), e.inner().message()))?;
            if lookup(&table, key).cloned() != before && !Self::RESUME_SAFE_KEYS.contains(&key) {
                bail!(
                    "cannot change {key} when resuming: it would change the model, the data or the optimizer's path; \
                     keys that may change: {}",
                    Self::RESUME_SAFE_KEYS.join(", ")
                );
            }
        }
        let config: RunConfig = serde_path_to_error::deserialize(table)
            .map_err(|e| anyhow::anyhow!("key `{}`: {}", e.path(), e.inner().message()))?;
        if config.training.epochs.is_some() != saved.training.epochs.is_some() {
            let (from, to) = if saved.training.epochs.is_some() { ("epochs", "max_steps") } else { ("max_steps", "epochs") };
            bail!(
                "cannot switch training.{from} to training.{to} when resuming: the run's batches follow its budget kind; \
                 give a new training.{from} instead (--{})",
                from.replace('_', "-")
            );
        }
        config.validate_settings()?;
        Ok(config)
    }
}
