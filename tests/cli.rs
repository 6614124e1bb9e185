//! The real binary, run on configs/tiny.toml and on bad inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn burngpt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burngpt"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs with `args` and expects a failure whose single `error:` line contains every `needle`.
fn fails_with(args: &[&str], needles: &[&str]) {
    let out = burngpt(args);
    let err = stderr(&out);
    assert!(!out.status.success(), "expected failure for {args:?}, stderr: {err}");
    assert_eq!(err.matches("error:").count(), 1, "error chain printed once: {err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
}

/// A copy of tiny.toml with `edit` applied, written into `dir`.
fn edited_tiny(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(root().join("configs/tiny.toml")).expect("tiny.toml");
    let text = text.replace("data/tinyshakespeare.txt", &root().join("data/tinyshakespeare.txt").display().to_string());
    let path = dir.join("edited.toml");
    std::fs::write(&path, edit(text)).expect("write config");
    path
}

fn number_after(text: &str, marker: &str) -> f64 {
    let rest = &text[text.rfind(marker).unwrap_or_else(|| panic!("no {marker:?} in output")) + marker.len()..];
    let token: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    token.parse().unwrap_or_else(|_| panic!("no number after {marker:?}"))
}

#[test]
fn tiny_config_trains_below_initial_loss() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let set_out = format!("training.out_dir={}", out_dir.path().display());
    let out = burngpt(&["--config", "configs/tiny.toml", "--set", &set_out]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "training failed: {}\n{stdout}", stderr(&out));
    let vocab = 65f64; // distinct characters of tiny Shakespeare
    let initial = number_after(&stdout, "Step 0/200 | Val loss:");
    let last = number_after(&stdout, "Step 200/200 | Val loss:");
    // An untrained model predicts about uniformly: loss ~ ln(65) = 4.17.
    assert!((initial - vocab.ln()).abs() < 0.1, "initial val loss {initial}");
    // Character bigram statistics alone give ~2.5; demand clearly better than uniform.
    assert!(last < vocab.ln() - 1.2, "final val loss {last} not clearly below ln(65)");
    for line in ["Model parameters: 106,304", "Train: 1,003,854 chars, Val: 111,540 chars", "Grad norm:"] {
        assert!(stdout.contains(line), "output lacks {line:?}");
    }
    let run = out_dir.path().join("tiny");
    for file in ["config.toml", "tokenizer.json", "model.mpk"] {
        assert!(run.join(file).is_file(), "{file} not saved");
    }
}

#[test]
fn unknown_key_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = edited_tiny(dir.path(), |t| t.replace("d_model = 64", "d_model = 64\nd_modle = 3"));
    fails_with(&["--config", path.to_str().expect("utf8")], &["edited.toml", "model.d_modle", "unknown field"]);
}

#[test]
fn wrong_type_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = edited_tiny(dir.path(), |t| t.replace("d_model = 64", "d_model = \"wide\""));
    fails_with(&["--config", path.to_str().expect("utf8")], &["edited.toml", "model.d_model", "invalid type"]);
}

#[test]
fn heads_must_divide_d_model() {
    fails_with(
        &["--config", "configs/tiny.toml", "--set", "model.n_heads=3"],
        &["configs/tiny.toml", "model.d_model = 64 is not divisible by model.n_heads = 3"],
    );
}

#[test]
fn missing_data_file_is_named() {
    fails_with(
        &["--config", "configs/tiny.toml", "--set", "data.path=no/such/file.txt"],
        &["data.path", "no/such/file.txt", "does not exist"],
    );
}

#[test]
fn impossible_schedule_and_lr_are_named() {
    fails_with(&["--config", "configs/tiny.toml", "--max-steps", "10"], &["schedule.warmup_steps = 20", "training.max_steps = 10"]);
    fails_with(&["--config", "configs/tiny.toml", "--set", "optimizer.lr=0"], &["optimizer.lr = 0 must be > 0"]);
}

#[test]
fn missing_config_file_and_flag_are_named() {
    fails_with(&["--config", "configs/nope.toml"], &["configs/nope.toml"]);
    fails_with(&[], &["--config"]);
}
