//! The bodies of the subcommands, one file each; `main` parses the command line and
//! dispatches here.

pub mod bench;
pub mod eval;
pub mod export;
pub mod generate;
pub mod plot;
pub mod prepare;
pub mod train;

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use burn::tensor::backend::Backend;

use burngpt::checkpoint::{self, Which};
use burngpt::run::RunConfig;
use burngpt::data::{check_run_tokenizer, Tokenizer};
use burngpt::model::Gpt;
use burngpt::run_dir::RunDir;

/// The saved config, tokenizer and model of a run, on backend `B`. `which` is the
/// `--checkpoint` value: `best`, `last` or a step number. The tokenizer must be the one the run
/// trained with, and a checkpoint that a run training in the directory prunes while it is read
/// is replaced by the new one ([`checkpoint::load_checkpoint`]).
pub fn load_run<B: Backend>(run: &Path, which: &str, device: &B::Device) -> Result<(RunConfig, Tokenizer, Gpt<B>)> {
    let which: Which = which.parse().map_err(|e: String| anyhow!("--checkpoint {e}"))?;
    let run_dir = RunDir::new(run);
    let config = RunConfig::load_saved(&run_dir)?;
    let tokenizer_path = run_dir.tokenizer();
    if !tokenizer_path.is_file() {
        bail!("tokenizer {} is missing: the run directory is incomplete", tokenizer_path.display());
    }
    check_run_tokenizer(&config.data, run)?;
    let tokenizer = Tokenizer::load(&tokenizer_path)?;
    let gpt = config.gpt_config(tokenizer.vocab_size())?;
    let (_, model) = checkpoint::load_checkpoint(&run_dir, which, |found| burngpt::model::load_model::<B>(&gpt, &found.dir, device))?;
    Ok((config, tokenizer, model))
}
