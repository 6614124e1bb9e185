//! What no ordinary mistake may destroy (issue 18): a changed corpus, a second process, a torn
//! metrics file, a damaged checkpoint, SIGTERM, divergence, and small bad inputs.
//!
//! Not on the wgpu build, whose suite already takes about 8 minutes of CI on lavapipe: what these
//! check is the run directory's handling, the same code on every backend.
#![cfg(not(feature = "wgpu"))]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::resume::{burngpt, fails_with, ok, run_stopped_at_5, tiny_args};

pub(crate) fn s(path: &Path) -> &str {
    path.to_str().expect("utf8")
}

pub(crate) fn with(mut args: Vec<String>, more: &[&str]) -> Vec<String> {
    args.extend(more.iter().map(|m| m.to_string()));
    args
}

pub(crate) fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn blake3_of(path: &Path) -> String {
    burngpt::run_dir::hash_file(path).expect("hash")
}

/// The text of tinyshakespeare's first `bytes` bytes, as a corpus of its own.
pub(crate) fn corpus(dir: &Path, bytes: usize) -> PathBuf {
    let text = std::fs::read_to_string(super::resume::root().join("data/tinyshakespeare.txt")).expect("corpus");
    let path = dir.join("corpus.txt");
    std::fs::write(&path, &text[..bytes]).expect("write");
    path
}

/// Starts a training process in the background with stdout and stderr piped.
fn spawn(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_burngpt"))
        .current_dir(super::resume::root())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Waits (up to a minute) until `metrics.csv` of `run` holds a training row.
fn wait_for_training(run: &Path) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let rows = std::fs::read_to_string(run.join("metrics.csv")).unwrap_or_default();
        if rows.lines().any(|l| l.split(',').nth(2).is_some_and(|c| !c.is_empty())) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} did not start training within a minute", run.display());
}

#[test]
fn resume_after_the_corpus_changed_keeps_the_runs_own_tokenizer_and_token_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = corpus(dir.path(), 60_000);
    let args = with(tiny_args(dir.path(), "c"), &["--set", &format!("data.path={}", s(&text))]);
    ok(&strs(&with(args.clone(), &["--stop-at-step", "5"])));
    let run = dir.path().join("c");
    let files = ["tokenizer.json", "train.bin", "val.bin", "data.json"];
    let before: Vec<String> = files.iter().map(|f| blake3_of(&run.join(f))).collect();

    // New characters: a char tokenizer prepared again would have another vocabulary. Before the
    // fix, resume re-tokenized into the run directory and then failed on the checkpoint.
    std::fs::write(&text, format!("{}\nÆØÅ æøå\n", std::fs::read_to_string(&text).expect("read"))).expect("edit");
    let out = ok(&["--resume", s(&run)]);
    assert!(out.contains("Using the run's prepared data"), "{out}");
    let after: Vec<String> = files.iter().map(|f| blake3_of(&run.join(f))).collect();
    assert_eq!(before, after, "resume never rewrites the run's tokenizer or token files");

    // A same-size edit is a changed corpus too (the old check compared sizes only).
    let edited = std::fs::read_to_string(&text).expect("read").replacen("First", "Fir5t", 1);
    std::fs::write(&text, edited).expect("same-size edit");
    let out = ok(&strs(&with(args, &["--start-over", "--set", "training.max_steps=6"])));
    assert!(out.contains("is for other settings: preparing again"), "{out}");
}

#[test]
fn a_second_training_process_on_one_run_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = with(tiny_args(dir.path(), "l"), &["--set", "training.max_steps=100000", "--set", "training.eval_every=100000"]);
    let mut first = spawn(&args);
    let run = dir.path().join("l");
    wait_for_training(&run);
    let holder = format!("process {}", first.id());
    fails_with(&["--resume", s(&run)], &["is in use", &holder]);
    fails_with(&strs(&with(args, &["--start-over"])), &["is in use", &holder]);
    first.kill().expect("kill");
    first.wait().expect("wait");
    assert!(run.join("metrics.csv").is_file(), "the refused start-over deleted nothing");
}

