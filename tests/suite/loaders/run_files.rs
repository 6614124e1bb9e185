//! A run's `config.toml` and a `tokenizer.json` (char and byte-level BPE) damaged.

use std::path::Path;

use burngpt::run::RunConfig;
use burngpt::data::Tokenizer;
use burngpt::run_dir::{RunDir, CONFIG_FILE, TOKENIZER_FILE};

use super::fixture::{fixture, run_copy};
use super::mutate::check;

#[test]
fn a_damaged_config_toml_is_an_error_naming_it() {
    let (_tmp, run) = run_copy();
    let dir = RunDir::new(&run);
    let path = run.join(CONFIG_FILE);
    let original = std::fs::read(&path).expect("config.toml");
    let tally = check(&path, &original, 256, || RunConfig::load_saved(&dir), |config, _| {
        // What load_saved returns is used as it is (eval, generate, resume): its values must be
        // valid; only data.path may be gone (a run outlives its corpus).
        config.model.validate().map_err(|e| format!("{e:#}"))?;
        config.optimizer.validate().map_err(|e| format!("{e:#}"))?;
        config.training.validate().map_err(|e| format!("{e:#}"))
    });
    assert!(tally.errors > tally.cases / 2, "{tally:?}");
}

/// A loaded tokenizer encodes and decodes without panicking (errors are allowed: damage may
/// have dropped characters from its vocabulary).
fn usable(tokenizer: Tokenizer) -> Result<(), String> {
    if let Ok(ids) = tokenizer.encode("First Citizen:\nBefore we proceed any further, hear me speak.") {
        let _ = tokenizer.decode(&ids);
    }
    let _ = tokenizer.decode(&[0, 1, 2, u32::MAX]);
    Ok(())
}

fn damaged_tokenizer(original: &Path, cases: u32) -> super::mutate::Tally {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join(TOKENIZER_FILE);
    let original = std::fs::read(original).expect("tokenizer.json");
    check(&path, &original, cases, || Tokenizer::load(&path), |t, _| usable(t))
}

#[test]
fn a_damaged_char_tokenizer_json_is_an_error_naming_it() {
    let tally = damaged_tokenizer(&fixture().run.join(TOKENIZER_FILE), 256);
    assert!(tally.errors > tally.cases / 4, "{tally:?}");
}

#[test]
fn a_damaged_bpe_tokenizer_json_is_an_error_naming_it() {
    let tally = damaged_tokenizer(&fixture().bpe_tokenizer, 128);
    assert!(tally.errors > tally.cases / 4, "{tally:?}");
}
