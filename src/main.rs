//! The `burngpt` binary: parse, run, print the error chain once, set the exit code.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;

use burngpt::backend;
use burngpt::cli::{Cli, Command, PrepareArgs, TrainArgs};
use burngpt::config::{Config, DataSection, TokenizerKind};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => train(&cli.train),
        Some(Command::Train(args)) => train(&args),
        Some(Command::Prepare(args)) => prepare(&args),
        Some(Command::Plot(args)) => {
            burngpt::report::plot_run(&args.run)?;
            println!("Wrote {} and {}", args.run.join("loss.png").display(), args.run.join("loss.svg").display());
            Ok(())
        }
    }
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

fn train(args: &TrainArgs) -> Result<()> {
    let path = args
        .config
        .as_deref()
        .context("no config given: pass --config FILE (e.g. --config configs/tiny.toml)")?;
    let config = Config::load(path, &args.overrides())?;
    let device = backend::default_device();
    let label = format!("backend {}, device {device:?}", backend::name());
    burngpt::train::train::<backend::Training>(&config, &device, &label)?;
    Ok(())
}