#[test]
fn a_torn_metrics_file_is_repaired_on_resume_and_never_fails_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_stopped_at_5(dir.path(), "m");
    let metrics = run.join("metrics.csv");
    // A crash after step 7 was logged but before its checkpoint, in the middle of a row.
    let text = std::fs::read_to_string(&metrics).expect("read");
    std::fs::write(&metrics, format!("{text}6,1,2.5,,0.001,0.4,100,1.0\n7,1,2.4,,0.001,0.4,100,1.1\n8,1,0.12")).expect("tear");
    ok(&["--resume", s(&run)]);
    let rows = burngpt::report::read_metrics(&metrics).expect("metrics");
    assert!(rows.bad_lines.is_empty(), "the torn line is gone: {:?}", rows.bad_lines);
    let steps: Vec<usize> = rows.rows.iter().filter(|r| r.train_loss.is_some()).map(|r| r.step).collect();
    assert_eq!(steps, (1..=20).collect::<Vec<_>>(), "one row per step, none repeated or backward");
    assert!(run.join("loss.png").is_file());
}

/// Flips 8 bytes in the middle of a file.
fn flip(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 8] {
        *b ^= 0x5a;
    }
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn a_damaged_checkpoint_is_named_and_the_intact_ones_offered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = with(tiny_args(dir.path(), "d"), &["--set", "training.keep_last=10"]);
    ok(&strs(&args));
    let run = dir.path().join("d");
    let ckpt = |step: usize| run.join(format!("checkpoints/step-{step:06}"));
    flip(&ckpt(20).join("model.mpk"));
    let advice = format!("--resume {} --checkpoint 15", s(&run));
    fails_with(&["eval", "--run", s(&run), "--checkpoint", "last"], &["model.mpk is damaged", "intact checkpoints: 5, 10, 15", "--checkpoint 15"]);
    fails_with(&["--resume", s(&run)], &["model.mpk is damaged", &advice]);
    assert!(ok(&["eval", "--run", s(&run), "--checkpoint", "15"]).contains("val loss"));

    // A checkpoint copied under another step's name: its state says step 10.
    let copy = ckpt(12);
    std::fs::create_dir(&copy).expect("mkdir");
    for f in ["model.mpk", "optim.mpk", "state.json", "manifest.json"] {
        std::fs::copy(ckpt(10).join(f), copy.join(f)).expect("copy");
    }
    fails_with(&["eval", "--run", s(&run), "--checkpoint", "12"], &["says step 10 but it is the checkpoint of step 12"]);
    std::fs::remove_dir_all(&copy).expect("rm");

    // Continue from the intact step 15: the damaged 20 is set aside, the run ends at 20 again.
    let out = ok(&["--resume", s(&run), "--checkpoint", "15"]);
    assert!(out.contains("were moved to"), "{out}");
    assert!(run.join("checkpoints/after-step-000015/step-000020/model.mpk").is_file(), "nothing is deleted");
    assert!(ok(&["eval", "--run", s(&run), "--checkpoint", "20"]).contains("val loss"));

    // Damaged optimizer state stops a resume with the file's name, not as "training diverged".
    flip(&ckpt(20).join("optim.mpk"));
    fails_with(&["--resume", s(&run)], &["optim.mpk is damaged"]);
}

#[cfg(unix)]
#[test]
fn sigterm_saves_a_checkpoint_and_exits_143() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = with(tiny_args(dir.path(), "t"), &["--set", "training.max_steps=100000", "--set", "training.eval_every=100000"]);
    let child = spawn(&args);
    let run = dir.path().join("t");
    wait_for_training(&run);
    // The shell's built-in kill: no procps needed.
    let killed = Command::new("sh").args(["-c", &format!("kill -TERM {}", child.id())]).status().expect("sh runs");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(143), "128 + SIGTERM; stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Interrupted: checkpoint saved at step"), "{stdout}");
    ok(&["eval", "--run", s(&run), "--checkpoint", "last"]);
}

