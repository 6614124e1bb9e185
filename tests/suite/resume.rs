//! Checkpoints, exact resume, crash safety, and the errors of generate / eval.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::backend::NdArray;
use burngpt::checkpoint::{self, Which};
use burngpt::data::Tokenizer;
use burngpt::model::named_params;
use burngpt::run_dir::RunDir;

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn burngpt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burngpt")).current_dir(root()).args(args).output().expect("the binary runs")
}

pub(crate) fn ok(args: &[&str]) -> String {
    let out = burngpt(args);
    assert!(out.status.success() || out.status.code() == Some(130), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn fails_with(args: &[&str], needles: &[&str]) {
    let out = burngpt(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure for {args:?}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

/// tiny.toml, 20 steps, logging every step, into `out_dir` under `name`.
pub(crate) fn tiny_args(out_dir: &Path, name: &str) -> Vec<String> {
    [
        "--config", "configs/tiny.toml",
        "--set", &format!("training.out_dir={}", out_dir.display()),
        "--set", &format!("training.run_name={name}"),
        "--set", "training.max_steps=20", "--set", "schedule.warmup_steps=5",
        "--set", "training.log_every=1", "--set", "training.eval_every=10",
        "--set", "training.checkpoint_every=5", "--set", "training.eval_batches=2",
        "--set", "model.dropout=0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A tiny run stopped (and checkpointed) after step 5; returns its directory.
pub(crate) fn run_stopped_at_5(out_dir: &Path, name: &str) -> PathBuf {
    let mut args = tiny_args(out_dir, name);
    args.extend(["--stop-at-step".to_string(), "5".to_string()]);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    out_dir.join(name)
}

pub(crate) fn train_losses(run: &Path) -> Vec<(usize, String)> {
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics");
    csv.lines()
        .skip(1)
        .filter_map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (!cells[2].is_empty()).then(|| (cells[0].parse().expect("step"), cells[2].to_string()))
        })
        .collect()
}

pub(crate) fn final_params(run: &Path) -> Vec<(String, Vec<f32>)> {
    let config = burngpt::config::RunConfig::load_saved(&burngpt::run_dir::RunDir::new(run)).expect("config");
    let tok = Tokenizer::load(&run.join("tokenizer.json")).expect("tokenizer");
    let dir = checkpoint::open_checkpoint(&RunDir::new(run), Which::Last).expect("last").dir;
    let model = burngpt::model::load_model::<NdArray<f32>>(&config.gpt_config(tok.vocab_size()).expect("vocab"), &dir, &Default::default()).expect("model");
    let mut out = Vec::new();
    for p in named_params::<NdArray<f32>, _>(&model) {
        let values = match p.name.as_str() {
            n if n.starts_with("wte") => model.wte.weight.val().into_data(),
            n if n.starts_with("ln_f.gamma") => model.ln_f.gamma.as_ref().expect("affine").val().into_data(),
            n if n.starts_with("h.1.mlp.c_fc.weight") => model.h[1].mlp.c_fc.weight.val().into_data(),
            n if n.starts_with("h.0.attn.c_attn.weight") => model.h[0].attn.c_attn.weight.val().into_data(),
            _ => continue,
        };
        out.push((p.name, values.to_vec().expect("f32")));
    }
    assert_eq!(out.len(), 4);
    out
}

#[test]
fn resume_is_exact_bit_for_bit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = tiny_args(dir.path(), "whole");
    ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let mut b = tiny_args(dir.path(), "split");
    b.extend(["--stop-at-step".to_string(), "10".to_string()]);
    let out = burngpt(&b.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(130), "stopping early exits like an interrupt");
    let split = dir.path().join("split");
    assert_eq!(train_losses(&split).last().map(|r| r.0), Some(10));
    ok(&["--resume", split.to_str().expect("utf8")]);

    let whole = train_losses(&dir.path().join("whole"));
    let resumed = train_losses(&split);
    assert_eq!(whole.len(), 20);
    assert_eq!(resumed, whole, "every step's loss, printed with full precision, is identical");
    assert_eq!(final_params(&dir.path().join("whole")), final_params(&split), "final parameters are identical");
}

#[test]
fn resume_refuses_unsafe_changes_and_accepts_safe_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_stopped_at_5(dir.path(), "r");
    let run_s = run.to_str().expect("utf8");
    fails_with(&["--resume", run_s, "--set", "model.d_model=32"], &["cannot change model.d_model when resuming"]);
    fails_with(&["--resume", run_s, "--set", "optimizer.lr=0.1"], &["cannot change optimizer.lr"]);
    let out = ok(&["--resume", run_s, "--max-steps", "12", "--set", "training.log_every=4"]);
    assert!(out.contains("Resuming from") && out.contains("Step 12/12"), "{out}");
}

#[test]
fn a_crash_mid_write_leaves_the_last_checkpoint_loadable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = tiny_args(dir.path(), "c");
    ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let run = dir.path().join("c");
    let ckpts = burngpt::run_dir::RunDir::new(&run).checkpoints();
    // What a crash while writing step 25 leaves behind: a half-written checkpoint folder
    // and a torn temporary index, neither yet renamed into place.
    std::fs::create_dir_all(ckpts.join("step-000025.tmp")).expect("mkdir");
    std::fs::write(ckpts.join("step-000025.tmp/model.mpk"), b"\x85\xa4half").expect("write");
    std::fs::write(ckpts.join(".latest.json.tmp"), b"{\"last\": 25, \"be").expect("write");
    let run_s = run.to_str().expect("utf8");
    let out = ok(&["eval", "--run", run_s, "--checkpoint", "last"]);
    assert!(out.contains("val loss"), "{out}");
    ok(&["generate", "--run", run_s, "--prompt", "ROMEO:", "--max-new-tokens", "5"]);
    // Old checkpoints were pruned to keep_last = 2 plus the best.
    let latest = checkpoint::read_latest(&RunDir::new(&run)).expect("index");
    assert_eq!(latest.last, 20);
    assert!(latest.steps.len() <= 3, "{:?}", latest.steps);
}

#[test]
fn generate_and_eval_errors_are_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_stopped_at_5(dir.path(), "e");
    let run_s = run.to_str().expect("utf8");

    fails_with(&["generate", "--run", "no/such/run", "--prompt", "a"], &["run directory no/such/run does not exist"]);
    fails_with(&["generate", "--run", run_s, "--prompt", "ROMEO: 東"], &["'東'", "not in the char tokenizer's vocabulary"]);
    fails_with(&["generate", "--run", run_s, "--prompt", "a", "--top-p", "1.5"], &["--top-p 1.5 must be in (0, 1]"]);
    fails_with(&["generate", "--run", run_s, "--prompt", "a", "--temperature=-1"], &["--temperature -1 must be >= 0"]);
    fails_with(&["eval", "--run", run_s, "--checkpoint", "999"], &["no checkpoint at step 999"]);

    // A record from another architecture: the run's config now says d_model 32.
    let config_path = run.join("config.toml");
    let original = std::fs::read_to_string(&config_path).expect("config");
    std::fs::write(&config_path, original.replace("d_model = 64", "d_model = 32").replace("d_ff = 256", "d_ff = 128")).expect("write");
    fails_with(&["generate", "--run", run_s, "--prompt", "a"], &["tensor wte.weight has shape [65, 64]", "[65, 32]"]);
    std::fs::write(&config_path, original).expect("restore");

    // A truncated record.
    let model = checkpoint::open_checkpoint(&RunDir::new(&run), Which::Last).expect("last").dir.join("model.mpk");
    let bytes = std::fs::read(&model).expect("read");
    std::fs::write(&model, &bytes[..bytes.len() / 2]).expect("truncate");
    fails_with(&["generate", "--run", run_s, "--prompt", "a"], &["model.mpk is damaged", "no other intact checkpoint"]);

    std::fs::remove_file(run.join("tokenizer.json")).expect("rm");
    fails_with(&["generate", "--run", run_s, "--prompt", "a"], &["tokenizer", "missing"]);
}
