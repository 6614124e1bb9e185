//! The training loop: data, model, learner, logging, evaluation, saving.

use std::time::Instant;

use anyhow::{bail, Result};
use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::AutodiffBackend;

use super::eval::evaluate;
use super::learner::{init_model, Learner, LearnerConfig};
use super::optim::AdamWSettings;
use super::schedule::WarmupCosine;
use crate::checkpoint;
use crate::config::Config;
use crate::data::{sample_batch, Batch, Corpus};
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
}

/// Trains the model described by `config` on `device`, printing the log to stdout, and
/// saves the result in the run directory.
pub fn train<B: AutodiffBackend>(
    config: &Config,
    device: &B::Device,
    backend_label: &str,
) -> Result<TrainSummary> {
    let t = &config.training;
    println!("burngpt: GPT pretraining on Burn ({backend_label})");
    println!("{}", "=".repeat(60));
    println!("Loading data from {} ...", config.data.path.display());
    let corpus = Corpus::load(&config.data.path, config.data.train_fraction)?;
    println!("Loaded {} characters of text", group(corpus.chars));
    println!("Train: {} chars, Val: {} chars", group(corpus.train_chars), group(corpus.val_chars));
    println!("Vocabulary size: {} (char tokenizer)", corpus.tokenizer.vocab_size());

    let gpt_config = config.gpt_config(corpus.tokenizer.vocab_size())?;
    let model = init_model::<B>(&gpt_config, seed::derive(t.seed, Stream::Init, 0), device);
    println!("Model parameters: {}", group(model.num_params()));

    let block_size = gpt_config.block_size;
    let mut eval_rng = seed::rng(t.seed, Stream::Eval, 0);
    let val_batches = (0..t.eval_batches)
        .map(|_| sample_batch(&corpus.val, t.batch_size, block_size, &mut eval_rng, device))
        .collect::<Result<Vec<Batch<B::InnerBackend>>>>()
        .map_err(|e| e.context("validation split too small"))?;
    let eval = |model: &crate::model::Gpt<B>| evaluate(&model.valid(), val_batches.iter().cloned());

    let learner_config = LearnerConfig {
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
            total_steps: t.max_steps,
        },
        grad_clip: config.optimizer.grad_clip,
    };
    let mut learner = Learner::new(model, &learner_config);

    println!("Starting training ({} steps, batch {} x {block_size} tokens)", t.max_steps, t.batch_size);
    println!("{}", "-".repeat(60));
    let initial_val_loss = eval(&learner.model);
    println!("Step 0/{} | Val loss: {initial_val_loss:.4} | ln(vocab) = {:.4}", t.max_steps, (gpt_config.vocab_size as f64).ln());

    let tokens_per_step = (t.batch_size * block_size) as f64;
    let start = Instant::now();
    let mut window_start = Instant::now();
    let mut final_train_loss = f64::NAN;
    let mut final_val_loss = initial_val_loss;
    for step in 1..=t.max_steps {
        let mut rng = seed::rng(t.seed, Stream::Batches, step as u64);
        let batch = sample_batch::<B>(&corpus.train, t.batch_size, block_size, &mut rng, device)?;
        B::seed(device, seed::derive(t.seed, Stream::Dropout, step as u64));
        let out = learner.train_step(step, batch);

        let last = step == t.max_steps;
        if step % t.log_every == 0 || last {
            let loss = out.loss();
            if !loss.is_finite() {
                bail!("loss became {loss} at step {step}: training diverged (try a lower optimizer.lr)");
            }
            let steps_in_window = if last && step % t.log_every != 0 { step % t.log_every } else { t.log_every };
            let tok_s = tokens_per_step * steps_in_window as f64 / window_start.elapsed().as_secs_f64();
            println!(
                "Step {step}/{} | Loss: {loss:.4} | LR: {:.2e} | Grad norm: {:.3} | {} tok/s | {:.1}s",
                t.max_steps,
                out.lr,
                out.grad_norm(),
                group(tok_s as usize),
                start.elapsed().as_secs_f64()
            );
            final_train_loss = loss;
            window_start = Instant::now();
        }
        if step % t.eval_every == 0 || last {
            final_val_loss = eval(&learner.model);
            println!("Step {step}/{} | Val loss: {final_val_loss:.4} | Val ppl: {:.2}", t.max_steps, final_val_loss.exp());
            window_start = Instant::now();
        }
    }
    let wall_secs = start.elapsed().as_secs_f64();
    let summary = TrainSummary {
        steps: t.max_steps,
        initial_val_loss,
        final_train_loss,
        final_val_loss,
        wall_secs,
        tokens_per_sec: tokens_per_step * t.max_steps as f64 / wall_secs,
    };
    println!("{}", "-".repeat(60));
    println!(
        "Done: {} steps in {wall_secs:.1}s ({} tok/s) | train loss {final_train_loss:.4} | val loss {final_val_loss:.4}",
        summary.steps,
        group(summary.tokens_per_sec as usize)
    );

    let run_dir = config.run_dir();
    checkpoint::save_run(&run_dir, config, &corpus.tokenizer, learner.model.valid())?;
    println!("Saved model to {}", run_dir.display());
    Ok(summary)
}

/// `1234567` -> `"1,234,567"`.
pub fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
