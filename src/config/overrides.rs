//! `--set key.path=value` overrides on a parsed TOML table, and which of them a resumed
//! run may take.

use anyhow::{bail, Context, Result};

use super::RunConfig;

impl RunConfig {
    /// Keys that may differ when a run is resumed: they change neither the model, nor the
    /// data, nor the optimizer's trajectory up to the checkpoint.
    pub const RESUME_SAFE_KEYS: [&'static str; 11] = [
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

/// The two ways to give the training budget: setting one replaces the other.
const BUDGET_KEYS: [&str; 2] = ["max_steps", "epochs"];

/// Applies one `section.key=value` override; `value` is parsed as a TOML value
/// (`3`, `1e-3`, `true`, `"text"`), and a bare word that is not one is taken as a string.
/// `training.max_steps` replaces the file's `training.epochs` and the other way round.
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
    if keys.len() == 2 && keys[0] == "training" && BUDGET_KEYS.contains(last) {
        node.retain(|key, _| key == *last || !BUDGET_KEYS.contains(&key));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("valid TOML")
    }

    #[test]
    fn a_budget_on_the_command_line_replaces_the_files_other_budget() {
        let mut t = table("[training]\nepochs = 3\nbatch_size = 16\n");
        apply_override(&mut t, "training.max_steps=2000").expect("applies");
        assert_eq!(t, table("[training]\nmax_steps = 2000\nbatch_size = 16\n"));
        apply_override(&mut t, "training.epochs=2").expect("applies");
        assert_eq!(t, table("[training]\nepochs = 2\nbatch_size = 16\n"));
    }

    #[test]
    fn other_keys_are_set_without_touching_their_neighbours() {
        let mut t = table("[training]\nepochs = 3\n[optimizer]\nlr = 0.001\n");
        apply_override(&mut t, "optimizer.lr=3e-4").expect("applies");
        apply_override(&mut t, "model.max_steps=5").expect("applies");
        assert_eq!(t, table("[training]\nepochs = 3\n[optimizer]\nlr = 3e-4\n[model]\nmax_steps = 5\n"));
    }
}
