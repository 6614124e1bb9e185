//! Training a run: build it, its loop (one step after another: the batches, the step, logging,
//! evaluation, samples, checkpoints, stopping), then the plots.

use anyhow::{bail, Result};
use burngpt_ops::FusedAutodiffBackend;

use super::config::RunConfig;
use super::loop_state::LoopState;
use super::setup::{Run, Start};
use super::stop::{StopHandle, StopWhen};
use super::summary::TrainSummary;
use super::training::TrainingConfig;
use crate::dist::Collective;
use crate::host_memory::MemoryCheck;
use crate::report::plot_run;
use crate::run_dir::{LockPurpose, RunDir};
use crate::train::check_agreement;

/// Trains the model described by `config` on `device` in the run directory `run`, logging to stdout,
/// saving checkpoints, metrics and plots there. On `comm.size()` processes each rank reads its
/// share of every step's windows and rank 0 alone writes. `start` says whether to begin a new run or
/// continue the last checkpoint of `run`. After the step during which `stop` is
/// requested, or after step `stop_at_step`, a checkpoint is saved and the summary says
/// `interrupted`. The banner names `backend_label`; the run's memory estimate is checked against
/// `memory` before anything large is allocated.
pub fn train<B: FusedAutodiffBackend>(
    config: &RunConfig,
    run: &RunDir,
    start: Start,
    stop: &StopHandle,
    stop_at_step: Option<usize>,
    device: &B::Device,
    (backend_label, memory): (&str, &MemoryCheck),
    comm: &dyn Collective,
) -> Result<TrainSummary> {
    let batch = config.training.batch_size;
    if batch % comm.size() != 0 {
        bail!(
            "training.batch_size = {batch} does not divide among {} processes: each reads batch_size / processes \
             windows of every micro-batch (the config describes the run, not the cluster)",
            comm.size()
        );
    }
    // One writer per run directory, from before anything is read or deleted until the plots.
    let _lock = if comm.is_leader() { Some(run.lock(LockPurpose::Train)?) } else { None };
    let built = Run::<B>::build(config, run, start, device, (backend_label, memory), comm)?;
    check_agreement(&built.learner.model, comm, "at start-up")?;
    let total_steps = built.total_steps;
    let summary = run_steps(built, &config.training, run, &StopWhen { handle: stop, at_step: stop_at_step }, device, comm)?;
    if !comm.is_leader() {
        return Ok(summary);
    }
    let schedule = config.learner_config(total_steps).schedule;
    // The run is saved by now: a plot that cannot be drawn is worth a warning, not a failed run.
    match plot_run(run, Some(&|step| schedule.lr_at(step))) {
        Ok(()) => crate::outln!("Saved checkpoints, metrics.csv, loss.png and loss.svg in {}", run.root().display()),
        Err(err) => {
            crate::outln!("Saved checkpoints and metrics.csv in {}", run.root().display());
            crate::errln!("Warning: no loss plot: {err:#} (draw it later with `burngpt plot --run {}`)", run.root().display());
        }
    }
    Ok(summary)
}

/// The steps of `built` from its first (or resumed) step to the last or to a stop, then the
/// closing lines; checkpoints go to `run`. Reads as nanoGPT's train.py loop.
fn run_steps<B: FusedAutodiffBackend>(
    built: Run<B>,
    t: &TrainingConfig,
    run: &RunDir,
    stop: &StopWhen,
    device: &B::Device,
    comm: &dyn Collective,
) -> Result<TrainSummary> {
    let mut state = LoopState::start(built, t, run, stop, device, comm)?;
    for step in state.steps() {
        // this rank's share of the step's windows
        let (epoch, batches) = state.read_step(step)?;
        let mut stop_now = state.stop_requested();
        // forward, loss, backward, all-reduce, clip, update
        let out = state.train_step(step, batches, &mut stop_now);
        state.log_step(step, epoch, &out)?;
        let val_loss = if state.eval_due(step) { state.evaluate(step, epoch)? } else { f64::NAN };
        state.sample(step)?;
        let stop_here = stop_now || stop.at_step == Some(step);
        let improved = state.improved(step, val_loss);
        if improved || state.checkpoint_due(step) || stop_here {
            state.save_checkpoint(step, epoch, val_loss)?;
        }
        if stop_here {
            state.interrupt(step);
            break;
        }
    }
    Ok(state.finish())
}
