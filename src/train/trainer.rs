//! The training loop: data, model, learner, monitoring, evaluation, saving.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context, Result};
use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::AutodiffBackend;
use burngpt_ops::FusedAutodiffBackend;
use rand::RngExt;

use super::eval::evaluate;
use super::learner::{init_model, Learner, LearnerConfig};
use super::monitor::{group, Monitor};
use super::optim::AdamWSettings;
use super::schedule::WarmupCosine;
use crate::checkpoint::{self, TrainState, Which};
use crate::config::Config;
use crate::data::{ensure_prepared, Batch, PreparedData, Sampler, TOKENIZER_FILE};
use crate::model::Gpt;
use crate::report::{plot_run, METRICS_FILE};
use crate::seed::{self, Stream};

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
    /// Stopped early by Ctrl-C (a checkpoint was saved).
    pub interrupted: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks a running [`train`] to save a checkpoint and return after its current step
/// (called from the Ctrl-C handler).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Trains the model described by `config` on `device` in `run_dir`, logging to stdout,
/// saving checkpoints, metrics and plots there. With `resume`, training continues exactly
/// where the last checkpoint of `run_dir` stopped. `stop_at_step` stops early, as Ctrl-C does.
pub fn train<B: FusedAutodiffBackend>(
    config: &Config,
    run_dir: &Path,
    resume: bool,
    stop_at_step: Option<usize>,
    device: &B::Device,
    backend_label: &str,
) -> Result<TrainSummary> {
    let t = &config.training;
    std::fs::create_dir_all(run_dir).with_context(|| format!("cannot create run directory {}", run_dir.display()))?;
    println!("GPT Language Model Pretraining ({backend_label})");
    println!("{}", "=".repeat(60));
    println!("\nLoading data...");
    let data = ensure_prepared(&config.data, run_dir, &mut |m| println!("{m}"))?;
    let meta = &data.meta;
    println!("Loaded {} characters of text", group(meta.chars as usize));
    println!("Train: {} chars, Val: {} chars", group(meta.train_chars as usize), group(meta.val_chars as usize));
    println!("Tokens: {} train, {} val ({})", group(data.train.len()), group(data.val.len()), meta.dtype);
    println!("\nTokenizer: {}", data.tokenizer.describe());
    println!("Vocabulary size: {}", data.tokenizer.vocab_size());
    data.tokenizer.save(&run_dir.join(TOKENIZER_FILE))?;
    checkpoint::save_config(run_dir, config)?;

    let gpt_config = config.gpt_config(data.tokenizer.vocab_size());
    let (model, state) = if resume {
        let dir = checkpoint::checkpoint_dir(run_dir, Which::Last)?;
        let state = checkpoint::load_state(&dir)?;
        println!("\nResuming from {} (step {}, epoch {})", dir.display(), state.step, state.epoch);
        (checkpoint::load_model::<B>(&gpt_config, &dir, device)?, Some((dir, state)))
    } else {
        println!("\nCreating model...");
        let model = match &config.model.init_from {
            // Every weight comes from the file: no point drawing random ones first.
            Some(dir) => {
                println!("Initial weights: {} (Hugging Face GPT-2)", dir.display());
                crate::hf::load_weights(gpt_config.init::<B>(device), dir)?
            }
            None => init_model::<B>(&gpt_config, seed::derive(t.seed, Stream::Init, 0), device),
        };
        (model, None)
    };
    println!("Model parameters: {}", group(model.num_params()));

    let block_size = gpt_config.block_size;
    let window = block_size + 1;
    let per_step = t.batch_size * t.grad_accum_steps;
    let sampler = Sampler::new(t.epochs, t.max_steps, data.train.len(), window, per_step)?;
    let total_steps = sampler.total_steps(per_step);
    if let Some(spe) = sampler.steps_per_epoch(per_step) {
        println!(
            "Steps: {total_steps} = {} epochs x {spe} steps ({} windows of {window} tokens / {per_step} per step)",
            sampler.epochs(),
            data.train.len() / window
        );
        config.check_warmup(total_steps, &format!("training.epochs = {} x {spe} steps per epoch", sampler.epochs()))?;
    }
    let val_batches = validation_batches::<B>(&data, config, window, device)?;
    let mut learner = Learner::new(model, &learner_config(config, total_steps));
    if let Some((dir, _)) = &state {
        learner.load_optimizer(&dir.join(checkpoint::OPTIM_FILE), device)?;
    }
    let eval = |model: &Gpt<B>| evaluate(&model.valid(), val_batches.iter().cloned());

    println!("\nStarting training...");
    println!("{}", "-".repeat(60));
    let metrics = run_dir.join(METRICS_FILE);
    let mut monitor = Monitor::new(total_steps, sampler.epochs(), per_step * block_size, &metrics, resume)?;
    let (first_step, mut best_val, mut best_step, elapsed_before) = match &state {
        Some((_, s)) => (s.step + 1, s.best_val_loss.unwrap_or(f64::INFINITY), s.best_step, s.elapsed_s),
        None => (1, f64::INFINITY, 0, 0.0),
    };
    let initial_val_loss = eval(&learner.model);
    if state.is_none() {
        monitor.log_val(0, 1, initial_val_loss)?;
        monitor.line(&format!("(an untrained model scores about ln(vocab_size) = {:.4})", (gpt_config.vocab_size as f64).ln()));
    }

    let mut order = None;
    let mut final_train_loss = f64::NAN;
    let mut final_val_loss = initial_val_loss;
    let mut interrupted = false;
    let mut step = first_step.saturating_sub(1);
    while step < total_steps {
        step += 1;
        let plan = sampler.plan(step, per_step, window, t.seed, &mut order);
        let micro_batches = plan
            .starts
            .chunks(t.batch_size)
            .map(|starts| Batch::read(&data.train, starts, block_size, device))
            .collect::<Result<Vec<_>>>()?;
        B::seed(device, seed::derive(t.seed, Stream::Dropout, step as u64));
        let out = learner.train_step(step, micro_batches);
        monitor.step_done();

        let last = step == total_steps;
        interrupted = STOP.load(Ordering::SeqCst) || stop_at_step == Some(step);
        if step % t.log_every == 0 || last {
            final_train_loss = out.loss();
            monitor.log_train(step, plan.epoch, final_train_loss, out.lr, out.grad_norm())?;
        }
        let mut val_loss = f64::NAN;
        if step % t.eval_every == 0 || last {
            val_loss = eval(&learner.model);
            final_val_loss = val_loss;
            monitor.log_val(step, plan.epoch, val_loss)?;
        }
        let improved = val_loss < best_val;
        if improved {
            best_val = val_loss;
            best_step = step;
        }
        if improved || step % t.checkpoint_every == 0 || last || interrupted {
            let loss = out.loss();
            if !loss.is_finite() {
                bail!("the training loss became {loss} at step {step}: training diverged; the last good checkpoint is kept; lower optimizer.lr");
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
            let model = checkpoint::model_bytes(learner.model.valid())?;
            checkpoint::save_checkpoint(run_dir, &model, &learner.optimizer_bytes()?, &state, t.keep_last)?;
            monitor.restart_window();
        }
        if interrupted {
            monitor.line(&format!(
                "Interrupted: checkpoint saved at step {step}; continue with --resume {}",
                run_dir.display()
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
    println!("{}", "-".repeat(60));
    println!(
        "Done: {step} steps ({steps_run} in this process, {wall_secs:.1}s, {} tok/s) | train loss {final_train_loss:.4} | val loss {final_val_loss:.4} | val ppl {:.2}",
        group(summary.tokens_per_sec as usize),
        final_val_loss.exp()
    );
    let schedule = learner_config(config, total_steps).schedule;
    plot_run(run_dir, Some(&|step| schedule.lr_at(step)))?;
    println!("Saved checkpoints, metrics.csv, loss.png and loss.svg in {}", run_dir.display());
    Ok(summary)
}

/// The learner settings of `config` for a run of `total_steps` optimizer steps.
pub fn learner_config(config: &Config, total_steps: usize) -> LearnerConfig {
    LearnerConfig {
        adamw: AdamWSettings {
            beta1: config.optimizer.beta1,
            beta2: config.optimizer.beta2,
            eps: config.optimizer.eps,
            weight_decay: config.optimizer.weight_decay,
            decay_all: config.optimizer.decay_all,
        },
        schedule: WarmupCosine {
            lr_max: config.optimizer.lr,
            min_lr: config.schedule.min_lr,
            warmup_steps: config.schedule.warmup_steps,
            total_steps,
        },
        grad_clip: config.optimizer.grad_clip,
    }
}

/// A fixed set of `eval_batches` random validation windows, the same at every evaluation.
fn validation_batches<B: AutodiffBackend>(
    data: &PreparedData,
    config: &Config,
    window: usize,
    device: &B::Device,
) -> Result<Vec<Batch<B::InnerBackend>>> {
    let t = &config.training;
    let tokens = data.val.len();
    if tokens < window {
        anyhow::bail!(
            "the validation split has {tokens} tokens, fewer than one window of block_size + 1 = {window}: \
             use a longer corpus, a smaller model.block_size or a larger validation share (data.train_fraction)"
        );
    }
    let mut rng = seed::rng(t.seed, Stream::Eval, 0);
    (0..t.eval_batches)
        .map(|_| {
            let starts: Vec<usize> = (0..t.batch_size).map(|_| rng.random_range(0..=tokens - window)).collect();
            Batch::read(&data.val, &starts, window - 1, device)
        })
        .collect()
}
