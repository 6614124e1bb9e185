//! `burngpt generate`: sample text from a run's checkpoint or a Hugging Face GPT-2 or Llama directory.

use std::io::Write;

use anyhow::{bail, Context, Result};

use burngpt::backend;
use burngpt::cli::GenerateArgs;
use burngpt::generate::{generate, SamplingConfig, Utf8Stream};

use super::load_run;

/// Prints `--num-samples` continuations of the prompt, each token's text as soon as it forms
/// whole characters, and the speed of each on stderr.
pub fn run(args: &GenerateArgs, device: Option<&str>) -> Result<()> {
    let sampling = SamplingConfig { temperature: args.temperature, top_k: args.top_k, top_p: args.top_p, greedy: args.greedy };
    sampling.validate()?;
    if args.num_samples == 0 {
        bail!("--num-samples 0: expected at least 1");
    }
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(p), _) => p.clone(),
        (None, Some(path)) => std::fs::read_to_string(path).with_context(|| format!("cannot read --prompt-file {}", path.display()))?,
        (None, None) => "\n".to_string(),
    };
    let device = backend::sampling_device(&backend::device(device)?);
    let (tokenizer, model) = match (&args.run, &args.hf) {
        (_, Some(dir)) => (burngpt::hf::load_tokenizer(dir)?, burngpt::hf::load_model::<backend::Sampling>(dir, &device)?.1),
        (Some(run), None) => {
            let (_, tokenizer, model) = load_run::<backend::Sampling>(run, &args.checkpoint, &device)?;
            (tokenizer, model)
        }
        (None, None) => bail!("generate needs --run DIR or --hf DIR"),
    };
    let prompt_ids = tokenizer.encode(&prompt).context("the prompt cannot be encoded")?;
    if prompt_ids.is_empty() {
        bail!("--prompt is empty: give at least one character");
    }
    let decode = |ids: &[u32]| tokenizer.decode(ids);
    let mut stdout = std::io::stdout().lock();
    for sample in 0..args.num_samples {
        if args.num_samples > 1 {
            writeln!(stdout, "--- sample {} ---", sample + 1)?;
        }
        write!(stdout, "{prompt}")?;
        let mut rng = burngpt::seed::rng(args.seed, burngpt::seed::Stream::Sampling, sample as u64);
        let mut text = Utf8Stream::new();
        let (_, stats) = generate(&model, &prompt_ids, args.max_new_tokens, &sampling, &mut rng, !args.no_cache, |id| {
            let ready = text.push(id, decode)?;
            if !ready.is_empty() {
                write!(stdout, "{ready}")?;
                stdout.flush()?;
            }
            Ok(())
        })?;
        let rest = text.finish(decode)?;
        if !rest.is_empty() {
            write!(stdout, "{rest}")?;
        }
        writeln!(stdout)?;
        burngpt::errln!(
            "[{} tokens in {:.2}s: {:.1} tokens/s, {}, {}]",
            stats.new_tokens,
            stats.seconds,
            stats.tokens_per_sec(),
            if args.no_cache { "full recompute" } else { "KV cache" },
            backend::sampling_name()
        );
    }
    Ok(())
}
