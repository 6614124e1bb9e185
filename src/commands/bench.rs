//! `burngpt bench`: training step times, generation speed and peak memory of a config's shape.

use anyhow::{bail, Result};

use burngpt::backend;
use burngpt::bench::BenchSettings;
use burngpt::cli::BenchArgs;
use burngpt::data::TokenizerKind;
use burngpt::run::{check_shape, keep_freed_memory_if_room, memory_line, RunConfig, RunShape};

/// Runs the bench on random tokens and prints its table, then the same report as JSON.
pub fn run(args: &BenchArgs, device: Option<&str>) -> Result<()> {
    let config = RunConfig::load(&args.config, &args.set)?;
    let vocab = match (args.vocab, config.data.tokenizer) {
        (Some(v), _) => v,
        (None, TokenizerKind::Bpe) => config.data.vocab_size.unwrap_or(2000),
        (None, TokenizerKind::Char) => 65,
    };
    if vocab < 2 || args.steps == 0 || args.new_tokens == 0 {
        bail!("bench needs --vocab >= 2, --steps >= 1 and --new-tokens >= 1");
    }
    let settings = BenchSettings {
        warmup_steps: args.warmup_steps,
        steps: args.steps,
        new_tokens: args.new_tokens,
        gen_repeats: args.gen_repeats,
        peak_gflops: args.peak_gflops,
    };
    let memory = backend::memory_check(!args.no_memory_check)?;
    let vocab_name = match (args.vocab, config.data.tokenizer) {
        (Some(_), _) => "--vocab",
        (None, TokenizerKind::Bpe) => "data.vocab_size",
        (None, TokenizerKind::Char) => "bench's char vocabulary",
    };
    // One micro-batch per step: bench does not accumulate gradients.
    let shape = RunShape {
        model: config.model.clone(),
        vocab_size: vocab,
        batch_size: config.training.batch_size,
        grad_accum_steps: 1,
        logits_in_place: memory.logits_in_place,
    };
    let estimate = check_shape(&shape, vocab_name, &memory, 1)?;
    burngpt::outln!("{}", memory_line(&estimate, &memory));
    keep_freed_memory_if_room(&estimate, &memory, 1);
    let device = backend::device(device)?;
    let sampling_device = backend::sampling_device(&device);
    let label = format!("{} ({device:?})", backend::name());
    let report = burngpt::bench::run::<backend::Training, backend::Sampling>(
        &config,
        vocab,
        &settings,
        (&device, &sampling_device),
        (&label, backend::sampling_name()),
    )?;
    burngpt::outln!("{}", burngpt::bench::table(&report, args.peak_gflops));
    burngpt::outln!("{}", serde_json::to_string(&report)?);
    Ok(())
}
