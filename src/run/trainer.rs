//! The training loop: steps, logging, evaluation, checkpointing, stopping.

use anyhow::{bail, Result};
use burn::module::AutodiffModule;
use burngpt_ops::FusedAutodiffBackend;

use super::config::RunConfig;
use super::monitor::group;
use super::sanity::ensure_sane;
use super::setup::{Run, Start};
use super::stop::StopHandle;
use crate::checkpoint::{self, TrainState};
use crate::data::Batch;
use crate::dist::Collective;
use crate::host_memory::MemoryCheck;
use crate::model::Gpt;
use crate::report::plot_run;
use crate::run_dir::{LockPurpose, RunDir};
use crate::seed::{self, Stream};
use crate::train::check_agreement;
use crate::train::evaluate_across;

/// What a finished run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    /// Optimizer steps taken.
    pub steps: usize,
    /// Validation loss before the first step.
    pub initial_val_loss: f64,
    /// Loss of the last training batch.
    pub final_train_loss: f64,
    /// Validation loss after the last step.
    pub final_val_loss: f64,
    /// Wall time of the training loop, seconds.
    pub wall_secs: f64,
    /// Training tokens per second over the whole loop (evaluations included).
    pub tokens_per_sec: f64,
    /// Stopped before the last step, by a [`StopHandle`] request (Ctrl-C) or `stop_at_step`;
    /// a checkpoint was saved.
    pub interrupted: bool,
}

