//! A hostile file system (issue 26): links planted at a run directory's file names, two
//! processes preparing into one directory, a full disk, a corpus too small to split.
//!
//! Not on the wgpu build, like `safety`: the run directory's handling is the same on every backend.
#![cfg(all(unix, not(feature = "wgpu")))]

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use burngpt::run_dir::{hash_file, LockPurpose, RunDir};

use super::resume::{fails_with, ok, root, tiny_args};
use super::safety::{corpus, s, strs, with};

/// For each name, a file `outside/NAME` holding `precious NAME` and a link to it at `dir/NAME`.
fn plant_links(dir: &Path, outside: &Path, names: &[&str]) {
    fs::create_dir_all(dir).expect("mkdir");
    fs::create_dir_all(outside).expect("mkdir");
    for name in names {
        let target = outside.join(name);
        fs::write(&target, format!("precious {name}\n")).expect("write");
        std::os::unix::fs::symlink(&target, dir.join(name)).expect("plant a link");
    }
}

/// Every outside file still holds exactly what [`plant_links`] wrote.
fn assert_untouched(outside: &Path, names: &[&str]) {
    for name in names {
        let text = fs::read_to_string(outside.join(name)).expect("read");
        assert_eq!(text, format!("precious {name}\n"), "{name} was written through");
    }
}

fn is_plain_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

/// Names in `dir` that end in `.tmp`.
fn temporaries(dir: &Path) -> Vec<String> {
    let names = fs::read_dir(dir).expect("list").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned());
    names.filter(|n| n.ends_with(".tmp")).collect()
}

#[test]
fn links_planted_in_a_run_directory_are_refused_or_replaced_never_written_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, outside) = (dir.path().join("p"), dir.path().join("outside"));
    // The lock is written in place: a link there is refused by name, and nothing else happens.
    plant_links(&run, &outside, &["train.lock"]);
    let args = with(tiny_args(dir.path(), "p"), &["--set", "training.max_steps=2", "--set", "schedule.warmup_steps=1"]);
    fails_with(&strs(&args), &["train.lock is a symbolic link"]);
    assert_untouched(&outside, &["train.lock"]);
    assert!(!run.join("config.toml").exists(), "refused before anything was written");
    fs::remove_file(run.join("train.lock")).expect("unlink");

    // Every other file is written beside its name and renamed over it, temporaries included.
    let names = [
        "loss.png", "loss.svg", ".loss.png.tmp", ".loss.svg.tmp", ".config.toml.tmp", ".metrics.csv.tmp",
        ".tokenizer.json.tmp", ".data.json.tmp", "train.bin.tmp", "val.bin.tmp",
    ];
    plant_links(&run, &outside, &names);
    ok(&strs(&args));
    assert_untouched(&outside, &names);
    for file in ["loss.png", "loss.svg", "metrics.csv", "train.lock", "config.toml", "train.bin"] {
        assert!(is_plain_file(&run.join(file)), "{file} is not a file of the run's own");
    }
    assert_eq!(temporaries(&run), Vec::<String>::new());
    assert!(fs::read(run.join("loss.png")).expect("read").starts_with(b"\x89PNG"));

    // metrics.csv, continued in place on resume: a link there is replaced, not read or written.
    fs::remove_file(run.join("metrics.csv")).expect("rm");
    plant_links(&run, &outside, &["metrics.csv"]);
    ok(&["--resume", s(&run), "--max-steps", "4"]);
    assert_untouched(&outside, &["metrics.csv"]);
    let rows = burngpt::report::read_metrics(&run.join("metrics.csv")).expect("the run's own metrics");
    let steps: Vec<usize> = rows.rows.iter().filter(|r| r.train_loss.is_some()).map(|r| r.step).collect();
    assert_eq!(steps, vec![3, 4], "the resumed steps, logged into a file of the run's own");
}

fn prepare_args<'a>(input: &'a Path, out: &'a Path, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["prepare", "--input", s(input), "--out", s(out)];
    args.extend(more);
    args
}

#[test]
fn prepare_is_refused_while_another_process_holds_the_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (text, out) = (corpus(dir.path(), 20_000), dir.path().join("prepared"));
    ok(&prepare_args(&text, &out, &["--tokenizer", "bpe", "--vocab-size", "500"]));
    let files = ["tokenizer.json", "train.bin", "val.bin", "data.json"];
    let before: Vec<String> = files.iter().map(|f| hash_file(&out.join(f)).expect("hash")).collect();

    let held = RunDir::new(&out).lock(LockPurpose::Prepare).expect("this process takes the lock");
    let holder = format!("process {} is preparing data in it", std::process::id());
    let again = prepare_args(&text, &out, &["--tokenizer", "bpe", "--vocab-size", "700", "--overwrite"]);
    fails_with(&again, &[&format!("{} is in use", out.display()), &holder]);
    let after: Vec<String> = files.iter().map(|f| hash_file(&out.join(f)).expect("hash")).collect();
    assert_eq!(before, after, "the refused prepare changed nothing");
    drop(held);
    ok(&again);
}

#[test]
fn a_prepare_that_fills_the_disk_fails_by_name_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 200,000 characters: a train.bin of 360 kB, past the 64 KiB a file may grow to below.
    let (text, out) = (corpus(dir.path(), 200_000), dir.path().join("prepared"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_burngpt"));
    cmd.current_dir(root()).args(prepare_args(&text, &out, &["--tokenizer", "char"]));
    // Safety: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 64 << 10, rlim_max: 64 << 10 };
            // Writes past the limit then fail with EFBIG instead of killing the process.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            match libc::setrlimit(libc::RLIMIT_FSIZE, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let result = cmd.output().expect("the binary runs");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "a full disk is a failure");
    assert!(stderr.contains("train.bin.tmp") && stderr.contains("File too large"), "{stderr}");
    assert_eq!(temporaries(&out), Vec::<String>::new(), "a failed write removes its temporary");
    assert!(!out.join("train.bin").exists() && !out.join("data.json").exists());
}

#[test]
fn a_corpus_too_small_for_both_splits_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one: PathBuf = dir.path().join("one.txt");
    fs::write(&one, "a").expect("write");
    let out = dir.path().join("prepared");
    let split = "data.train_fraction (--train-fraction) = 0.9";
    fails_with(
        &prepare_args(&one, &out, &["--tokenizer", "char"]),
        &[&format!("data.path (--input) {}", one.display()), split, "0 characters for training and 1 for validation"],
    );
    // 20 characters: 19 and 1 pass as text, but one token cannot make a window of input and target.
    let twenty = corpus(dir.path(), 20);
    let tight = "data.train_fraction (--train-fraction) = 0.95";
    fails_with(
        &prepare_args(&twenty, &out, &["--tokenizer", "char", "--train-fraction", "0.95"]),
        &[s(&twenty), tight, "19 tokens for training and 1 for validation", "at least 2"],
    );
    assert!(!out.join("data.json").exists(), "no preparation is marked complete");
}
