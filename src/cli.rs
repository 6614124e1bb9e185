//! Command-line interface: `burngpt --config FILE` trains; subcommands do the rest.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Pretrain GPT language models on Burn.
#[derive(Debug, Parser)]
#[command(name = "burngpt", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; training when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Training options (when no subcommand is given).
    #[command(flatten)]
    pub train: TrainArgs,
    /// Device for train / generate / eval: `default`, `cpu`; with wgpu `discrete:N`,
    /// `integrated:N`, `virtual:N`; with cuda a device index.
    #[arg(long, global = true, value_name = "DEVICE")]
    pub device: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from a TOML config (the default).
    Train(TrainArgs),
    /// Tokenize a corpus once into train.bin / val.bin plus its tokenizer.
    Prepare(PrepareArgs),
    /// Redraw loss.png and loss.svg from a run's metrics.csv, or compare runs' validation curves.
    Plot(PlotArgs),
    /// Sample text from a trained run's saved model.
    Generate(GenerateArgs),
    /// Validation loss and perplexity of a saved model (a run or a Hugging Face directory), or its HellaSwag accuracy.
    Eval(EvalArgs),
    /// Time training steps and generation of a config's model shape on random tokens.
    Bench(BenchArgs),
    /// Write a run's model as a Hugging Face Llama or GPT-2 directory (model.safetensors, config.json).
    Export(ExportArgs),
}

/// Options of `export`.
#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// The run directory, e.g. artifacts/small.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Which checkpoint: `best`, `last` or a step number.
    #[arg(long, default_value = "best")]
    pub checkpoint: String,
    /// The Hugging Face directory to write.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Options of `bench`.
#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    /// The config whose model, batch size and optimizer are measured.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Override a config value, e.g. `--set training.batch_size=8` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Vocabulary size of the benchmarked model (default: `data.vocab_size` for BPE, 65 for char).
    #[arg(long, value_name = "N")]
    pub vocab: Option<usize>,
    /// Timed training steps.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Untimed training steps before timing.
    #[arg(long, default_value_t = 3)]
    pub warmup_steps: usize,
    /// Tokens generated per timed generation (batch 1).
    #[arg(long, default_value_t = 256)]
    pub new_tokens: usize,
    /// Timed generations per method (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub gen_repeats: usize,
    /// Float32 peak of the machine in GFLOP/s (default: two AVX2/FMA cores, ~190).
    #[arg(long, default_value_t = 190.0)]
    pub peak_gflops: f64,
    /// Go on even when the run's memory estimate exceeds the memory available (the estimate is
    /// still printed; README, "Memory").
    #[arg(long)]
    pub no_memory_check: bool,
}

/// Options of `generate`.
#[derive(Debug, Args, Clone)]
pub struct GenerateArgs {
    /// The run directory, e.g. artifacts/small.
    #[arg(long, value_name = "DIR", required_unless_present = "hf", conflicts_with = "hf")]
    pub run: Option<PathBuf>,
    /// A Hugging Face GPT-2 or Llama directory (model.safetensors, config.json, tokenizer) instead of a run.
    #[arg(long, value_name = "DIR")]
    pub hf: Option<PathBuf>,
    /// Which checkpoint: best, last, or a step number.
    #[arg(long, default_value = "best")]
    pub checkpoint: String,
    /// The text to continue.
    #[arg(long, conflicts_with = "prompt_file")]
    pub prompt: Option<String>,
    /// A file whose text to continue.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// Tokens to generate per sample.
    #[arg(long, default_value_t = 256)]
    pub max_new_tokens: usize,
    /// Softmax temperature (0 = greedy).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Sample among the k most likely tokens.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Sample among the most likely tokens holding probability p, in (0, 1].
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Always take the most likely token.
    #[arg(long)]
    pub greedy: bool,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Independent samples to draw.
    #[arg(long, default_value_t = 1)]
    pub num_samples: usize,
    /// Recompute the whole context for every token (no KV cache; for comparison).
    #[arg(long)]
    pub no_cache: bool,
}

/// Options of `eval`.
#[derive(Debug, Args, Clone)]
pub struct EvalArgs {
    /// The run directory.
    #[arg(long, value_name = "DIR", required_unless_present = "hf", conflicts_with = "hf")]
    pub run: Option<PathBuf>,
    /// Which checkpoint: best, last, or a step number (with --run).
    #[arg(long, default_value = "best", conflicts_with = "hf")]
    pub checkpoint: String,
    /// A Hugging Face GPT-2 or Llama directory (model.safetensors, config.json, tokenizer.json) instead of a run.
    #[arg(long, value_name = "DIR")]
    pub hf: Option<PathBuf>,
    /// Loss and perplexity on this text file instead of the run's validation split (needed with --hf
    /// unless --hellaswag is given).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Score HellaSwag: a jsonl file with `ctx`, `endings` (4) and `label` per line, e.g. hellaswag_val.jsonl.
    #[arg(long, value_name = "FILE")]
    pub hellaswag: Option<PathBuf>,
    /// Score only the first N HellaSwag examples.
    #[arg(long, value_name = "N", requires = "hellaswag")]
    pub limit: Option<usize>,
    /// Write one JSON line per HellaSwag example (ind, label, pred, pred_norm, losses) to FILE.
    #[arg(long, value_name = "FILE", requires = "hellaswag")]
    pub out: Option<PathBuf>,
}

