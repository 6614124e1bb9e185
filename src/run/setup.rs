//! Building a run before its first step: data prepared, model and learner built or restored
//! from the last checkpoint, the step count, the validation batches and the monitor.

use anyhow::{bail, Result};
use burn::module::Module;
use burngpt_ops::FusedAutodiffBackend;

use super::config::RunConfig;
use super::memory_check::{check_run_memory, keep_freed_memory_if_room, memory_line};
use super::monitor::{group, Monitor};
use super::samples::Samples;
use super::validation::validation_batches;
use crate::checkpoint::{self, Checkpoint, TrainState, Which};
use crate::data::prepare::ensure_prepared;
use crate::data::{data_dir, open_corpus, run_data_dir, Batch, PreparedData, Sampler, ShardFormat, TrainedOn};
use crate::dist::{self, Collective};
use crate::host_memory::MemoryCheck;
use crate::model::Gpt;
use crate::run_dir::{hash_bytes, hash_file, write_atomic, RunDir, OPTIM_FILE};
use crate::seed::{self, Stream};
use crate::train::{init_model, Learner};

/// Where [`train`](super::train) begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A new model (seeded random weights, or `model.init_from`'s) and a new metrics.csv, in a
    /// run directory that holds no run yet (one that does is refused).
    Fresh,
    /// As [`Start::Fresh`], after deleting the run that the directory holds (its checkpoints,
    /// metrics and plots): only when the user asked for it.
    StartOver,
    /// Exactly where a checkpoint of the run directory stopped (normally the last): its model,
    /// optimizer, step, best validation loss and elapsed time, on the run's own saved tokenizer
    /// and token files; metrics.csv keeps its rows up to that step. A run with no checkpoint yet
    /// starts from step 0.
    Resume(Which),
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
    /// Samples while training (rank 0, when `training.sample_every` is set).
    pub samples: Option<Samples>,
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
    /// with [`Start::Resume`], restores) the model and optimizer, printing the banner. The caller
    /// holds the run directory's lock. On several processes, rank 0 alone changes files (the others
    /// wait for it) and every rank builds the same model. The run's memory estimate is checked
    /// against `memory` before the data is prepared (with the vocabulary the config gives, if any)
    /// and again before the model is built (with the tokenizer's).
    pub fn build(
        config: &RunConfig,
        run: &RunDir,
        start: Start,
        device: &B::Device,
        (backend_label, memory): (&str, &MemoryCheck),
        comm: &dyn Collective,
    ) -> Result<Self> {
        let t = &config.training;
        let leader = comm.is_leader();
        let ranks = (comm.size(), dist::local_size());
        check_run_memory(config, None, ranks, memory)?;
        // Every rank finds the checkpoint to resume from before rank 0 changes anything.
        let resume_from = match start {
            Start::Resume(which) => find_resume(run, which)?,
            Start::Fresh | Start::StartOver => None,
        };
        comm.barrier();
        if leader {
            match start {
                Start::Fresh => refuse_existing(run)?,
                Start::StartOver => {
                    crate::outln!("Starting {} over: deleting its checkpoints, metrics and plots", run.root().display());
                    run.clear_run()?;
                }
                Start::Resume(which) => prepare_resume(run, which, resume_from.as_ref())?,
            }
        }
        crate::outln!("GPT Language Model Pretraining ({backend_label})");
        crate::outln!("{}", "=".repeat(60));
        crate::outln!("\nLoading data...");
        let data = match &resume_from {
            Some(_) => open_run_data(config, run)?,
            None => {
                let prepared = if leader { Some(fresh_data(config, run, memory)?) } else { None };
                comm.barrier();
                match prepared {
                    Some(data) => data,
                    None => open_corpus(&data_dir(&config.data, run.root()), config.data.tokenizer_file.as_deref())?,
                }
            }
        };
        let meta = &data.meta;
        match data.format {
            ShardFormat::Burngpt => {
                crate::outln!("Loaded {} characters of text", group(meta.chars as usize));
                crate::outln!("Train: {} chars, Val: {} chars", group(meta.train_chars as usize), group(meta.val_chars as usize));
            }
            ShardFormat::Llmc => crate::outln!(
                "Loaded llm.c token shards from {}: {} train, {} val",
                meta.source.display(),
                meta.train_shards.len(),
                meta.val_shards.len()
            ),
        }
        crate::outln!("Tokens: {} train, {} val ({})", group(data.train.len()), group(data.val.len()), meta.dtype);
        crate::outln!("\nTokenizer: {}", data.tokenizer.describe());
        let vocab_size = data.tokenizer.vocab_size();
        crate::outln!("Vocabulary size: {vocab_size}");
        let estimate = check_run_memory(config, Some(vocab_size), ranks, memory)?;
        crate::outln!("{}", memory_line(&estimate, memory));
        keep_freed_memory_if_room(&estimate, memory, ranks.1);
        if leader {
            config.save(run)?;
        }

        crate::model::check_precision::<B>(config.training.precision, device)?;
        let model = initial_model::<B>(config, resume_from.as_ref(), vocab_size, device)?
            .with_precision(config.training.precision);
        crate::outln!("Model parameters: {}", group(model.num_params()));

        let block_size = config.model.block_size;
        let window = block_size + 1;
        let per_step = t.batch_size * t.grad_accum_steps;
        let sampler = Sampler::new(t.epochs, t.max_steps, data.train.len(), window, per_step)?;
        let total_steps = sampler.total_steps(per_step);
        if let Some(spe) = sampler.steps_per_epoch(per_step) {
            crate::outln!(
                "Steps: {total_steps} = {} epochs x {spe} steps ({} windows of {window} tokens / {per_step} per step)",
                sampler.epochs(),
                data.train.len() / window
            );
            config.check_warmup(total_steps, &format!("training.epochs = {} x {spe} steps per epoch", sampler.epochs()))?;
        }
        let val_batches = validation_batches::<B>(&data, t, window, device)?;
        let mut learner = Learner::new(model, &config.learner_config(total_steps));
        if let Some(resumed) = &resume_from {
            learner.load_optimizer(&resumed.dir.join(OPTIM_FILE), device)?;
        }

        crate::outln!("\nStarting training...");
        crate::outln!("{}", "-".repeat(60));
        let metrics = run.metrics();
        let resumed = resume_from.map(|r| r.state);
        let kept_rows = resumed.as_ref().map(|r| r.step);
        let metrics = leader.then_some(metrics.as_path());
        let monitor = Monitor::new(total_steps, sampler.epochs(), per_step * block_size, metrics, kept_rows)?;
        let samples_path = run.samples();
        let samples = Samples::open(t, &data.tokenizer, leader.then_some(samples_path.as_path()), kept_rows)?;
        Ok(Self { data, sampler, learner, val_batches, monitor, samples, resumed, vocab_size, block_size, per_step, total_steps })
    }
}

