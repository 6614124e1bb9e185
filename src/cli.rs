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
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from a TOML config (the default).
    Train(TrainArgs),
    /// Tokenize a corpus once into train.bin / val.bin plus its tokenizer.
    Prepare(PrepareArgs),
    /// Redraw loss.png and loss.svg from a run's metrics.csv.
    Plot(PlotArgs),
}

/// Options of `prepare`: either `--config` (prepare what that run trains on, into its run
/// directory) or `--input` and `--out` with the tokenizer settings.
#[derive(Debug, Args, Clone)]
pub struct PrepareArgs {
    /// Prepare the data of this run config into its run directory.
    #[arg(short, long, value_name = "FILE", conflicts_with_all = ["input", "out"])]
    pub config: Option<PathBuf>,
    /// Override one config key (with --config).
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "config")]
    pub set: Vec<String>,
    /// A text file or a directory of .txt files.
    #[arg(long, value_name = "PATH", requires = "out")]
    pub input: Option<PathBuf>,
    /// The directory to write (usable as `data.path` in a config).
    #[arg(long, value_name = "DIR", requires = "input")]
    pub out: Option<PathBuf>,
    /// `char` or `bpe`.
    #[arg(long, default_value = "bpe")]
    pub tokenizer: String,
    /// BPE vocabulary size.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub vocab_size: usize,
    /// Fraction of the characters in the training split.
    #[arg(long, value_name = "F", default_value_t = 0.9)]
    pub train_fraction: f64,
}

/// Options of `plot`.
#[derive(Debug, Args, Clone)]
pub struct PlotArgs {
    /// The run directory, e.g. artifacts/small.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
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
    /// Shorthand for `--set training.max_steps=N`.
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// Shorthand for `--set training.seed=N`.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

impl TrainArgs {
    /// Every override, named flags last so they win over `--set`.
    pub fn overrides(&self) -> Vec<String> {
        let mut all = self.set.clone();
        if let Some(n) = self.max_steps {
            all.push(format!("training.max_steps={n}"));
        }
        if let Some(n) = self.seed {
            all.push(format!("training.seed={n}"));
        }
        all
    }
}