#[test]
fn divergence_keeps_only_checkpoints_with_a_sane_loss() {
    let dir = tempfile::tempdir().expect("tempdir");
    // lr warming up towards 3 without clipping: a few checkpoints are saved, then the validation
    // loss passes ln(65) + 1 = 5.1744, worse than an untrained model (src/run/sanity.rs). With
    // the earlier limit, 10 x ln(65) = 41.7, the run went on and kept checkpoints scoring 26.
    let args = with(
        tiny_args(dir.path(), "n"),
        &[
            "--set", "optimizer.lr=3", "--set", "optimizer.grad_clip=0", "--set", "schedule.warmup_steps=200",
            "--set", "training.max_steps=300", "--set", "training.checkpoint_every=1",
        ],
    );
    fails_with(&strs(&args), &["training diverged", "was saved before it and is kept"]);
    let run = dir.path().join("n");
    let latest = burngpt::checkpoint::read_latest(&burngpt::run_dir::RunDir::new(&run)).expect("some were kept");
    assert!(!latest.steps.is_empty());
    for step in latest.steps {
        let out = ok(&["eval", "--run", s(&run), "--checkpoint", &step.to_string()]);
        let loss: f64 = out.split("val loss ").nth(1).and_then(|r| r.split_whitespace().next()).expect("loss").parse().expect("number");
        assert!(loss.is_finite() && loss <= 65f64.ln() + 1.0, "the kept checkpoint of step {step} scores {loss}");
    }
}

#[test]
fn eval_fails_on_a_non_finite_loss() {
    use burn::backend::NdArray;
    use burngpt::checkpoint::{self, Which};
    use burngpt::run_dir::RunDir;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_stopped_at_5(dir.path(), "f");
    let run_dir = RunDir::new(&run);
    // A checkpoint at step 6 whose first layer norm's gain is NaN, written with a valid manifest.
    let config = burngpt::run::RunConfig::load_saved(&run_dir).expect("config");
    let from = checkpoint::open_checkpoint(&run_dir, Which::Last).expect("step 5");
    let gpt = config.gpt_config(65).expect("vocab");
    let model = burngpt::model::load_model::<NdArray<f32>>(&gpt, &from.dir, &Default::default()).expect("model");
    let (model, _) = burngpt::model::replace_params(model, |name, shape| {
        Ok(vec![if name == "ln_f.gamma" { f32::NAN } else { 0.0 }; shape.iter().product()])
    });
    let bytes = burngpt::model::model_bytes(model).expect("bytes");
    let optim = std::fs::read(from.dir.join("optim.mpk")).expect("optim");
    let state = checkpoint::TrainState { step: 6, ..from.state };
    checkpoint::save_checkpoint(&run_dir, &bytes, &optim, &state, 5).expect("save");
    let out = burngpt(&["eval", "--run", s(&run), "--checkpoint", "6"]);
    assert!(!out.status.success(), "a NaN loss is a failure");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the model is diverged"));
}

#[test]
fn leftovers_of_an_interrupted_save_or_prune_are_removed_by_the_next_save() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_stopped_at_5(dir.path(), "o");
    let ckpts = run.join("checkpoints");
    // A prune killed half-way (old layout: a half-deleted step directory), a rename-then-delete
    // killed half-way (new layout), and a save killed before its rename.
    for leftover in ["step-000001", "step-000002.del", "step-000006.tmp"] {
        std::fs::create_dir_all(ckpts.join(leftover)).expect("mkdir");
        std::fs::write(ckpts.join(leftover).join("optim.mpk"), b"half").expect("write");
    }
    ok(&["--resume", s(&run)]);
    let mut names: Vec<String> =
        std::fs::read_dir(&ckpts).expect("list").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let latest = burngpt::checkpoint::read_latest(&burngpt::run_dir::RunDir::new(&run)).expect("index");
    let mut expected: Vec<String> = latest.steps.iter().map(|s| format!("step-{s:06}")).collect();
    expected.push("latest.json".to_string());
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn small_bad_inputs_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let escape = with(tiny_args(dir.path(), "x"), &["--set", "training.run_name=../../x"]);
    fails_with(&strs(&escape), &["training.run_name = \"../../x\""]);
    fails_with(&strs(&with(tiny_args(dir.path(), "x"), &["--set", "model.layer_norm_eps=inf"])), &["model.layer_norm_eps"]);
    fails_with(&strs(&with(tiny_args(dir.path(), "x"), &["--stop-at-step", "0"])), &["--stop-at-step 0"]);
    let run = run_stopped_at_5(dir.path(), "g");
    fails_with(&["generate", "--run", s(&run), "--num-samples", "0"], &["--num-samples 0"]);
    fails_with(&["--resume", s(&run), "--stop-at-step", "3"], &["--stop-at-step 3: the run is already at step 5"]);
}
