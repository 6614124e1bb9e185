//! Sizes checked before anything is allocated (issue 26, item 2): absurd sizes are refused with
//! the key that makes them large, `--no-memory-check` lets a run go on, and the estimate is
//! printed at start-up and by `bench`.
//!
//! On the CPU backends only: a GPU build does not know its device's free memory and skips the
//! check (src/backend.rs, `memory_check`).
#![cfg(all(unix, not(any(feature = "wgpu", feature = "cuda"))))]

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use super::resume::root;

/// Address space of the processes given an absurd size: without the check they aborted
/// ("memory allocation of 120000000000 bytes failed") or ate the machine until the kernel killed
/// them; under this limit they fail at once instead, and the test fails rather than the machine.
const ADDRESS_SPACE: libc::rlim_t = 2 << 30;

/// The binary with `args`, `env` and an address space of [`ADDRESS_SPACE`].
fn limited(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_burngpt"));
    command.current_dir(root()).args(args).envs(env.iter().copied());
    // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: ADDRESS_SPACE, rlim_max: ADDRESS_SPACE };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().expect("the binary runs")
}

/// Expects a failure with exit code 1 (an error, not an abort or a kill) whose one `error:` line
/// holds every needle.
fn refused(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected an error exit, got {:?}: {err}", out.status);
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
}

fn out_dir(dir: &Path) -> String {
    format!("training.out_dir={}", dir.display())
}

/// The five sizes of `configs/tiny.toml` and the BPE vocabulary of `configs/small.toml` that were
/// OOM-killed or aborted: each is an error naming its key, before any data or model exists.
#[test]
fn absurd_sizes_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = out_dir(dir.path());
    for (config, set, needles) in [
        ("tiny", "model.d_model=100000", ["model.d_model = 100000", "parameters"]),
        ("tiny", "model.block_size=1000000000", ["model.block_size = 1000000000", "activations"]),
        ("tiny", "model.d_ff=1000000000", ["model.d_ff = 1000000000", "activations"]),
        ("tiny", "model.n_layers=100000", ["model.n_layers = 100000", "activations"]),
        ("tiny", "training.batch_size=200000", ["training.batch_size = 200000", "activations"]),
        ("small", "data.vocab_size=1000000000", ["data.vocab_size = 1000000000", "logits"]),
    ] {
        let path = format!("configs/{config}.toml");
        let output = limited(&["--config", &path, "--set", set, "--set", &out], &[]);
        refused(&output, &needles);
        refused(&output, &["is available", "--no-memory-check"]);
        assert!(!dir.path().join(config).join("tokenizer.json").exists(), "{set}: refused before preparing data");
    }
    // bench estimates the same way.
    let output = limited(&["bench", "--config", "configs/tiny.toml", "--set", "training.batch_size=200000"], &[]);
    refused(&output, &["training.batch_size = 200000", "need 98.2 GiB"]);
}

/// A BPE vocabulary larger than the corpus can give is refused before the trainer reserves
/// memory for it (it asked for ~88 GiB at once), naming the key and `prepare`'s flag.
#[test]
fn prepare_refuses_a_vocabulary_the_corpus_cannot_give() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("prepared");
    let args = ["prepare", "--input", "data/tinyshakespeare.txt", "--out", out.to_str().expect("utf8"), "--vocab-size", "1000000000"];
    // tinyshakespeare.txt is 1,115,394 bytes: at most 256 + 1,115,394 tokens.
    refused(&limited(&args, &[]), &["data.vocab_size (`prepare --vocab-size`) = 1000000000", "1115650"]);
}

/// With 50 MB available (`BURNGPT_MEMORY_AVAILABLE`), tiny.toml's ~105.8 MiB is refused, and
/// `--no-memory-check` trains it anyway; the banner and `bench` print the estimate.
#[test]
fn the_flag_lets_an_over_estimated_run_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = out_dir(dir.path());
    let small_machine = [("BURNGPT_MEMORY_AVAILABLE", "50000000")];
    let args = ["--config", "configs/tiny.toml", "--max-steps", "2", "--set", "schedule.warmup_steps=1", "--set", &out];
    // tiny: 16 bytes x 106,304 parameters, 8.4 MB of activations, 133 KB of logits and 96 MiB
    // for the process: 110,935,040 bytes (src/run/memory_check.rs derives it).
    // Refused before the data is read, with the char vocabulary at its smallest, 1 token: 64 fewer
    // rows of wte (16 bytes x 64 x 64) and of logits (4 x 512 x 64), 196,608 bytes less: 105.6 MiB.
    refused(&limited(&args, &small_machine), &["the run needs ~105.6 MiB in all and 47.7 MiB is available", "--no-memory-check"]);
    let mut with_flag = args.to_vec();
    with_flag.push("--no-memory-check");
    let trained = limited(&with_flag, &small_machine);
    let stdout = String::from_utf8_lossy(&trained.stdout);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    assert!(stdout.contains("Memory: ~105.8 MiB estimated (parameters, gradients and AdamW 1.6 MiB,"), "{stdout}");
    assert!(stdout.contains("47.7 MiB available (not checked: --no-memory-check)"), "{stdout}");
    assert!(stdout.contains("Step 2/2"), "{stdout}");

    let bench = ["bench", "--config", "configs/tiny.toml", "--steps", "1", "--warmup-steps", "0", "--new-tokens", "2", "--gen-repeats", "1"];
    let output = limited(&bench, &[("BURNGPT_MEMORY_AVAILABLE", "1000000000")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("Memory: ~105.8 MiB estimated") && stdout.contains("953.7 MiB available"), "{stdout}");
}