/// When the loop stops before its last step.
struct StopWhen<'a> {
    /// Set from another thread (Ctrl-C).
    handle: &'a StopHandle,
    /// After this step (`--stop-at-step`).
    at_step: Option<usize>,
}

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
    let summary = run_steps(built, config, run, &StopWhen { handle: stop, at_step: stop_at_step }, device, comm)?;
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
/// closing line; checkpoints go to `run`.
fn run_steps<B: FusedAutodiffBackend>(
    built: Run<B>,
    config: &RunConfig,
    run: &RunDir,
    stop: &StopWhen,
    device: &B::Device,
    comm: &dyn Collective,
) -> Result<TrainSummary> {
    let t = &config.training;
    let Run { data, sampler, mut learner, val_batches, mut monitor, mut samples, resumed, vocab_size, block_size, per_step, total_steps } =
        built;
    let window = block_size + 1;
    let token_bytes = crate::data::token_bytes(&data.tokenizer);
    let eval = |model: &Gpt<B>| evaluate_across(&model.valid(), &val_batches, &token_bytes, comm);
    let (first_step, mut best_val, mut best_step, elapsed_before) = match &resumed {
        Some(s) => (s.step + 1, s.best_val_loss.unwrap_or(f64::INFINITY), s.best_step, s.elapsed_s),
        None => (1, f64::INFINITY, 0, 0.0),
    };
    if let Some(at) = stop.at_step.filter(|&at| at < first_step) {
        bail!("--stop-at-step {at}: the run is already at step {}", first_step - 1);
    }
    let initial = eval(&learner.model)?;
    let initial_val_loss = initial.loss;
    if resumed.is_none() {
        monitor.log_val(0, 1, initial)?;
        monitor.line(&format!("(an untrained model scores about ln(vocab_size) = {:.4})", (vocab_size as f64).ln()));
    }

    let mut order = None;
    let mut final_train_loss = f64::NAN;
    let mut final_val_loss = initial_val_loss;
    let mut interrupted = false;
    let mut last_saved = resumed.as_ref().map(|s| s.step);
    if let Some(step) = last_saved {
        stop.handle.saved(step);
    }
    let mut reduce_secs = 0.0;
    // The best validation loss measured, the one before the first step included (sanity.rs).
    let mut best_measured = best_val.min(initial_val_loss);
    let sane = |which: &str, loss: f64, step: usize, last_saved: Option<usize>, best: f64| {
        ensure_sane(which, loss, step, last_saved, vocab_size, best)
    };
    let mut step = first_step.saturating_sub(1);
    while step < total_steps {
        step += 1;
        let plan = sampler.plan(step, per_step, window, t.seed, &mut order);
        // This rank's share of each micro-batch: windows [rank * b / N, (rank + 1) * b / N).
        let share = t.batch_size / comm.size();
        let micro_batches = plan
            .starts
            .chunks(t.batch_size)
            .map(|starts| Batch::read(&data.train, &starts[comm.rank() * share..][..share], block_size, device))
            .collect::<Result<Vec<_>>>()?;
        // Dropout masks: the step's seed, made distinct per rank (rank 0's is the single-process one)
        // so that the ranks' shares do not all get the same mask.
        let rank_mix = (comm.rank() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        B::seed(device, seed::derive(t.seed, Stream::Dropout, step as u64) ^ rank_mix);
        // A closed stdout (the reader of `burngpt ... | head` went away) stops the run as Ctrl-C
        // does, with its checkpoint, then the exit code of a closed pipe (crate::console).
        if crate::console::closed() {
            stop.handle.request_by(13);
        }
        let mut stop_now = stop.handle.is_requested();
        let out = learner.train_step_across(step, micro_batches, comm, &mut stop_now);
        reduce_secs += out.reduce_secs;
        monitor.step_done();

        let last = step == total_steps;
        interrupted = stop_now || stop.at_step == Some(step);
        let logged = step % t.log_every == 0 || last;
        // Read back on every step where that costs no device synchronisation, else when logged.
        if logged || B::HOST_MEMORY {
            let loss = out.loss();
            sane("training", loss, step, last_saved, best_measured)?;
            if logged {
                final_train_loss = loss;
                monitor.log_train(step, plan.epoch, loss, out.lr, out.grad_norm())?;
            }
        }
        let mut val_loss = f64::NAN;
        if step % t.eval_every == 0 || last {
            let scores = eval(&learner.model)?;
            val_loss = scores.loss;
            sane("validation", val_loss, step, last_saved, best_measured)?;
            best_measured = best_measured.min(val_loss);
            final_val_loss = val_loss;
            monitor.log_val(step, plan.epoch, scores)?;
        }
        if let Some(samples) = samples.as_mut().filter(|s| s.due(step, last)) {
            monitor.line(&samples.draw(&learner.model.valid(), &data.tokenizer, step)?);
        }
        let improved = val_loss < best_val;
        if improved {
            best_val = val_loss;
            best_step = step;
        }
        if improved || step % t.checkpoint_every == 0 || last || interrupted {
            // The step's training loss was measured before its update: the saved parameters
            // themselves must score a sane loss (checked here unless just evaluated).
            if val_loss.is_nan() {
                sane("validation", eval(&learner.model)?.loss, step, last_saved, best_measured)?;
            }
            let state = TrainState {
                format_version: checkpoint::FORMAT_VERSION,
                step,
                epoch: plan.epoch,
                position_in_epoch: sampler.steps_per_epoch(per_step).map_or(0, |spe| (step % spe) * per_step),
                seed: t.seed,
                val_loss: val_loss.is_finite().then_some(val_loss),
                best_val_loss: best_val.is_finite().then_some(best_val),
                best_step,
                elapsed_s: elapsed_before + monitor.elapsed(),
            };
            check_agreement(&learner.model, comm, &format!("at step {step}"))?;
            if comm.is_leader() {
                let model = crate::model::model_bytes(learner.model.valid())?;
                checkpoint::save_checkpoint(run, &model, &learner.optimizer_bytes()?, &state, t.keep_last)?;
            }
            comm.barrier();
            last_saved = Some(step);
            stop.handle.saved(step);
            monitor.restart_window();
        }
        if interrupted {
            monitor.line(&format!(
                "Interrupted: checkpoint saved at step {step}; continue with --resume {}",
                run.root().display()
            ));
            break;
        }
    }
    monitor.finish();
    let wall_secs = monitor.elapsed();
    // The loop leaves `step` at the last step run (or first_step - 1 if none ran).
    let steps_run = step + 1 - first_step;
    let summary = TrainSummary {
        steps: step,
        initial_val_loss,
        final_train_loss,
        final_val_loss,
        wall_secs,
        tokens_per_sec: (per_step * block_size * steps_run) as f64 / wall_secs,
        interrupted,
    };
    crate::outln!("{}", "-".repeat(60));
    crate::outln!(
        "Done: {step} steps ({steps_run} in this process, {wall_secs:.1}s, {} tok/s) | train loss {final_train_loss:.4} | val loss {final_val_loss:.4} | val ppl {:.2}",
        group(summary.tokens_per_sec as usize),
        final_val_loss.exp()
    );
    if comm.size() > 1 && steps_run > 0 {
        crate::outln!(
            "Gradient all-reduce across {} processes: {:.2} ms per step ({:.1}% of the time)",
            comm.size(),
            1e3 * reduce_secs / steps_run as f64,
            100.0 * reduce_secs / wall_secs
        );
    }
    Ok(summary)
}
