//! Samples while training: `training.sample_every`, printed and appended to samples.txt.
//! Run on the CPU backends (CI's lavapipe run has no minutes to spare for it).
#![cfg(not(feature = "wgpu"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `args` and expects exit code `code`.
fn burngpt_exits(args: &[String], code: i32) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_burngpt")).current_dir(root()).args(args).output().expect("the binary runs");
    let (stderr, stdout) = (String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}\n{stdout}");
    out
}

fn burngpt(args: &[String]) -> Output {
    burngpt_exits(args, 0)
}

/// configs/tiny.toml for 20 steps into `out`, sampling 16 tokens of "ROMEO:" every 10 steps.
fn train_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let corpus = root().join("data/tinyshakespeare.txt");
    let mut args = vec!["--config".to_string(), "configs/tiny.toml".to_string()];
    let sets = [
        format!("data.path={}", corpus.display()),
        format!("training.out_dir={}", out.display()),
        "training.max_steps=20".to_string(),
        "training.eval_every=10".to_string(),
        "training.eval_batches=1".to_string(),
        "training.checkpoint_every=10".to_string(),
        "training.keep_last=5".to_string(),
        "training.sample_every=10".to_string(),
        "training.sample_prompt=\"ROMEO:\"".to_string(),
        "training.sample_tokens=16".to_string(),
    ];
    for set in sets {
        args.extend(["--set".to_string(), set]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The text of each `=== step N ===` entry of samples.txt.
fn entries(text: &str) -> Vec<(usize, String)> {
    text.split("=== step ")
        .skip(1)
        .map(|e| {
            let (n, rest) = e.split_once(" ===\n").expect("heading");
            (n.parse().expect("step"), rest.trim_end_matches('\n').to_string())
        })
        .collect()
}

/// Each sample is printed under the log and appended to samples.txt; it is what `generate`
/// prints from that step's checkpoint with `--seed` = training.seed and nanoGPT's sampling
/// (temperature 0.8, top-k 200); a run stopped at step 10 and resumed writes the same file.
#[test]
fn samples_are_printed_saved_reproduced_by_generate_and_survive_a_resume() {
    let dir = tempfile::tempdir().expect("temp dir");
    let whole = dir.path().join("whole");
    let out = burngpt(&train_args(&whole, &[]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let run = whole.join("tiny");
    let text = std::fs::read_to_string(run.join("samples.txt")).expect("samples.txt");
    let samples = entries(&text);
    assert_eq!(samples.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [10, 20]);
    for (step, sample) in &samples {
        assert!(stdout.contains(&format!("=== step {step} ===\n{sample}\n")), "step {step} not printed:\n{stdout}");
        // A char model: the prompt, then 16 characters.
        assert!(sample.starts_with("ROMEO:") && sample.chars().count() == 6 + 16, "{sample:?}");
    }
    for (step, sample) in &samples {
        let args: Vec<String> = [
            "generate", "--run", run.to_str().expect("utf8"), "--checkpoint", &step.to_string(), "--seed", "1337",
            "--temperature", "0.8", "--top-k", "200", "--max-new-tokens", "16", "--prompt", "ROMEO:",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let generated = String::from_utf8_lossy(&burngpt(&args).stdout).into_owned();
        assert_eq!(generated.trim_end_matches('\n'), sample, "step {step}");
    }

    let split = dir.path().join("split");
    // A run stopped by --stop-at-step exits with 130, as after Ctrl-C (src/main.rs).
    burngpt_exits(&train_args(&split, &["--stop-at-step", "10"]), 130);
    let resumed = split.join("tiny");
    assert_eq!(entries(&std::fs::read_to_string(resumed.join("samples.txt")).expect("samples")).len(), 1);
    burngpt(&["--resume".to_string(), resumed.display().to_string()]);
    assert_eq!(std::fs::read_to_string(resumed.join("samples.txt")).expect("samples"), text);
}