/// A new run may not land on an earlier one: its checkpoints would be pruned and its metrics
/// truncated.
fn refuse_existing(run: &RunDir) -> Result<()> {
    if !run.holds_run() {
        return Ok(());
    }
    let last = checkpoint::read_latest(run).map(|l| format!(" (last checkpoint: step {})", l.last)).unwrap_or_default();
    bail!(
        "{} already holds a run{last}: continue it with `--resume {}`, or delete it and start over with \
         `--start-over` (or choose another training.run_name)",
        run.root().display(),
        run.root().display()
    )
}

/// The checkpoint to resume from, checked; `None` when the run has none yet (it then starts from
/// step 0). Reads only.
fn find_resume(run: &RunDir, which: Which) -> Result<Option<Checkpoint>> {
    if which == Which::Last && !run.latest().exists() && run.checkpoint_steps_on_disk().is_empty() {
        return Ok(None);
    }
    checkpoint::open_checkpoint(run, which).map(Some)
}

/// What a resume changes in the run directory (rank 0): with no checkpoint yet, the old run's
/// metrics go; from an older checkpoint than the last, the later ones are set aside.
fn prepare_resume(run: &RunDir, which: Which, from: Option<&Checkpoint>) -> Result<()> {
    match from {
        None => {
            crate::outln!("No checkpoint in {} yet: starting the run from step 0", run.root().display());
            run.clear_run()
        }
        Some(from) if which != Which::Last => {
            if let Some(aside) = checkpoint::set_aside_after(run, from.state.step)? {
                crate::outln!("The checkpoints after step {} were moved to {}", from.state.step, aside.display());
            }
            Ok(())
        }
        Some(_) => Ok(()),
    }
}

/// A new run's data (rank 0): prepared in the run directory unless `data.path` is a prepared
/// directory (burngpt's, or llm.c shards), whose tokenizer the run then copies byte for byte (a
/// resume compares the two); which data it is goes into `trained_on.json`, which every later
/// reader of the run checks.
fn fresh_data(config: &RunConfig, run: &RunDir, memory: &MemoryCheck) -> Result<PreparedData> {
    let data = ensure_prepared(&config.data, run.root(), memory, &mut |m| crate::outln!("{m}"))?;
    let dir = data_dir(&config.data, run.root());
    if dir != run.root() {
        write_atomic(&run.tokenizer(), &data.tokenizer_json)?;
    }
    TrainedOn::record(run.root(), &dir, &data)?;
    Ok(data)
}

/// A resumed run's data: its own saved tokenizer and token files (checked against their
/// checksums and against what the run recorded when it started, [`crate::data::TrainedOn`]),
/// never prepared again. When the data is a prepared directory, its tokenizer must still be the
/// one the run saved.
fn open_run_data(config: &RunConfig, run: &RunDir) -> Result<PreparedData> {
    let data = crate::data::open_run_data(&config.data, run.root())
        .map_err(|err| err.context(format!("cannot resume {}", run.root().display())))?;
    let dir = run_data_dir(&config.data, run.root())?;
    if dir != run.root() && hash_bytes(&data.tokenizer_json) != hash_file(&run.tokenizer())? {
        bail!(
            "cannot resume {}: {} was prepared again with another tokenizer than the run's {}",
            run.root().display(),
            dir.display(),
            run.tokenizer().display()
        );
    }
    crate::outln!("Using the run's prepared data in {}", dir.display());
    Ok(data)
}

/// The model to start from: the checkpoint's when resuming; otherwise `model.init_from`'s
/// weights or a seeded random initialisation.
fn initial_model<B: FusedAutodiffBackend>(
    config: &RunConfig,
    resume_from: Option<&Checkpoint>,
    vocab_size: usize,
    device: &B::Device,
) -> Result<Gpt<B>> {
    let gpt_config = config.gpt_config(vocab_size)?;
    if let Some(from) = resume_from {
        crate::outln!("\nResuming from {} (step {}, epoch {})", from.dir.display(), from.state.step, from.state.epoch);
        return crate::model::load_model::<B>(&gpt_config, &from.dir, device);
    }
    crate::outln!("\nCreating model...");
    Ok(match &config.model.init_from {
        // Every weight comes from the file: no point drawing random ones first.
        Some(dir) => {
            crate::outln!("Initial weights: {} (Hugging Face)", dir.display());
            crate::hf::load_weights(gpt_config.init::<B>(device), dir)?
        }
        None => init_model::<B>(&gpt_config, seed::derive(config.training.seed, Stream::Init, 0), device),
    })
}
