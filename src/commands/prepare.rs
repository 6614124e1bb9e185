//! `burngpt prepare`: tokenize a corpus once into a directory that training reads.

use anyhow::{bail, Result};

use burngpt::cli::PrepareArgs;
use burngpt::run::RunConfig;
use burngpt::data::prepare::{prepare, prepare_llmc, LLMC_WORK_DIR};
use burngpt::data::{is_prepared_dir, DataConfig, TokenizerKind};
use burngpt::host_memory::MemoryCheck;
use burngpt::run_dir::{LockPurpose, RunDir};

/// Prepares the data of `--config`, or of `--input` with the tokenizer options, into the
/// run directory or `--out`, in burngpt's layout or (`--format llmc`) as llm.c shards.
pub fn run(args: &PrepareArgs) -> Result<()> {
    let llmc = args.format == "llmc";
    let (data, dir) = match (&args.config, &args.input, &args.out) {
        (Some(path), _, out) => {
            let config = RunConfig::load(path, &args.set)?;
            let dir = match (out, llmc) {
                (None, false) => config.run_dir(),
                (Some(out), true) => out.clone(),
                (Some(_), false) => bail!("--out with --config needs --format llmc: a config prepares into its run directory"),
                (None, true) => bail!("--format llmc with --config needs --out DIR: the directory of llm.c shards to write"),
            };
            (config.data, dir)
        }
        (None, Some(input), Some(out)) => {
            let tokenizer = match args.tokenizer.as_str() {
                "char" => TokenizerKind::Char,
                "bpe" => TokenizerKind::Bpe,
                other => bail!("--tokenizer {other}: expected `char` or `bpe`"),
            };
            let defaults = DataConfig::new(input, tokenizer);
            let data = DataConfig {
                vocab_size: (tokenizer == TokenizerKind::Bpe).then_some(args.vocab_size),
                train_fraction: args.train_fraction,
                bpe_sample_bytes: args.bpe_sample_bytes.unwrap_or(defaults.bpe_sample_bytes),
                shard_tokens: args.shard_tokens.unwrap_or(defaults.shard_tokens),
                prepare_buffer_bytes: args.buffer_bytes.unwrap_or(defaults.prepare_buffer_bytes),
                text_field: args.text_field.clone().unwrap_or(defaults.text_field.clone()),
                ..defaults
            };
            data.validate()?;
            (data, out.clone())
        }
        _ => bail!("prepare needs --config FILE, or --input PATH and --out DIR"),
    };
    // One process at a time prepares into a directory or trains in it: checked and written under
    // its lock, so that two `prepare`s never replace each other's files unasked.
    let run_dir = RunDir::new(&dir);
    let _lock = run_dir.lock(LockPurpose::Prepare)?;
    if run_dir.holds_run() {
        bail!(
            "{} holds a training run: preparing again would replace the tokenizer and token files its checkpoints \
             were trained on; prepare into another directory (--out DIR)",
            dir.display()
        );
    }
    // An llm.c preparation interrupted before its end continues (its shards are written again).
    let continuing = llmc && dir.join(LLMC_WORK_DIR).is_dir();
    if is_prepared_dir(&dir) && !args.overwrite && !continuing {
        bail!(
            "{} already holds prepared data: pass --overwrite to replace it (runs trained from it then cannot resume)",
            dir.display()
        );
    }
    let memory = MemoryCheck::host(!args.no_memory_check)?;
    let log = &mut |m: &str| burngpt::outln!("{m}");
    let meta = match llmc {
        true => prepare_llmc(&data, &dir, &memory, log)?,
        false => prepare(&data, &dir, &memory, log)?,
    };
    burngpt::outln!("Vocabulary size: {} ({} ids)", meta.vocab_size, meta.dtype);
    Ok(())
}
