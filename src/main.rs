//! The `burngpt` binary: parse, run, print the error chain once, set the exit code.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;

use burngpt::backend;
use burngpt::checkpoint::{self, Which};
use burngpt::cli::{BenchArgs, Cli, Command, EvalArgs, ExportArgs, GenerateArgs, PrepareArgs, TrainArgs};
use burngpt::config::{Config, DataSection, TokenizerKind};
use burngpt::data::{open_prepared, Batch, Tokenizer, TOKENIZER_FILE};
use burngpt::generate::{generate, SamplingConfig};
use burngpt::train::evaluate;

/// mimalloc instead of the system allocator. A training step frees and allocates the same
/// few-MiB tensors hundreds of times. glibc, even with its mmap threshold pinned at 32 MiB and
/// trimming off (what burngpt did before, with `mallopt`), still took 20-44K page faults in a
/// 20-step bench, and how fast a step ran depended on the order of its allocations (removing GELU
/// from the model made the spec's step 145 -> 164 ms slower). mimalloc keeps and reuses the
/// buffers: spec shape 147-151 -> 140-143 ms/step, char 48-50 -> 46-47 (README "Performance").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match backend::run_in_compute_pool(|| run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let device = cli.device.as_deref();
    match cli.command {
        None => train(&cli.train, device),
        Some(Command::Train(args)) => train(&args, device),
        Some(Command::Prepare(args)) => prepare(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Plot(args)) => {
            burngpt::report::plot_run(&args.run, None)?;
            println!("Wrote {} and {}", args.run.join("loss.png").display(), args.run.join("loss.svg").display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Generate(args)) => generate_text(&args, device).map(|()| ExitCode::SUCCESS),
        Some(Command::Eval(args)) => eval(&args, device).map(|()| ExitCode::SUCCESS),
        Some(Command::Bench(args)) => bench(&args, device).map(|()| ExitCode::SUCCESS),
        Some(Command::Export(args)) => export(&args).map(|()| ExitCode::SUCCESS),
    }
}

