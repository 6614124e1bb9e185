//! The valid originals, made once per test binary by the library's own code: a tiny run trained
//! for two steps (config, tokenizer, prepared data, a checkpoint), a byte-level BPE tokenizer, and
//! the `prepare.json` of an unfinished preparation.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burngpt::run::RunConfig;
use burngpt::data::prepare::STATE_FILE as PREPARE_STATE_FILE;
use burngpt::data::{DataConfig, Tokenizer, TokenizerKind};

use crate::resume::{ok, root};

/// The originals; every test copies what it damages into a directory of its own.
pub struct Fixture {
    _tmp: tempfile::TempDir,
    /// A run directory trained for two steps, with its checkpoint at step 2.
    pub run: PathBuf,
    /// A BPE `tokenizer.json`.
    pub bpe_tokenizer: PathBuf,
    /// The `[data]` of the run, for `prepare`.
    pub data: DataConfig,
    /// A complete preparation of `data` (made by `prepare`; no `prepare.json`).
    pub prepared: PathBuf,
    /// The `prepare.json` that `prepare` left in `prepared` just after encoding its training
    /// split: what an interruption there would have left.
    pub prepare_state: Vec<u8>,
}

/// Step of the fixture's checkpoint.
pub const STEP: usize = 2;

/// The fixture, made on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(make)
}

fn make() -> Fixture {
    let tmp = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(root().join("data/tinyshakespeare.txt")).expect("corpus");
    let text = &text[..20_000];
    let corpus = tmp.path().join("corpus.txt");
    std::fs::write(&corpus, text).expect("write the corpus");
    let out = tmp.path().display().to_string();
    let sets = [
        format!("data.path={}", corpus.display()),
        format!("training.out_dir={out}"),
        "training.run_name=run".to_string(),
        "training.max_steps=2".to_string(),
        "schedule.warmup_steps=1".to_string(),
        "training.checkpoint_every=2".to_string(),
        "training.eval_every=2".to_string(),
        "training.eval_batches=1".to_string(),
        "training.batch_size=4".to_string(),
    ];
    let mut args = vec!["--config".to_string(), "configs/tiny.toml".to_string()];
    for set in &sets {
        args.extend(["--set".to_string(), set.clone()]);
    }
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let run = tmp.path().join("run");

    let bpe_tokenizer = tmp.path().join("bpe").join("tokenizer.json");
    std::fs::create_dir_all(bpe_tokenizer.parent().expect("parent")).expect("mkdir");
    Tokenizer::train(TokenizerKind::Bpe, 300, Vec::new(), std::iter::once(text.to_string()))
        .and_then(|t| t.save(&bpe_tokenizer))
        .expect("a BPE tokenizer");

    let data = RunConfig::load(&root().join("configs/tiny.toml"), &sets).expect("config").data;
    let prepared = tmp.path().join("prepared");
    let state_path = prepared.join(PREPARE_STATE_FILE);
    let mut prepare_state = None;
    burngpt::data::prepare::prepare(&data, &prepared, &burngpt::host_memory::MemoryCheck::off(), &mut |line: &str| {
        if line.starts_with("Encoded") {
            prepare_state = std::fs::read(&state_path).ok();
        }
    })
    .expect("prepare");
    let prepare_state = prepare_state.expect("prepare.json while encoding");
    Fixture { _tmp: tmp, run, bpe_tokenizer, data, prepared, prepare_state }
}

/// Copies the files of `from` (and its subdirectories) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// A copy of the fixture's run directory in a new temporary directory (kept alive by the
/// returned guard).
pub fn run_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let run = tmp.path().join("run");
    copy_dir(&fixture().run, &run);
    (tmp, run)
}
