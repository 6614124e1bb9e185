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
use burngpt::config::RunConfig;
use burngpt::data::Tokenizer;
use burngpt::model::Gpt;
use burngpt::run_dir::RunDir;

/// The saved config, tokenizer and model of a run, on backend `B`. `which` is the
/// `--checkpoint` value: `best`, `last` or a step number.
pub fn load_run<B: Backend>(run: &Path, which: &str, device: &B::Device) -> Result<(RunConfig, Tokenizer, Gpt<B>)> {
    let which: Which = which.parse().map_err(|e: String| anyhow!("--checkpoint {e}"))?;
    let run_dir = RunDir::new(run);
    let config = RunConfig::load_saved(&run_dir)?;
    let tokenizer_path = run_dir.tokenizer();
    if !tokenizer_path.is_file() {
        bail!("tokenizer {} is missing: the run directory is incomplete", tokenizer_path.display());
    }
    let tokenizer = Tokenizer::load(&tokenizer_path)?;
    let dir = checkpoint::open_checkpoint(&run_dir, which)?.dir;
    let gpt = config.gpt_config(tokenizer.vocab_size())?;
    let model = burngpt::model::load_model::<B>(&gpt, &dir, device)?;
    Ok((config, tokenizer, model))
}
