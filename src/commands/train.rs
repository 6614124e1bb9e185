//! `burngpt train` (and `burngpt --config FILE`): a new run, or `--resume DIR`.

use anyhow::{bail, Context, Result};

use burngpt::backend;
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
