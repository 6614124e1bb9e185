//! `burngpt eval`: validation loss, perplexity and bits per byte, and HellaSwag accuracy, of a
//! run's checkpoint or a Hugging Face GPT-2 or Llama directory.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use burngpt::backend;
use burngpt::cli::EvalArgs;
use burngpt::run::RunConfig;
use burngpt::data::prepare::Progress;
use burngpt::data::{open_run_data, run_data_dir, token_bytes, Tokenizer};
use burngpt::hellaswag::{read_examples, render_examples, score_examples, Scored, Summary};
use burngpt::model::Gpt;
use burngpt::train::{evaluate, window_batches};

use super::load_run;

/// Windows per batch for the loss of a Hugging Face model (a run uses its `training.batch_size`).
const HF_BATCH_SIZE: usize = 8;

/// HellaSwag rows of at most this many block_size-long rows go into one forward pass (4: one
/// example of the longest rows), which bounds the logits held at once.
const HELLASWAG_BLOCKS_PER_PASS: usize = 4;

/// The model under evaluation and what goes with it.
struct Loaded {
    tokenizer: Tokenizer,
    model: Gpt<backend::Inference>,
    block_size: usize,
    batch_size: usize,
    /// The run directory and its config (None for --hf): its validation split is the default data.
    run: Option<(PathBuf, RunConfig)>,
    /// `checkpoint N of DIR` or `DIR`, for messages.
    name: String,
}

/// Scores the model: the loss (and bits per byte) on every window of `--data` (a text file, encoded with the
/// model's tokenizer) or, for a run without `--hellaswag`, of the run's validation split; then
/// HellaSwag with `--hellaswag`.
pub fn run(args: &EvalArgs, device: Option<&str>) -> Result<()> {
    let device = backend::device(device)?;
    let loaded = load(args, &device)?;
    if args.hf.is_some() && args.data.is_none() && args.hellaswag.is_none() {
        bail!("eval --hf needs --data FILE (a text file to measure the loss on) or --hellaswag FILE");
    }
    if args.data.is_some() || (loaded.run.is_some() && args.hellaswag.is_none()) {
        loss(&loaded, args.data.as_deref(), &device)?;
    }
    if let Some(path) = &args.hellaswag {
        hellaswag(&loaded, path, args, &device)?;
    }
    Ok(())
}

fn load(args: &EvalArgs, device: &backend::Device) -> Result<Loaded> {
    match (&args.run, &args.hf) {
        (_, Some(dir)) => {
            let tokenizer = burngpt::hf::load_tokenizer(dir)?;
            let (gpt, model) = burngpt::hf::load_model::<backend::Inference>(dir, device)?;
            let name = dir.display().to_string();
            Ok(Loaded { tokenizer, model, block_size: gpt.block_size, batch_size: HF_BATCH_SIZE, run: None, name })
        }
        (Some(run), None) => {
            let (config, tokenizer, model) = load_run::<backend::Inference>(run, &args.checkpoint, device)?;
            Ok(Loaded {
                tokenizer,
                model,
                block_size: config.model.block_size,
                batch_size: config.training.batch_size,
                name: format!("checkpoint {} of {}", args.checkpoint, run.display()),
                run: Some((run.clone(), config)),
            })
        }
        (None, None) => bail!("eval needs --run DIR or --hf DIR"),
    }
}

fn loss(loaded: &Loaded, data: Option<&Path>, device: &backend::Device) -> Result<()> {
    let (tokens, source) = match (data, &loaded.run) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read --data {}", path.display()))?;
            let ids = loaded
                .tokenizer
                .encode(&text)
                .with_context(|| format!("{}: cannot be encoded with the model's tokenizer", path.display()))?;
            (ids, path.display().to_string())
        }
        (None, Some((run, config))) => {
            // The run's own token files, or the prepared directory it was trained from: checked
            // against what the run recorded when it started.
            let dir = run_data_dir(&config.data, run)?;
            let data = open_run_data(&config.data, run)?;
            (data.val.to_vec()?, format!("the validation split of {}", dir.display()))
        }
        (None, None) => bail!("no data to measure the loss on: give --data FILE"),
    };
    let block = loaded.block_size;
    let set = window_batches::<backend::Inference>(&tokens, block, loaded.batch_size, &source, device)?;
    let n = set.batches.len();
    let scores = evaluate(&loaded.model, set.batches, &token_bytes(&loaded.tokenizer))?;
    let loss = scores.loss;
    burngpt::outln!("{source}: {} windows of {} tokens in {n} batches", set.windows, block + 1);
    burngpt::outln!("val loss {loss:.4} | perplexity {:.2} | bpb {:.4}", loss.exp(), scores.bpb);
    if !loss.is_finite() {
        bail!("the loss of {} is {loss}: the model is diverged", loaded.name);
    }
    Ok(())
}

fn hellaswag(loaded: &Loaded, path: &Path, args: &EvalArgs, device: &backend::Device) -> Result<()> {
    if args.limit == Some(0) {
        bail!("--limit 0: expected at least 1 example");
    }
    let examples = read_examples(path, args.limit)?;
    let source = path.display().to_string();
    let rendered = render_examples(&examples, &loaded.tokenizer, loaded.block_size, &source)?;
    let mut progress = Progress::items("HellaSwag", "examples", rendered.len() as u64);
    let max_positions = HELLASWAG_BLOCKS_PER_PASS * loaded.block_size;
    let scored = score_examples(&loaded.model, &rendered, max_positions, device, |n| progress.add(n as u64))?;
    progress.finish();
    if let Some(out) = &args.out {
        write_scored(out, &scored)?;
    }
    let summary = Summary::of(&scored);
    burngpt::outln!("hellaswag: {} examples | acc {:.4} | acc_norm {:.4}", summary.examples, summary.acc(), summary.acc_norm());
    Ok(())
}

/// `--out`: one JSON object per line.
fn write_scored(out: &Path, scored: &[Scored]) -> Result<()> {
    let mut text = String::new();
    for s in scored {
        text.push_str(&serde_json::to_string(s)?);
        text.push('\n');
    }
    burngpt::run_dir::write_atomic(out, text.as_bytes()).with_context(|| format!("cannot write --out {}", out.display()))
}
