//! `--set key.path=value` overrides on a parsed TOML table.

use anyhow::{Context, Result};

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
