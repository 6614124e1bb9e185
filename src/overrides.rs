//! `--set key.path=value` overrides on a parsed TOML table, and which of them a resumed
//! run may take.

use anyhow::{bail, Context, Result};

use crate::config::Config;

impl Config {
    /// Keys that may differ when a run is resumed: they change neither the model, nor the
    /// data, nor the optimizer's trajectory up to the checkpoint.
    pub const RESUME_SAFE_KEYS: [&'static str; 8] = [
        "training.max_steps",
        "training.epochs",
        "training.log_every",
        "training.eval_every",
        "training.eval_batches",
        "training.checkpoint_every",
        "training.keep_last",
        "training.out_dir",
    ];

    /// The saved config of a run with `overrides` applied; an override of any key outside
    /// [`Config::RESUME_SAFE_KEYS`] that changes its value is refused, naming the key.
    pub fn for_resume(saved: &Config, overrides: &[String]) -> Result<Config> {
        let mut table = toml::Table::try_from(saved).context("cannot re-read the saved config")?;
        for item in overrides {
            let key = item.split_once('=').map_or(item.as_str(), |(k, _)| k).trim();
            let before = lookup(&table, key).cloned();
            apply_override(&mut table, item).with_context(|| format!("bad override --set {item}"))?;
            if lookup(&table, key).cloned() != before && !Self::RESUME_SAFE_KEYS.contains(&key) {
                bail!(
                    "cannot change {key} when resuming: it would change the model, the data or the optimizer's path; \
                     keys that may change: {}",
                    Self::RESUME_SAFE_KEYS.join(", ")
                );
            }
        }
        let config: Config = serde_path_to_error::deserialize(table)
            .map_err(|e| anyhow::anyhow!("key `{}`: {}", e.path(), e.inner().message()))?;
        config.validate()?;
        Ok(config)
    }

}

/// Applies one `section.key=value` override; `value` is parsed as a TOML value
/// (`3`, `1e-3`, `true`, `"text"`), and a bare word that is not one is taken as a string.
pub fn apply_override(table: &mut toml::Table, item: &str) -> Result<()> {
    let (path, raw) = item
        .split_once('=')
        .with_context(|| "expected key.path=value".to_string())?;
    let keys: Vec<&str> = path.trim().split('.').collect();
    let value = parse_value(raw.trim());
    let (last, parents) = keys.split_last().context("empty key")?;
    let mut node = table;
    for key in parents {
        node = node
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .with_context(|| format!("`{key}` in `{path}` is not a section"))?;
    }
    node.insert(last.to_string(), value);
    Ok(())
}

/// The value at a dotted `section.key` path, if any.
pub fn lookup<'a>(table: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut keys = path.split('.');
    let mut value = table.get(keys.next()?)?;
    for key in keys {
        value = value.as_table()?.get(key)?;
    }
    Some(value)
}

fn parse_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}
