//! The `burngpt` binary: parse, run, print the error chain once, set the exit code.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use burngpt::backend;
use burngpt::cli::{Cli, Command, TrainArgs};
use burngpt::config::Config;

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
    }
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