fn train(args: &TrainArgs, device: Option<&str>) -> Result<ExitCode> {
    let (config, run_dir, resume) = match (&args.resume, &args.config) {
        (Some(dir), _) => {
            let saved = checkpoint::load_config(dir)?;
            let config = Config::for_resume(&saved, &args.overrides())
                .with_context(|| format!("cannot resume {}", dir.display()))?;
            (config, dir.clone(), true)
        }
        (None, Some(path)) => {
            let config = Config::load(path, &args.overrides())?;
            let run_dir = config.run_dir();
            (config, run_dir, false)
        }
        (None, None) => bail!("no config given: pass --config FILE (e.g. --config configs/tiny.toml) or --resume DIR"),
    };
    ctrlc::set_handler(burngpt::train::request_stop).context("cannot install the Ctrl-C handler")?;
    let device = backend::device(device)?;
    let label = format!("backend {}, device {device:?}", backend::name());
    let summary = burngpt::train::train::<backend::Training>(&config, &run_dir, resume, args.stop_at_step, &device, &label)?;
    Ok(if summary.interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

fn prepare(args: &PrepareArgs) -> Result<()> {
    let (data, dir) = match (&args.config, &args.input, &args.out) {
        (Some(path), _, _) => {
            let config = Config::load(path, &args.set)?;
            let dir = config.run_dir();
            (config.data, dir)
        }
        (None, Some(input), Some(out)) => {
            let tokenizer = match args.tokenizer.as_str() {
                "char" => TokenizerKind::Char,
                "bpe" => TokenizerKind::Bpe,
                other => bail!("--tokenizer {other}: expected `char` or `bpe`"),
            };
            let data = DataSection {
                path: input.clone(),
                tokenizer,
                vocab_size: (tokenizer == TokenizerKind::Bpe).then_some(args.vocab_size),
                train_fraction: args.train_fraction,
                tokenizer_file: None,
            };
            data.validate()?;
            (data, out.clone())
        }
        _ => bail!("prepare needs --config FILE, or --input PATH and --out DIR"),
    };
    let meta = burngpt::data::prepare(&data, &dir, &mut |m| println!("{m}"))?;
    println!("Vocabulary size: {} ({} ids)", meta.vocab_size, meta.dtype);
    Ok(())
}

/// The saved config, tokenizer and model of a run, on backend `B`.
fn load_run<B: burn::tensor::backend::Backend>(
    run: &std::path::Path,
    which: &str,
    device: &B::Device,
) -> Result<(Config, Tokenizer, burngpt::model::Gpt<B>)> {
    let which: Which = which.parse().map_err(|e: String| anyhow::anyhow!("--checkpoint {e}"))?;
    let config = checkpoint::load_config(run)?;
    let tokenizer_path = run.join(TOKENIZER_FILE);
    if !tokenizer_path.is_file() {
        bail!("tokenizer {} is missing: the run directory is incomplete", tokenizer_path.display());
    }
    let tokenizer = Tokenizer::load(&tokenizer_path)?;
    let dir = checkpoint::checkpoint_dir(run, which)?;
    let gpt = config.gpt_config(tokenizer.vocab_size());
    let model = checkpoint::load_model::<B>(&gpt, &dir, device)?;
    Ok((config, tokenizer, model))
}

fn generate_text(args: &GenerateArgs, device: Option<&str>) -> Result<()> {
    let sampling = SamplingConfig { temperature: args.temperature, top_k: args.top_k, top_p: args.top_p, greedy: args.greedy };
    sampling.validate()?;
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
    let mut stdout = std::io::stdout().lock();
    for sample in 0..args.num_samples {
        if args.num_samples > 1 {
            writeln!(stdout, "--- sample {} ---", sample + 1)?;
        }
        write!(stdout, "{prompt}")?;
        let mut rng = burngpt::seed::rng(args.seed, burngpt::seed::Stream::Sampling, sample as u64);
        let mut generated = Vec::new();
        let mut printed = 0;
        let (_, stats) = generate(&model, &prompt_ids, args.max_new_tokens, &sampling, &mut rng, !args.no_cache, |id| {
            generated.push(id);
            let text = tokenizer.decode(&generated)?;
            // Hold back an incomplete UTF-8 sequence (shown as U+FFFD) until it completes.
            let ready = text.trim_end_matches('\u{FFFD}');
            if ready.len() > printed && ready.is_char_boundary(printed) {
                write!(stdout, "{}", &ready[printed..])?;
                stdout.flush()?;
                printed = ready.len();
            }
            Ok(())
        })?;
        let text = tokenizer.decode(&generated)?;
        if text.len() > printed {
            write!(stdout, "{}", &text[printed..])?;
        }
        writeln!(stdout)?;
        eprintln!(
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

fn eval(args: &EvalArgs, device: Option<&str>) -> Result<()> {
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
            let data = open_prepared(&args.run)?;
            (data.val.to_vec()?, format!("the validation split of {}", args.run.display()))
        }
    };
    if tokens.len() < window {
        bail!("{source} has {} tokens, fewer than one window of block_size + 1 = {window}", tokens.len());
    }
    // Every non-overlapping window, in batches of the run's batch size.
    let starts: Vec<usize> = (0..tokens.len() / window).map(|i| i * window).collect();
    let batches = starts
        .chunks(config.training.batch_size)
        .map(|s| Batch::from_ids(&tokens, s, block, &device))
        .collect::<Result<Vec<Batch<backend::Inference>>>>()?;
    let n = batches.len();
    let loss = evaluate(&model, batches);
    println!("{source}: {} windows of {window} tokens in {n} batches", starts.len());
    println!("val loss {loss:.4} | perplexity {:.2}", loss.exp());
    Ok(())
}

fn bench(args: &BenchArgs, device: Option<&str>) -> Result<()> {
    let config = Config::load(&args.config, &args.set)?;
    let vocab = match (args.vocab, config.data.tokenizer) {
        (Some(v), _) => v,
        (None, TokenizerKind::Bpe) => config.data.vocab_size.unwrap_or(2000),
        (None, TokenizerKind::Char) => 65,
    };
    if vocab < 2 || args.steps == 0 || args.new_tokens == 0 {
        bail!("bench needs --vocab >= 2, --steps >= 1 and --new-tokens >= 1");
    }
    let settings = burngpt::bench::BenchSettings {
        warmup_steps: args.warmup_steps,
        steps: args.steps,
        new_tokens: args.new_tokens,
        gen_repeats: args.gen_repeats,
        peak_gflops: args.peak_gflops,
    };
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
    println!("{}", burngpt::bench::table(&report, args.peak_gflops));
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn export(args: &ExportArgs) -> Result<()> {
    let device = backend::default_device();
    let (config, tokenizer, model) = load_run::<backend::Inference>(&args.run, &args.checkpoint, &device)?;
    let gpt = config.gpt_config(tokenizer.vocab_size());
    let bpe = matches!(tokenizer, Tokenizer::Bpe(_)).then_some(&tokenizer);
    burngpt::hf::export(&model, &gpt, bpe, &args.out).with_context(|| format!("cannot export {}", args.run.display()))?;
    println!("Wrote {} (model.safetensors, config.json{})", args.out.display(), if bpe.is_some() { ", tokenizer.json" } else { "" });
    if bpe.is_none() {
        println!("The run's char tokenizer has no Hugging Face equivalent: tokenizer.json is not written");
    }
    Ok(())
}
