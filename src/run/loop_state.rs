//! The training loop's pieces ([`super::trainer`] calls them in order, once per step): reading a
//! step's batches, the step, logging, evaluating, sampling, the best validation loss, saving a
//! checkpoint; and the closing summary. [`LoopState`] is where the loop stands between two steps.

use std::ops::RangeInclusive;

use anyhow::{bail, Result};
use burn::module::AutodiffModule;
use burngpt_ops::FusedAutodiffBackend;

use super::sanity::ensure_sane;
use super::setup::Run;
use super::stop::StopWhen;
use super::summary::TrainSummary;
use super::training::TrainingConfig;
use crate::checkpoint::{self, TrainState};
use crate::data::Batch;
use crate::dist::Collective;
use crate::run_dir::RunDir;
use crate::seed::{self, Stream};
use crate::train::{check_agreement, evaluate_across, Scores, StepOutput};

/// The built run and where its loop stands: what it measured and saved so far.
pub(super) struct LoopState<'a, B: FusedAutodiffBackend> {
    run: Run<B>,
    t: &'a TrainingConfig,
    dir: &'a RunDir,
    stop: &'a StopWhen<'a>,
    device: &'a B::Device,
    comm: &'a dyn Collective,
    /// Each token id's bytes, for bits per byte.
    token_bytes: Vec<u32>,
    /// The sampler's window order of the current epoch.
    order: Option<(usize, Vec<usize>)>,
    /// The first step this process runs (1, or the one after the checkpoint resumed from).
    first_step: usize,
    /// The last step run (`first_step - 1` before any).
    last_step: usize,
    /// Training seconds before this process (a resumed run's).
    elapsed_before: f64,
    initial_val_loss: f64,
    final_train_loss: f64,
    final_val_loss: f64,
    /// The best validation loss measured at an evaluation step, and its step (saved with each
    /// checkpoint; a new best is saved).
    best_val: f64,
    best_step: usize,
    /// The best validation loss measured, the one before the first step included (sanity.rs).
    best_measured: f64,
    last_saved: Option<usize>,
    /// Seconds spent exchanging gradients.
    reduce_secs: f64,
    interrupted: bool,
}

impl<'a, B: FusedAutodiffBackend> LoopState<'a, B> {
    /// Before the first step: where a resumed run stood, and the validation loss of the model as
    /// built (logged for a new run). `--stop-at-step` before the first step is an error.
    pub fn start(
        run: Run<B>,
        t: &'a TrainingConfig,
        dir: &'a RunDir,
        stop: &'a StopWhen<'a>,
        device: &'a B::Device,
        comm: &'a dyn Collective,
    ) -> Result<Self> {
        let token_bytes = crate::data::token_bytes(&run.data.tokenizer);
        let (first_step, best_val, best_step, elapsed_before) = match &run.resumed {
            Some(s) => (s.step + 1, s.best_val_loss.unwrap_or(f64::INFINITY), s.best_step, s.elapsed_s),
            None => (1, f64::INFINITY, 0, 0.0),
        };
        if let Some(at) = stop.at_step.filter(|&at| at < first_step) {
            bail!("--stop-at-step {at}: the run is already at step {}", first_step - 1);
        }
        let last_saved = run.resumed.as_ref().map(|s| s.step);
        let mut state = Self {
            run,
            t,
            dir,
            stop,
            device,
            comm,
            token_bytes,
            order: None,
            first_step,
            last_step: first_step - 1,
            elapsed_before,
            initial_val_loss: f64::NAN,
            final_train_loss: f64::NAN,
            final_val_loss: f64::NAN,
            best_val,
            best_step,
            best_measured: best_val,
            last_saved,
            reduce_secs: 0.0,
            interrupted: false,
        };
        let initial = state.scores()?;
        state.initial_val_loss = initial.loss;
        state.final_val_loss = initial.loss;
        state.best_measured = best_val.min(initial.loss);
        if state.run.resumed.is_none() {
            state.run.monitor.log_val(0, 1, initial)?;
            let ln_vocab = (state.run.vocab_size as f64).ln();
            state.run.monitor.line(&format!("(an untrained model scores about ln(vocab_size) = {ln_vocab:.4})"));
        }
        if let Some(step) = last_saved {
            stop.handle.saved(step);
        }
        Ok(state)
    }

