//! Building a run before its first step: data prepared, model and learner built or restored
//! from the last checkpoint, the step count, the validation batches and the monitor.

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::module::Module;
use burngpt_ops::FusedAutodiffBackend;

use super::config::RunConfig;
use super::eval::validation_batches;
use super::learner::{init_model, Learner};
use super::monitor::{group, Monitor};
use crate::checkpoint::{self, TrainState, Which};
use crate::data::{ensure_prepared, Batch, PreparedData, Sampler};
use crate::model::Gpt;
use crate::run_dir::RunDir;
use crate::seed::{self, Stream};

/// Where [`train`](super::train) begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A new model (seeded random weights, or `model.init_from`'s) and a new metrics.csv.
    Fresh,
    /// Exactly where the last checkpoint of the run directory stopped: its model, optimizer,
    /// step, best validation loss and elapsed time; metrics.csv is appended to.
    Resume,
}

/// A run ready for its first (or next, when resumed) step.
pub(super) struct Run<B: FusedAutodiffBackend> {
    /// The tokenized corpus and its tokenizer.
    pub data: PreparedData,
    /// Which windows each step reads.
    pub sampler: Sampler,
    /// The model, its optimizer and schedule.
    pub learner: Learner<B>,
    /// The fixed validation windows, on the inference backend.
    pub val_batches: Vec<Batch<B::InnerBackend>>,
    /// Log lines, progress bar, metrics.csv.
    pub monitor: Monitor,
    /// The state saved with the checkpoint resumed from; `None` for a fresh run.
    pub resumed: Option<TrainState>,
    /// Tokens in the vocabulary (the tokenizer's).
    pub vocab_size: usize,
    /// Tokens of context; a window is `block_size + 1` tokens (inputs and shifted targets).
    pub block_size: usize,
    /// Windows per optimizer step: `batch_size * grad_accum_steps`.
    pub per_step: usize,
    /// Optimizer steps of the whole run.
    pub total_steps: usize,
}

impl<B: FusedAutodiffBackend> Run<B> {
    /// Prepares the data in the run directory, saves the tokenizer and config there, and builds (or,
    /// with [`Start::Resume`], restores) the model and optimizer, printing the banner.
    pub fn build(config: &RunConfig, run: &RunDir, start: Start, device: &B::Device, backend_label: &str) -> Result<Self> {
        let t = &config.training;
        std::fs::create_dir_all(run.root()).with_context(|| format!("cannot create run directory {}", run.root().display()))?;
        println!("GPT Language Model Pretraining ({backend_label})");
        println!("{}", "=".repeat(60));
        println!("\nLoading data...");
        let data = ensure_prepared(&config.data, run.root(), &mut |m| println!("{m}"))?;
        let meta = &data.meta;
        println!("Loaded {} characters of text", group(meta.chars as usize));
        println!("Train: {} chars, Val: {} chars", group(meta.train_chars as usize), group(meta.val_chars as usize));
        println!("Tokens: {} train, {} val ({})", group(data.train.len()), group(data.val.len()), meta.dtype);
        println!("\nTokenizer: {}", data.tokenizer.describe());
        let vocab_size = data.tokenizer.vocab_size();
        println!("Vocabulary size: {vocab_size}");
        data.tokenizer.save(&run.tokenizer())?;
        config.save(run)?;

        let (model, resumed) = initial_model::<B>(config, run, start, vocab_size, device)?;
        println!("Model parameters: {}", group(model.num_params()));

        let block_size = config.model.block_size;
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
        let mut learner = Learner::new(model, &config.learner_config(total_steps));
        if let Some(resumed) = &resumed {
            learner.load_optimizer(&resumed.dir.join(crate::run_dir::OPTIM_FILE), device)?;
        }

        println!("\nStarting training...");
        println!("{}", "-".repeat(60));
        let metrics = run.metrics();
        let monitor = Monitor::new(total_steps, sampler.epochs(), per_step * block_size, &metrics, start == Start::Resume)?;
        let resumed = resumed.map(|r| r.state);
        Ok(Self { data, sampler, learner, val_batches, monitor, resumed, vocab_size, block_size, per_step, total_steps })
    }
}

/// The last checkpoint of a resumed run.
struct Resumed {
    /// Its directory (the optimizer state is read from there too).
    dir: PathBuf,
    /// The state saved with it.
    state: TrainState,
}

/// The model to start from: the last checkpoint's on resume; otherwise `model.init_from`'s weights or a seeded random initialisation.
fn initial_model<B: FusedAutodiffBackend>(
    config: &RunConfig,
    run: &RunDir,
    start: Start,
    vocab_size: usize,
    device: &B::Device,
) -> Result<(Gpt<B>, Option<Resumed>)> {
    let gpt_config = config.gpt_config(vocab_size)?;
    match start {
        Start::Resume => {
            let dir = checkpoint::checkpoint_dir(run.root(), Which::Last)?;
            let state = checkpoint::load_state(&dir)?;
            println!("\nResuming from {} (step {}, epoch {})", dir.display(), state.step, state.epoch);
            let model = crate::model::load_model::<B>(&gpt_config, &dir, device)?;
            Ok((model, Some(Resumed { dir, state })))
        }
        Start::Fresh => {
            println!("\nCreating model...");
            let model = match &config.model.init_from {
                // Every weight comes from the file: no point drawing random ones first.
                Some(dir) => {
                    println!("Initial weights: {} (Hugging Face GPT-2)", dir.display());
                    crate::hf::load_weights(gpt_config.init::<B>(device), dir)?
                }
                None => init_model::<B>(&gpt_config, seed::derive(config.training.seed, Stream::Init, 0), device),
            };
            Ok((model, None))
        }
    }
}
