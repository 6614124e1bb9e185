//! `burngpt export`: a run's model as a Hugging Face directory: `LlamaForCausalLM` when Llama can
//! express it, else `GPT2LMHeadModel`.

use anyhow::{Context, Result};

use burngpt::backend;
use burngpt::cli::ExportArgs;
use burngpt::data::Tokenizer;

use super::load_run;

/// Writes model.safetensors and config.json (and tokenizer.json for a BPE run) to `--out`.
pub fn run(args: &ExportArgs) -> Result<()> {
    let device = backend::default_device();
    let (config, tokenizer, model) = load_run::<backend::Inference>(&args.run, &args.checkpoint, &device)?;
    let gpt = config.gpt_config(tokenizer.vocab_size())?;
    let bpe = matches!(tokenizer, Tokenizer::Bpe(_)).then_some(&tokenizer);
    burngpt::hf::export(&model, &gpt, bpe, &args.out).with_context(|| format!("cannot export {}", args.run.display()))?;
    let format = match burngpt::hf::export_format(&gpt)? {
        burngpt::hf::HfFormat::Llama => "LlamaForCausalLM",
        burngpt::hf::HfFormat::Gpt2 => "GPT2LMHeadModel",
    };
    let tokenizer_file = if bpe.is_some() { ", tokenizer.json" } else { "" };
    burngpt::outln!("Wrote {} as {format} (model.safetensors, config.json{tokenizer_file})", args.out.display());
    if bpe.is_none() {
        burngpt::outln!("The run's char tokenizer has no Hugging Face equivalent: tokenizer.json is not written");
    }
    Ok(())
}