    /// The steps this process runs.
    pub fn steps(&self) -> RangeInclusive<usize> {
        self.first_step..=self.run.total_steps
    }

    fn is_last(&self, step: usize) -> bool {
        step == self.run.total_steps
    }

    /// This rank's share of each micro-batch of `step` (windows `[rank * b / N, (rank + 1) * b / N)`
    /// of each `b = batch_size`), and the step's epoch. Seeds the step's dropout masks.
    pub fn read_step(&mut self, step: usize) -> Result<(usize, Vec<Batch<B>>)> {
        let (t, run, rank) = (self.t, &self.run, self.comm.rank());
        let plan = run.sampler.plan(step, run.per_step, run.block_size + 1, t.seed, &mut self.order);
        let share = t.batch_size / self.comm.size();
        let micro_batches = plan
            .starts
            .chunks(t.batch_size)
            .map(|starts| Batch::read(&run.data.train, &starts[rank * share..][..share], run.block_size, self.device))
            .collect::<Result<Vec<_>>>()?;
        // Dropout masks: the step's seed, made distinct per rank (rank 0's is the single-process one)
        // so that the ranks' shares do not all get the same mask.
        let rank_mix = (rank as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        B::seed(self.device, seed::derive(t.seed, Stream::Dropout, step as u64) ^ rank_mix);
        Ok((plan.epoch, micro_batches))
    }

    /// Whether a stop was requested. A closed stdout (the reader of `burngpt ... | head` went
    /// away) requests one as Ctrl-C does, with its checkpoint, then the exit code of a closed pipe
    /// (crate::console).
    pub fn stop_requested(&self) -> bool {
        if crate::console::closed() {
            self.stop.handle.request_by(13);
        }
        self.stop.handle.is_requested()
    }

    /// The learner's step on `micro_batches` ([`crate::train::Learner::train_step_across`]).
    pub fn train_step(&mut self, step: usize, micro_batches: Vec<Batch<B>>, stop: &mut bool) -> StepOutput<B::InnerBackend> {
        let out = self.run.learner.train_step_across(step, micro_batches, self.comm, stop);
        self.reduce_secs += out.reduce_secs;
        self.run.monitor.step_done();
        self.last_step = step;
        out
    }

    /// Logs the step's training loss every `log_every` steps and at the last, after checking it is
    /// sane; it is read back (and checked) on every step where that costs no device
    /// synchronisation.
    pub fn log_step(&mut self, step: usize, epoch: usize, out: &StepOutput<B::InnerBackend>) -> Result<()> {
        let logged = step.is_multiple_of(self.t.log_every) || self.is_last(step);
        if logged || B::HOST_MEMORY {
            let loss = out.loss();
            self.sane("training", loss, step)?;
            if logged {
                self.final_train_loss = loss;
                self.run.monitor.log_train(step, epoch, loss, out.lr, out.grad_norm())?;
            }
        }
        Ok(())
    }

    /// Whether `step` is evaluated: every `eval_every` steps and the last.
    pub fn eval_due(&self, step: usize) -> bool {
        step.is_multiple_of(self.t.eval_every) || self.is_last(step)
    }

    /// The validation loss of the model now, checked to be sane and logged.
    pub fn evaluate(&mut self, step: usize, epoch: usize) -> Result<f64> {
        let scores = self.scores()?;
        self.sane("validation", scores.loss, step)?;
        self.best_measured = self.best_measured.min(scores.loss);
        self.final_val_loss = scores.loss;
        self.run.monitor.log_val(step, epoch, scores)?;
        Ok(scores.loss)
    }

    /// Draws and prints the sample of `step`, when samples are drawn and `step` is due.
    pub fn sample(&mut self, step: usize) -> Result<()> {
        let last = self.is_last(step);
        let run = &mut self.run;
        if let Some(samples) = run.samples.as_mut().filter(|s| s.due(step, last)) {
            run.monitor.line(&samples.draw(&run.learner.model.valid(), &run.data.tokenizer, step)?);
        }
        Ok(())
    }

    /// Whether `val_loss` (NaN: `step` was not evaluated) is the best so far; it is then recorded.
    pub fn improved(&mut self, step: usize, val_loss: f64) -> bool {
        let improved = val_loss < self.best_val;
        if improved {
            self.best_val = val_loss;
            self.best_step = step;
        }
        improved
    }

    /// Whether `step` is saved on schedule: every `checkpoint_every` steps and the last.
    pub fn checkpoint_due(&self, step: usize) -> bool {
        step.is_multiple_of(self.t.checkpoint_every) || self.is_last(step)
    }

    /// Saves the checkpoint of `step` (rank 0 writes, once every rank's model agrees). The step's
    /// training loss was measured before its update: the saved parameters themselves must score
    /// a sane loss, checked here unless just evaluated (`val_loss` NaN: not evaluated).
    pub fn save_checkpoint(&mut self, step: usize, epoch: usize, val_loss: f64) -> Result<()> {
        if val_loss.is_nan() {
            let loss = self.scores()?.loss;
            self.sane("validation", loss, step)?;
        }
        let run = &self.run;
        let state = TrainState {
            format_version: checkpoint::FORMAT_VERSION,
            step,
            epoch,
            position_in_epoch: run.sampler.steps_per_epoch(run.per_step).map_or(0, |spe| (step % spe) * run.per_step),
            seed: self.t.seed,
            val_loss: val_loss.is_finite().then_some(val_loss),
            best_val_loss: self.best_val.is_finite().then_some(self.best_val),
            best_step: self.best_step,
            elapsed_s: self.elapsed_before + run.monitor.elapsed(),
        };
        check_agreement(&run.learner.model, self.comm, &format!("at step {step}"))?;
        if self.comm.is_leader() {
            let model = crate::model::model_bytes(run.learner.model.valid())?;
            checkpoint::save_checkpoint(self.dir, &model, &run.learner.optimizer_bytes()?, &state, self.t.keep_last)?;
        }
        self.comm.barrier();
        self.last_saved = Some(step);
        self.stop.handle.saved(step);
        self.run.monitor.restart_window();
        Ok(())
    }

    /// Says that the run stopped at `step` with its checkpoint.
    pub fn interrupt(&mut self, step: usize) {
        self.interrupted = true;
        self.run.monitor.line(&format!(
            "Interrupted: checkpoint saved at step {step}; continue with --resume {}",
            self.dir.root().display()
        ));
    }

    /// Removes the progress bar, prints the closing lines and returns what the run measured.
    pub fn finish(self) -> TrainSummary {
        self.run.monitor.finish();
        let wall_secs = self.run.monitor.elapsed();
        let steps_run = self.last_step + 1 - self.first_step;
        let summary = TrainSummary {
            steps: self.last_step,
            initial_val_loss: self.initial_val_loss,
            final_train_loss: self.final_train_loss,
            final_val_loss: self.final_val_loss,
            wall_secs,
            tokens_per_sec: (self.run.per_step * self.run.block_size * steps_run) as f64 / wall_secs,
            interrupted: self.interrupted,
        };
        summary.print(steps_run, self.comm.size(), self.reduce_secs);
        summary
    }

    /// Stops the run when `loss` is not sane (sanity.rs).
    fn sane(&self, which: &str, loss: f64, step: usize) -> Result<()> {
        ensure_sane(which, loss, step, self.last_saved, self.run.vocab_size, self.best_measured)
    }

    /// The model's scores on the validation batches, on the inference backend.
    fn scores(&self) -> Result<Scores> {
        evaluate_across(&self.run.learner.model.valid(), &self.run.val_batches, &self.token_bytes, self.comm)
    }
}
