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
