//! `burngpt eval`: validation loss, perplexity and bits per byte of a saved model.

use anyhow::{bail, Context, Result};

use burngpt::backend;
use burngpt::cli::EvalArgs;
use burngpt::data::{open_run_data, run_data_dir, token_bytes};
use burngpt::train::{evaluate, window_batches};

use super::load_run;

/// Scores the run's checkpoint on every window of `--data` (a text file, encoded with the
/// run's tokenizer) or of the run's validation split.
pub fn run(args: &EvalArgs, device: Option<&str>) -> Result<()> {
    let device = backend::device(device)?;
    let (config, tokenizer, model) = load_run::<backend::Inference>(&args.run, &args.checkpoint, &device)?;
    let block = config.model.block_size;
    let window = block + 1;
    let (tokens, source) = match &args.data {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read --data {}", path.display()))?;
            let ids = tokenizer.encode(&text).with_context(|| format!("{}: cannot be encoded with the run's tokenizer", path.display()))?;
            (ids, path.display().to_string())
        }
        None => {
            // The run's own token files, or the prepared directory it was trained from: checked
            // against what the run recorded when it started.
            let dir = run_data_dir(&config.data, &args.run)?;
            let data = open_run_data(&config.data, &args.run)?;
            (data.val.to_vec()?, format!("the validation split of {}", dir.display()))
        }
    };
    let set = window_batches::<backend::Inference>(&tokens, block, config.training.batch_size, &source, &device)?;
    let n = set.batches.len();
    let scores = evaluate(&model, set.batches, &token_bytes(&tokenizer))?;
    let loss = scores.loss;
    burngpt::outln!("{source}: {} windows of {window} tokens in {n} batches", set.windows);
    burngpt::outln!("val loss {loss:.4} | perplexity {:.2} | bpb {:.4}", loss.exp(), scores.bpb);
    if !loss.is_finite() {
        bail!("the loss of checkpoint {} of {} is {loss}: the model is diverged", args.checkpoint, args.run.display());
    }
    Ok(())
}