/// Options of `prepare`: either `--config` (prepare what that run trains on, into its run
/// directory) or `--input` and `--out` with the tokenizer settings.
#[derive(Debug, Args, Clone)]
pub struct PrepareArgs {
    /// Prepare the data of this run config into its run directory (with `--format llmc`: into `--out`).
    #[arg(short, long, value_name = "FILE", conflicts_with = "input")]
    pub config: Option<PathBuf>,
    /// Override one config key (with --config).
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "config")]
    pub set: Vec<String>,
    /// A corpus file or a directory of them (in name order): .txt, .jsonl, .jsonl.gz, .jsonl.zst, .parquet.
    #[arg(long, value_name = "PATH", requires = "out")]
    pub input: Option<PathBuf>,
    /// The directory to write (usable as `data.path` in a config).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// `burngpt` (train.bin, val.bin, data.json) or `llmc`: llm.c's token shards
    /// (`burngpt_train_000000.bin`, ..., `burngpt_val_000000.bin`) and tokenizer.json, which llm.c
    /// and burngpt (as `data.path`) read.
    #[arg(long, default_value = "burngpt", value_parser = ["burngpt", "llmc"])]
    pub format: String,
    /// `char` or `bpe`.
    #[arg(long, default_value = "bpe")]
    pub tokenizer: String,
    /// BPE vocabulary size.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub vocab_size: usize,
    /// Fraction of the characters in the training split.
    #[arg(long, value_name = "F", default_value_t = 0.9)]
    pub train_fraction: f64,
    /// Train BPE on a seeded sample of about this many bytes of the training split (`data.bpe_sample_bytes`, default 256 MiB).
    #[arg(long, value_name = "BYTES")]
    pub bpe_sample_bytes: Option<u64>,
    /// Tokens per token file, about (`data.shard_tokens`, default 2^29).
    #[arg(long, value_name = "N")]
    pub shard_tokens: Option<u64>,
    /// Text read ahead and encoded at once, which bounds memory (`data.prepare_buffer_bytes`, default 64 MiB).
    #[arg(long, value_name = "BYTES")]
    pub buffer_bytes: Option<u64>,
    /// The jsonl field / Parquet column holding each document's text (`data.text_field`, default `text`).
    #[arg(long, value_name = "NAME")]
    pub text_field: Option<String>,
    /// Replace the tokenizer and token files that the directory already holds (runs trained
    /// from them cannot be resumed on the new ones).
    #[arg(long)]
    pub overwrite: bool,
    /// Go on even when the BPE trainer's up-front reservation for `--vocab-size` tokens exceeds
    /// the memory available.
    #[arg(long)]
    pub no_memory_check: bool,
}

/// Options of `plot`.
#[derive(Debug, Args, Clone)]
pub struct PlotArgs {
    /// The run directory, e.g. artifacts/small; repeat it with --out to draw several runs'
    /// validation curves in one picture.
    #[arg(long, value_name = "DIR", required = true)]
    pub run: Vec<PathBuf>,
    /// The comparison picture (.png or .svg) of every --run's validation loss against step and
    /// against seconds; without it, one --run's loss.png and loss.svg are redrawn.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Options of `train`.
#[derive(Debug, Args, Clone, Default)]
pub struct TrainArgs {
    /// The run's TOML config, e.g. configs/tiny.toml.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override one config key, e.g. `--set training.max_steps=100` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Shorthand for `--set training.max_steps=N` (replaces the config's `training.epochs`).
    #[arg(long, value_name = "N", conflicts_with = "epochs")]
    pub max_steps: Option<usize>,
    /// Shorthand for `--set training.epochs=N` (replaces the config's `training.max_steps`).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Shorthand for `--set training.seed=N`.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Continue the run in this directory from its last checkpoint (its saved config is
    /// used; only safe keys may be overridden).
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    pub resume: Option<PathBuf>,
    /// With --resume: continue from this checkpoint (`last`, `best` or a step number) instead of
    /// the last one; the checkpoints after it are moved to `checkpoints/after-step-N/`.
    #[arg(long, value_name = "STEP", requires = "resume")]
    pub checkpoint: Option<String>,
    /// Save a checkpoint and stop after this step, as if interrupted (the schedule still
    /// runs to the configured end, so `--resume` continues the same run).
    #[arg(long, value_name = "N")]
    pub stop_at_step: Option<usize>,
    /// Start the run over: delete the checkpoints, metrics and plots that an earlier run of the
    /// same name left in its directory. Without it, training refuses a directory that holds a run.
    #[arg(long, conflicts_with = "resume")]
    pub start_over: bool,
    /// Go on even when the run's memory estimate exceeds the memory available (the estimate is
    /// still printed; README, "Memory").
    #[arg(long)]
    pub no_memory_check: bool,
}

impl TrainArgs {
    /// Every override, named flags last so they win over `--set`.
    pub fn overrides(&self) -> Vec<String> {
        let mut all = self.set.clone();
        if let Some(n) = self.max_steps {
            all.push(format!("training.max_steps={n}"));
        }
        if let Some(n) = self.epochs {
            all.push(format!("training.epochs={n}"));
        }
        if let Some(n) = self.seed {
            all.push(format!("training.seed={n}"));
        }
        all
    }
}
