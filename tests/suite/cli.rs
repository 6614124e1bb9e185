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
    for file in ["config.toml", "tokenizer.json", "checkpoints/latest.json", "metrics.csv", "loss.png"] {
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
    fails_with(&["--config", "configs/tiny.toml", "--set", "optimizer.lr=0"], &["optimizer.lr = 0 must be a finite number > 0"]);
}

#[test]
fn missing_config_file_and_flag_are_named() {
    fails_with(&["--config", "configs/nope.toml"], &["configs/nope.toml"]);
    fails_with(&[], &["--config"]);
}

/// A small corpus written by the test: repeated lines, a few thousand characters.
fn write_corpus(dir: &Path, chars: usize) -> PathBuf {
    let line = "To be, or not to be, that is the question: whether 'tis nobler in the mind.\n";
    let text: String = line.repeat(chars / line.len() + 1).chars().take(chars).collect();
    let path = dir.join("corpus.txt");
    std::fs::write(&path, text).expect("write corpus");
    path
}

#[test]
fn prepare_then_train_on_a_tiny_bpe_corpus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = write_corpus(dir.path(), 20_000);
    let prepared = dir.path().join("prepared");
    let out = burngpt(&[
        "prepare", "--input", corpus.to_str().expect("utf8"), "--out", prepared.to_str().expect("utf8"),
        "--tokenizer", "bpe", "--vocab-size", "300",
    ]);
    assert!(out.status.success(), "prepare failed: {}", stderr(&out));
    for file in ["train.bin", "val.bin", "tokenizer.json", "data.json"] {
        assert!(prepared.join(file).is_file(), "{file} missing");
    }
    let out_dir = dir.path().join("runs");
    let out = burngpt(&[
        "--config", "configs/tiny.toml",
        "--set", &format!("data.path={}", prepared.display()),
        "--set", &format!("training.out_dir={}", out_dir.display()),
        "--set", "training.max_steps=30", "--set", "schedule.warmup_steps=5",
        "--set", "training.log_every=10", "--set", "training.eval_every=30", "--set", "training.eval_batches=2",
        "--set", "training.grad_accum_steps=2",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "training failed: {}\n{stdout}", stderr(&out));
    // A repetitive corpus can run out of pairs to merge before 300: at most the target.
    let vocab = number_after(&stdout, "Vocabulary size:");
    assert!(vocab > 256.0 && vocab <= 300.0, "vocabulary {vocab}");
    let initial = number_after(&stdout, "Step 0/30 | Val loss:");
    let last = number_after(&stdout, "Step 30/30 | Val loss:");
    // The corpus is one repeated line: 30 steps learn much of it.
    assert!(last < initial - 1.0, "val loss {initial} -> {last}");
    let run = out_dir.join("tiny");
    for file in ["metrics.csv", "loss.png", "loss.svg", "tokenizer.json", "checkpoints/latest.json"] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics");
    assert!(csv.starts_with("step,epoch,train_loss,val_loss,val_bpb,lr,grad_norm,tokens_per_sec,elapsed_s\n"));
    assert_eq!(csv.lines().filter(|l| !l.split(',').nth(2).unwrap_or("").is_empty()).count(), 1 + 3, "3 logged steps");

    // eval reads the validation split of the prepared directory the run was trained from
    // (the run directory has no data.json of its own).
    let out = burngpt(&["eval", "--run", run.to_str().expect("utf8")]);
    assert!(out.status.success(), "eval failed: {}", stderr(&out));
    let eval_loss = number_after(&String::from_utf8_lossy(&out.stdout), "val loss");
    assert!(eval_loss < initial - 1.0, "eval {eval_loss} of the trained model vs the initial {initial}");
    // Preparing again into the directory the run depends on needs --overwrite.
    let again = ["prepare", "--input", corpus.to_str().expect("utf8"), "--out", prepared.to_str().expect("utf8")];
    fails_with(&again, &["already holds prepared data", "--overwrite"]);
    // The run resumes on the prepared directory while its tokenizer is the run's own copy ...
    let run_s = run.to_str().expect("utf8");
    let out = burngpt(&["--resume", run_s, "--max-steps", "32"]);
    assert!(out.status.success(), "resume failed: {}", stderr(&out));
    // ... and refuses once the directory was prepared again with another vocabulary.
    let overwrite = [&again[..], &["--vocab-size", "280", "--overwrite"]].concat();
    assert!(burngpt(&overwrite).status.success());
    fails_with(&["--resume", run_s, "--max-steps", "34"], &["it was prepared again since"]);
}

#[test]
fn corpus_shorter_than_a_window_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = write_corpus(dir.path(), 30); // 27 train characters < block_size 32 + 1
    fails_with(
        &[
            "--config", "configs/tiny.toml",
            "--set", &format!("data.path={}", corpus.display()),
            "--set", &format!("training.out_dir={}", dir.path().join("runs").display()),
        ],
        &["fewer than one window of block_size + 1 = 33"],
    );
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").expect("write");
    fails_with(
        &["--config", "configs/tiny.toml", "--set", &format!("data.path={}", empty.display()),
          "--set", &format!("training.out_dir={}", dir.path().join("runs").display())],
        &["holds no text"],
    );
}

/// A training command on a directory that already holds a run refuses (the run was pruned and
/// truncated before), names both ways on, and leaves the run as it was; `--start-over` replaces it.
#[test]
fn rerunning_a_config_on_an_existing_run_is_refused_unless_asked_to_start_over() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let set_out = format!("training.out_dir={}", out_dir.path().display());
    let args = ["--config", "configs/tiny.toml", "--set", &set_out, "--set", "schedule.warmup_steps=1", "--max-steps", "4"];
    let first = burngpt(&args);
    assert!(first.status.success(), "first run: {}", stderr(&first));
    let run = out_dir.path().join("tiny");
    let latest = std::fs::read(run.join("checkpoints/latest.json")).expect("latest.json");
    let metrics = std::fs::read(run.join("metrics.csv")).expect("metrics.csv");
    let again: Vec<&str> = args.iter().copied().chain(["--stop-at-step", "2"]).collect();
    fails_with(&again, &["already holds a run", "last checkpoint: step 4", "--resume", "--start-over"]);
    assert_eq!(std::fs::read(run.join("checkpoints/latest.json")).expect("latest.json"), latest, "latest.json changed");
    assert_eq!(std::fs::read(run.join("metrics.csv")).expect("metrics.csv"), metrics, "metrics.csv changed");
    assert!(run.join("checkpoints/step-000004").is_dir(), "the finished checkpoint is gone");
    let over: Vec<&str> = again.iter().copied().chain(["--start-over"]).collect();
    let out = burngpt(&over);
    assert!(out.status.code() == Some(130), "start over, stopped at step 2: {}", stderr(&out));
    assert!(!run.join("checkpoints/step-000004").exists(), "the old run's checkpoints remain");
    assert!(run.join("checkpoints/step-000002").is_dir(), "the new run's checkpoint is missing");
}
