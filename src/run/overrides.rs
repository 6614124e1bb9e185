//! `--set key.path=value` overrides on a parsed TOML table.

use anyhow::{Context, Result};

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
