//! Data parallelism over MPI (`--features mpi`; `.ci/run` runs these after installing Open MPI):
//! `mpirun -np 2` trains the single-process run, resumes across world sizes, dies cleanly.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use burn::backend::NdArray;
use burngpt::checkpoint::{self, Which};
use burngpt::report::{read_metrics, MetricsRow};
use burngpt::run_dir::RunDir;

/// Largest difference allowed between a loss of a 1-process and a 2-process run.
///
/// The runs differ only in the order of float32 sums: the loss is the mean of two half-batch means
/// instead of one mean, the gradients the sum of two half-batch sums. Each such sum carries a
/// relative rounding error of about log2(n) x 2^-24 (n <= 8,192 terms here: ~1e-6), and training
/// feeds the differences back. Measured on this machine over 300 steps of tiny.toml: at most
/// 4.5e-6 (1.2e-6 with grad_accum_steps = 2). 1e-4 leaves a 20x margin and still fails at once on
/// a real defect (a wrong share of windows or a missing division by the world size moves the loss
/// by 1e-2 or more within a few steps).
const LOSS_TOL: f64 = 1e-4;

/// Largest difference allowed between a parameter of the two runs: AdamW moves a parameter by
/// about `lr` per step whatever its gradient's scale, so a rounding-level difference in a gradient
/// near zero can change one step's update by up to `2 lr` (tiny.toml: lr 3e-3). Measured: at most
/// 2.4e-3 (a bias) after 300 steps; allowed: 4 x lr.
const PARAM_TOL: f64 = 4.0 * 3e-3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `mpirun -np n burngpt args` (or the binary alone for n = 1).
fn launch(n: usize, args: &[String]) -> Command {
    let mut cmd = if n == 1 {
        Command::new(env!("CARGO_BIN_EXE_burngpt"))
    } else {
        let mut cmd = Command::new("mpirun");
        cmd.args(["-np", &n.to_string(), "--oversubscribe", env!("CARGO_BIN_EXE_burngpt")]);
        cmd
    };
    // Open MPI refuses to run as root (CI containers) unless told.
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    cmd.current_dir(root()).args(args);
    cmd
}

fn run(n: usize, args: &[String]) -> Output {
    launch(n, args).output().expect("mpirun runs")
}

fn ok(n: usize, args: &[String]) -> String {
    let out = run(n, args);
    assert!(
        out.status.success() || out.status.code() == Some(130),
        "{n} processes, {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// tiny.toml for `steps` steps without dropout, every step logged, into `out/name`.
fn tiny(out: &Path, name: &str, steps: usize, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--config", "configs/tiny.toml",
        "--set", &format!("training.out_dir={}", out.display()),
        "--set", &format!("training.run_name={name}"),
        "--set", &format!("training.max_steps={steps}"),
        "--set", "schedule.warmup_steps=20", "--set", "training.log_every=1", "--set", "training.eval_every=50",
        "--set", "training.eval_batches=4", "--set", "training.checkpoint_every=50",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn rows(run: &Path) -> Vec<MetricsRow> {
    read_metrics(&run.join("metrics.csv")).expect("metrics").rows
}

/// Every train and validation loss of `a` and `b`, step by step, within [`LOSS_TOL`].
fn same_losses(a: &Path, b: &Path) {
    let (a, b) = (rows(a), rows(b));
    assert_eq!(a.len(), b.len(), "the same rows");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.step, x.train_loss.is_some()), (y.step, y.train_loss.is_some()));
        for (p, q) in [(x.train_loss, y.train_loss), (x.val_loss, y.val_loss)] {
            if let (Some(p), Some(q)) = (p, q) {
                assert!((p - q).abs() <= LOSS_TOL, "step {}: {p} vs {q}", x.step);
            }
        }
    }
}

/// Every parameter of the last checkpoints of `a` and `b` within [`PARAM_TOL`].
fn same_params(a: &Path, b: &Path) {
    let load = |run: &Path| {
        let dir = RunDir::new(run);
        let config = burngpt::run::RunConfig::load_saved(&dir).expect("config");
        let last = checkpoint::open_checkpoint(&dir, Which::Last).expect("checkpoint");
        let model = burngpt::model::load_model::<NdArray<f32>>(&config.gpt_config(65).expect("vocab"), &last.dir, &Default::default())
            .expect("model");
        burngpt::model::named_values::<NdArray<f32>, _>(&model)
    };
    for ((pa, va), (pb, vb)) in load(a).iter().zip(&load(b)) {
        assert_eq!(pa.name, pb.name);
        let worst = va.iter().zip(vb).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max);
        assert!(worst <= PARAM_TOL, "{}: differs by {worst}", pa.name);
    }
}

