//! What the second abuse probe found (issue 26): data prepared again under a run, a foreign
//! tokenizer, a reader of a live run, a second Ctrl-C, a closed pipe, and small bad inputs
//! (the diverged checkpoint: safety.rs). Each test failed on the code before its fix.
//!
//! Not on the wgpu build (as safety.rs): what these check is the run directory's handling.
#![cfg(not(feature = "wgpu"))]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::resume::{burngpt, fails_with, ok, root, run_stopped_at_5, tiny_args};
use super::safety::{s, strs, with};

/// `bytes` bytes of tinyshakespeare starting at `from`, written to `dir/name`.
fn corpus(dir: &Path, name: &str, from: usize, bytes: usize, reversed: bool) -> PathBuf {
    let text = std::fs::read_to_string(root().join("data/tinyshakespeare.txt")).expect("corpus");
    let mut part: String = text[from..from + bytes].to_string();
    if reversed {
        part = part.chars().rev().collect();
    }
    let path = dir.join(name);
    std::fs::write(&path, part).expect("write");
    path
}

fn prepare(input: &Path, out: &Path, tokenizer: &[&str], overwrite: bool) {
    let mut args = vec!["prepare", "--input", s(input), "--out", s(out)];
    args.extend_from_slice(tokenizer);
    if overwrite {
        args.push("--overwrite");
    }
    ok(&args);
}

#[test]
fn data_prepared_again_under_a_run_is_refused_by_every_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = corpus(dir.path(), "a.txt", 0, 40_000, false);
    let prepared = dir.path().join("P");
    prepare(&text, &prepared, &["--tokenizer", "char"], false);
    let args = with(tiny_args(dir.path(), "r"), &["--set", &format!("data.path={}", s(&prepared)), "--set", "training.max_steps=10"]);
    ok(&strs(&with(args, &["--stop-at-step", "5"])));
    let run = dir.path().join("r");
    ok(&["eval", "--run", s(&run)]);

    // The same characters in another order: the same char tokenizer, other token files. Before
    // the fix, resume trained on the new tokens (exit 0).
    let reversed = corpus(dir.path(), "b.txt", 0, 40_000, true);
    prepare(&reversed, &prepared, &["--tokenizer", "char"], true);
    fails_with(&["--resume", s(&run)], &["cannot resume", s(&prepared), "prepared again"]);
    fails_with(&["eval", "--run", s(&run)], &[s(&prepared), "prepared again"]);

    // BPE over it: before the fix, eval panicked on ids beyond the model's vocabulary (exit 101).
    prepare(&text, &prepared, &["--tokenizer", "bpe", "--vocab-size", "300"], true);
    fails_with(&["eval", "--run", s(&run)], &[s(&prepared), "prepared again"]);
    fails_with(&["--resume", s(&run)], &["cannot resume", s(&prepared)]);

    // The original preparation back: the run resumes and evaluates again.
    prepare(&text, &prepared, &["--tokenizer", "char"], true);
    ok(&["--resume", s(&run)]);
    ok(&["eval", "--run", s(&run)]);
}

#[test]
fn resume_and_eval_find_a_relative_prepared_directory_from_another_working_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = corpus(dir.path(), "a.txt", 0, 40_000, false);
    prepare(&text, &dir.path().join("P"), &["--tokenizer", "char"], false);
    // Trained from inside `dir`, with data.path = "P" relative to it.
    let config = root().join("configs/tiny.toml");
    let mut args = with(tiny_args(Path::new("runs"), "r"), &["--set", "data.path=P", "--stop-at-step", "5"]);
    args[1] = s(&config).to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_burngpt")).current_dir(dir.path()).args(&args).output().expect("runs");
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    // From the repository root: before the fix, "data.path: data file P does not exist".
    let run = dir.path().join("runs/r");
    ok(&["--resume", s(&run), "--stop-at-step", "7"]);
    ok(&["eval", "--run", s(&run)]);
}

#[test]
fn generate_export_and_eval_refuse_a_foreign_tokenizer() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two BPE-300 tokenizers of two texts: the same vocabulary size, other merges.
    let (p1, p2) = (dir.path().join("P1"), dir.path().join("P2"));
    prepare(&corpus(dir.path(), "a.txt", 0, 40_000, false), &p1, &["--tokenizer", "bpe", "--vocab-size", "300"], false);
    prepare(&corpus(dir.path(), "b.txt", 40_000, 40_000, false), &p2, &["--tokenizer", "bpe", "--vocab-size", "300"], false);
    let args = with(tiny_args(dir.path(), "f"), &["--set", &format!("data.path={}", s(&p1))]);
    ok(&strs(&with(args, &["--stop-at-step", "5"])));
    let run = dir.path().join("f");
    let export = dir.path().join("hf");
    ok(&["export", "--run", s(&run), "--out", s(&export)]);

    std::fs::copy(p2.join("tokenizer.json"), run.join("tokenizer.json")).expect("copy");
    let tokenizer = run.join("tokenizer.json");
    let gen = ["generate", "--run", s(&run), "--max-new-tokens", "5"];
    fails_with(&gen, &[s(&tokenizer), "not the tokenizer the run", "trained with"]);
    fails_with(&["export", "--run", s(&run), "--out", s(&dir.path().join("hf2"))], &[s(&tokenizer), "not the tokenizer"]);
    fails_with(&["eval", "--run", s(&run)], &[s(&tokenizer), "not the tokenizer"]);
    assert!(!dir.path().join("hf2").exists(), "nothing exported");

    std::fs::copy(p1.join("tokenizer.json"), run.join("tokenizer.json")).expect("restore");
    ok(&gen);
}

