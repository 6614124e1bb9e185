//! `burngpt train` (and `burngpt --config FILE`): a new run, or `--resume DIR`.

use anyhow::{bail, Context, Result};

use burngpt::backend;
use burngpt::checkpoint;
use burngpt::run_dir::RunDir;
use burngpt::cli::TrainArgs;
use burngpt::config::RunConfig;
use burngpt::train::{train, Start, StopHandle, TrainSummary};

/// Trains from `--config`, or continues the run `--resume` names; Ctrl-C stops after the
/// current step with a checkpoint saved (the summary then says `interrupted`).
pub fn run(args: &TrainArgs, device: Option<&str>) -> Result<TrainSummary> {
    let (config, run_dir, start) = match (&args.resume, &args.config) {
        (Some(dir), _) => {
            let saved = RunConfig::load_saved(&RunDir::new(dir))?;
            let config = RunConfig::for_resume(&saved, &args.overrides())
                .with_context(|| format!("cannot resume {}", dir.display()))?;
            (config, dir.clone(), Start::Resume)
        }
        (None, Some(path)) => {
            let config = RunConfig::load(path, &args.overrides())?;
            let run_dir = config.run_dir();
            refuse_or_clear(&RunDir::new(&run_dir), args.start_over)?;
            (config, run_dir, Start::Fresh)
        }
        (None, None) => bail!("no config given: pass --config FILE (e.g. --config configs/tiny.toml) or --resume DIR"),
    };
    let stop = StopHandle::new();
    let on_ctrl_c = stop.clone();
    ctrlc::set_handler(move || on_ctrl_c.request()).context("cannot install the Ctrl-C handler")?;
    let device = backend::device(device)?;
    let label = format!("backend {}, device {device:?}", backend::name());
    train::<backend::Training>(&config, &RunDir::new(&run_dir), start, &stop, args.stop_at_step, &device, &label)
}

/// A new run may not land on an earlier one: its checkpoints would be pruned and its metrics
/// truncated. Refused unless the user said `--start-over`, which deletes them first.
fn refuse_or_clear(run: &RunDir, start_over: bool) -> Result<()> {
    if !run.holds_run() {
        return Ok(());
    }
    if !start_over {
        let last = checkpoint::read_latest(run.root()).map(|l| format!(" (last checkpoint: step {})", l.last)).unwrap_or_default();
        bail!(
            "{} already holds a run{last}: continue it with `--resume {}`, or delete it and start over with \
             `--start-over` (or choose another training.run_name)",
            run.root().display(),
            run.root().display()
        );
    }
    println!("Starting {} over: deleting its checkpoints, metrics and plots", run.root().display());
    run.clear_run()
}
