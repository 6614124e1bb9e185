//! The crash test: a training run killed with SIGKILL at seeded random moments (during data
//! preparation, steps, checkpoint writes) and resumed each time ends bit for bit where an
//! uninterrupted run ends, and its checkpoint index never names a checkpoint that is not whole.
//!
//! Not on the wgpu build, whose suite already takes about 8 minutes of CI on lavapipe; the
//! exact-resume test covers that backend.
#![cfg(not(feature = "wgpu"))]

use std::path::Path;
use std::time::Duration;

use burn::backend::NdArray;
use burngpt::checkpoint::{self, Which};
use burngpt::run_dir::RunDir;
use rand::{RngExt, SeedableRng};

use super::resume::{ok, root, tiny_args};

const KILLS: usize = 10;

/// Train rows of metrics.csv: everything but the timings (step, epoch, losses, lr, grad norm).
fn rows(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics");
    text.lines().map(|l| l.split(',').take(6).collect::<Vec<_>>().join(",")).collect()
}

/// Every parameter of the last checkpoint, by name.
fn params(run: &Path) -> Vec<(String, Vec<f32>)> {
    let run_dir = RunDir::new(run);
    let config = burngpt::run::RunConfig::load_saved(&run_dir).expect("config");
    let last = checkpoint::open_checkpoint(&run_dir, Which::Last).expect("last checkpoint");
    let gpt = config.gpt_config(65).expect("char vocabulary");
    let model = burngpt::model::load_model::<NdArray<f32>>(&gpt, &last.dir, &Default::default()).expect("model");
    burngpt::model::named_values::<NdArray<f32>, _>(&model).into_iter().map(|(p, v)| (p.name, v)).collect()
}

/// The index names only whole checkpoints (each passes its checksums).
fn index_is_whole(run: &RunDir) {
    if let Ok(latest) = checkpoint::read_latest(run) {
        for step in latest.steps.iter().copied().chain([latest.last, latest.best]) {
            checkpoint::open_checkpoint(run, Which::Step(step)).expect("every indexed checkpoint is whole");
        }
    }
}

/// Names under `dir` that only an unfinished write leaves (`*.tmp`, `*.del`).
fn temporaries(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") || name.ends_with(".del") {
            out.push(entry.path().display().to_string());
        }
        if entry.path().is_dir() {
            temporaries(&entry.path(), out);
        }
    }
}

#[test]
fn killed_ten_times_and_resumed_the_run_ends_bit_for_bit_as_an_uninterrupted_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = |name: &str| {
        let mut args = tiny_args(dir.path(), name);
        args.extend(
            ["--set", "training.max_steps=300", "--set", "training.checkpoint_every=2", "--set", "training.keep_last=3"]
                .map(String::from),
        );
        args
    };
    let whole_args = settings("whole");
    let started = std::time::Instant::now();
    ok(&whole_args.iter().map(String::as_str).collect::<Vec<_>>());
    // Kills land within the first sixth of a whole run's time (not a timing assertion: it only
    // scales the delays to this machine's speed, so that the ten kills spread over the run).
    let max_delay_ms = (started.elapsed().as_millis() as u64 / 6).max(100);

    let crash_args = settings("crash");
    let run = dir.path().join("crash");
    let run_dir = RunDir::new(&run);
    let mut rng = rand::rngs::StdRng::seed_from_u64(18);
    let mut kills = 0;
    while kills < KILLS {
        // The first start, and any restart before the config was saved, is a new run.
        let args: Vec<String> = if run_dir.config().is_file() {
            vec!["--resume".into(), run.display().to_string()]
        } else {
            crash_args.iter().cloned().chain(["--start-over".to_string()]).collect()
        };
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_burngpt"))
            .current_dir(root())
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the binary starts");
        // The first kill lands during start-up or data preparation, the others anywhere.
        let delay = if kills == 0 { rng.random_range(5..150) } else { rng.random_range(30..max_delay_ms) };
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().expect("status").is_some();
        let _ = child.kill();
        child.wait().expect("wait");
        if finished {
            break;
        }
        kills += 1;
        index_is_whole(&run_dir);
    }
    assert!(kills >= 5, "only {kills} kills landed before the run finished: the delays are too long");
    ok(&["--resume", run.to_str().expect("utf8")]);

    let mut stray = Vec::new();
    temporaries(&run, &mut stray);
    assert!(stray.is_empty(), "temporary files after a successful save: {stray:?}");
    let latest = checkpoint::read_latest(&run_dir).expect("index");
    assert_eq!(run_dir.checkpoint_steps_on_disk(), latest.steps, "latest.json names exactly the checkpoint directories");
    index_is_whole(&run_dir);
    let whole = dir.path().join("whole");
    assert_eq!(rows(&run), rows(&whole), "metrics (without timings) are identical");
    assert_eq!(params(&run), params(&whole), "final parameters are identical");
}