/// Starts a training process in the background with its output piped.
fn spawn(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_burngpt"))
        .current_dir(root())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Waits (up to a minute) for `metrics.csv` of `run` to hold at least `rows` training rows.
fn wait_for_rows(run: &Path, rows: usize) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap_or_default();
        if text.lines().filter(|l| l.split(',').nth(2).is_some_and(|c| !c.is_empty())).count() >= rows {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} did not train {rows} steps within a minute", run.display());
}

/// Sends SIGINT `times` times, `gap` apart, and waits for the process.
#[cfg(unix)]
fn interrupt(child: Child, times: usize, gap: Duration) -> Output {
    for _ in 0..times {
        let sent = Command::new("sh").args(["-c", &format!("kill -INT {}", child.id())]).status().expect("sh runs");
        assert!(sent.success());
        std::thread::sleep(gap);
    }
    child.wait_with_output().expect("wait")
}

/// A long run that saves no checkpoint by itself (checkpoint_every 100000).
fn endless(dir: &Path, name: &str) -> Vec<String> {
    with(
        tiny_args(dir, name),
        &["--set", "training.max_steps=100000", "--set", "training.eval_every=100000", "--set", "training.checkpoint_every=100000"],
    )
}

/// [`endless`] with steps of about a second here (block 256, batch 64), so that signals sent
/// tens of milliseconds apart all land within one step.
fn slow(dir: &Path, name: &str) -> Vec<String> {
    with(endless(dir, name), &["--set", "model.block_size=256", "--set", "training.batch_size=64", "--set", "training.eval_batches=1"])
}

#[cfg(unix)]
#[test]
fn a_second_ctrl_c_still_saves_and_a_third_quits_saying_what_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two SIGINTs 50 ms apart during a step: before the fix, exit 130 at once without a checkpoint.
    let child = spawn(&slow(dir.path(), "two"));
    let run = dir.path().join("two");
    wait_for_rows(&run, 1);
    let out = interrupt(child, 2, Duration::from_millis(50));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Interrupted: checkpoint saved at step"), "{stdout}");
    let latest = burngpt::checkpoint::read_latest(&burngpt::run_dir::RunDir::new(&run)).expect("a checkpoint");
    assert!(latest.last >= 1, "{latest:?}");

    // Three (100 ms apart, so that none merges with another): the third quits at once with its
    // own code, saying which steps are lost.
    let child = spawn(&slow(dir.path(), "three"));
    let run = dir.path().join("three");
    wait_for_rows(&run, 1);
    let out = interrupt(child, 3, Duration::from_millis(100));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(stderr.contains("Quit without saving") && stderr.contains("no checkpoint was saved"), "{stderr}");
    assert!(!run.join("checkpoints/latest.json").exists(), "nothing saved");
}

#[test]
fn small_bad_inputs_get_errors_naming_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = tiny_args(dir.path(), "x");
    // Before the fix it passed validation and failed at step 2.
    fails_with(&strs(&with(args.clone(), &["--set", "optimizer.lr=inf"])), &["optimizer.lr = inf", "finite"]);
    let run = run_stopped_at_5(dir.path(), "x");
    // An unknown key on resume is unknown, not "cannot change".
    fails_with(&["--resume", s(&run), "--set", "training.bogus=1"], &["bogus", "unknown field"]);
    // A latest.json that is not UTF-8 is corrupted, not missing.
    let latest = run.join("checkpoints/latest.json");
    std::fs::write(&latest, [0xff, 0xfe, 0x7b]).expect("write");
    let out = burngpt(&["eval", "--run", s(&run), "--checkpoint", "last"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("corrupted checkpoint index") && !err.contains("missing"), "{err}");
}

/// Runs `command` under bash and returns its combined output and `${PIPESTATUS[0]}`.
#[cfg(unix)]
fn piped(command: &str) -> (String, String) {
    let script = format!("{command}; echo \"status ${{PIPESTATUS[0]}}\"");
    let out = Command::new("bash").current_dir(root()).args(["-c", &script]).output().expect("bash runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text.lines().last().unwrap_or_default().to_string();
    (text, status)
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_generate_quietly_and_stops_training_with_a_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_stopped_at_5(dir.path(), "p");
    let bin = env!("CARGO_BIN_EXE_burngpt");
    // Before the fix: "failed printing to stderr: Broken pipe", exit 101.
    let (text, status) = piped(&format!("{bin} generate --run {} --max-new-tokens 3000 --prompt 'A:\nB:\n' 2>&1 | head -1", s(&run)));
    assert_eq!(status, "status 141", "{text}");
    assert!(!text.contains("panicked"), "{text}");

    // Training whose reader went away stops after the step with a checkpoint (141 too).
    let args = endless(dir.path(), "t").join(" ");
    let (text, status) = piped(&format!("{bin} {args} 2>/dev/null | head -3"));
    assert_eq!(status, "status 141", "{text}");
    let latest = burngpt::checkpoint::read_latest(&burngpt::run_dir::RunDir::new(&dir.path().join("t"))).expect("saved");
    assert!(latest.last >= 1, "{latest:?}");
}