#[test]
fn two_ranks_train_the_single_process_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, extra) in [("plain", &[][..]), ("accum", &["--set", "training.grad_accum_steps=2"][..])] {
        let one = format!("{name}-1");
        let two = format!("{name}-2");
        ok(1, &tiny(dir.path(), &one, 300, extra));
        let out = ok(2, &tiny(dir.path(), &two, 300, extra));
        assert!(out.contains("2 processes (rank 0 on"), "the banner names the world: {out}");
        assert_eq!(out.matches("Step 300/300 | Loss").count(), 1, "only rank 0 prints");
        same_losses(&dir.path().join(&one), &dir.path().join(&two));
        same_params(&dir.path().join(&one), &dir.path().join(&two));
    }
}

#[test]
fn a_run_resumes_on_another_world_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(1, &tiny(dir.path(), "whole", 200, &[]));
    for (first, then, name) in [(2, 1, "two-then-one"), (1, 2, "one-then-two")] {
        ok(first, &tiny(dir.path(), name, 200, &["--stop-at-step", "100"]));
        let run = dir.path().join(name);
        ok(then, &["--resume".to_string(), run.display().to_string()]);
        same_losses(&dir.path().join("whole"), &run);
        same_params(&dir.path().join("whole"), &run);
    }
}

/// Muon under MPI: the ranks stay identical (the trainer compares their parameters at every
/// checkpoint, here every 20 steps, and stops if they differ), and the run follows the
/// single-process one: the same losses within [`LOSS_TOL`], also after resuming on the other
/// world size (the leader's momentum buffers are loaded by every rank).
#[test]
fn a_muon_run_on_two_ranks_is_the_single_process_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let muon = ["--set", "optimizer.kind=muon", "--set", "training.checkpoint_every=20"];
    ok(1, &tiny(dir.path(), "muon-1", 60, &muon));
    ok(2, &tiny(dir.path(), "muon-2", 60, &muon));
    same_losses(&dir.path().join("muon-1"), &dir.path().join("muon-2"));
    let stopped = [&muon[..], &["--stop-at-step", "40"]].concat();
    ok(2, &tiny(dir.path(), "muon-resumed", 60, &stopped));
    let run = dir.path().join("muon-resumed");
    ok(1, &["--resume".to_string(), run.display().to_string()]);
    same_losses(&dir.path().join("muon-1"), &run);
}

#[test]
fn a_batch_that_does_not_divide_among_the_ranks_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(3, &tiny(dir.path(), "odd", 30, &[]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("training.batch_size = 16 does not divide among 3 processes"), "{err}");
}

/// The PIDs of `pid`'s child processes (Linux).
fn children(pid: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    text.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

#[test]
fn a_killed_rank_ends_the_job_and_the_last_checkpoint_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = tiny(dir.path(), "k", 100_000, &["--set", "training.checkpoint_every=20", "--set", "training.eval_every=100000"]);
    let mut job = launch(2, &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("mpirun starts");
    let run = dir.path().join("k");
    let start = Instant::now();
    while RunDir::new(&run).checkpoint_steps_on_disk().len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint within two minutes");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ranks = children(job.id());
    assert_eq!(ranks.len(), 2, "mpirun's children: {ranks:?}");
    let killed = Command::new("sh").args(["-c", &format!("kill -9 {}", ranks[1])]).status().expect("sh");
    assert!(killed.success());
    let killed_at = Instant::now();
    let status = loop {
        if let Some(status) = job.try_wait().expect("status") {
            break status;
        }
        assert!(killed_at.elapsed() < Duration::from_secs(30), "the job still runs 30 s after a rank died");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success(), "a dead rank fails the job");
    let out = ok(1, &["--resume".to_string(), run.display().to_string(), "--max-steps".into(), "300".into()]);
    assert!(out.contains("Resuming from"), "{out}");
}

#[test]
fn ctrl_c_under_mpirun_stops_every_rank_at_one_step_with_one_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = tiny(dir.path(), "c", 100_000, &["--set", "training.log_every=1000", "--set", "training.eval_every=100000"]);
    let job = launch(2, &args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("mpirun starts");
    let run = dir.path().join("c");
    let start = Instant::now();
    while !run.join("metrics.csv").is_file() || start.elapsed() < Duration::from_secs(2) {
        assert!(start.elapsed() < Duration::from_secs(120), "no training within two minutes");
        std::thread::sleep(Duration::from_millis(50));
    }
    // mpirun forwards SIGINT to every rank; each asks to stop at a moment of its own.
    let sent = Command::new("sh").args(["-c", &format!("kill -INT {}", job.id())]).status().expect("sh");
    assert!(sent.success());
    let out = job.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("Interrupted: checkpoint saved at step").count(), 1, "{stdout}");
    let latest = checkpoint::read_latest(&RunDir::new(&run)).expect("index");
    assert!(stdout.contains(&format!("Interrupted: checkpoint saved at step {}", latest.last)), "{stdout}");
    ok(1, &["--resume".to_string(), run.display().to_string(), "--max-steps".into(), (latest.last + 5).to_string()]);
}
