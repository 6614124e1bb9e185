//! llm.c token shards: written by `prepare --format llmc` and read by a Python reader of llm.c's
//! format; written by llm.c's own Python writer and read by burngpt; trained on, resumed, and
//! damaged. Fixtures: tests/fixtures/llmc (make_fixture.py beside them says how they were made).
//! Data formats and a CPU run: the same on every backend, so not run again under wgpu.
#![cfg(not(feature = "wgpu"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burngpt::data::{open_corpus, open_prepared, TokenDtype, LLMC_HEADER_LEN};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/llmc").join(name)
}

fn burngpt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burngpt")).current_dir(root()).args(args).output().expect("the binary runs")
}

fn ok(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{what} failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The single `error:` line of a failed run.
fn error_of(out: Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected a failure: {err}");
    assert_eq!(err.matches("error:").count(), 1, "error chain printed once: {err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn ids(value: &serde_json::Value) -> Vec<u32> {
    value.as_array().expect("array").iter().map(|v| v.as_u64().expect("id") as u32).collect()
}

/// make_fixture.py's `fnv1a64`: FNV-1a over each id's 4 little-endian bytes.
fn fnv1a64(ids: &[u32]) -> u64 {
    ids.iter().flat_map(|i| i.to_le_bytes()).fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01B3))
}

fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
    }
}

/// (a): the same corpus prepared both ways holds the same tokens in the same shards, and the
/// llm.c shards are what make_fixture.py's reader of llm.c's format read from them.
#[test]
fn llmc_shards_from_prepare_hold_burngpts_tokens_as_a_python_reader_of_llmc_reads_them() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(root().join("data/tinyshakespeare.txt")).expect("corpus");
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir_all(&corpus).expect("mkdir");
    for k in 0..5 {
        std::fs::write(corpus.join(format!("part{k}.txt")), &text[k * 10_000..(k + 1) * 10_000]).expect("write");
    }
    let (own, llmc) = (tmp.path().join("own"), tmp.path().join("llmc"));
    let args = |out: &Path| {
        ["prepare", "--input", s(&corpus), "--out", s(out), "--tokenizer", "bpe", "--vocab-size", "400", "--shard-tokens", "4000"]
            .map(str::to_string)
            .to_vec()
    };
    let run = |args: Vec<String>| burngpt(&args.iter().map(String::as_str).collect::<Vec<_>>());
    ok(run(args(&own)), "prepare");
    let mut llmc_args = args(&llmc);
    llmc_args.extend(["--format".to_string(), "llmc".to_string()]);
    ok(run(llmc_args.clone()), "prepare --format llmc");

    let expected = json(&fixture("prepared.json"));
    let shards = expected["shards"].as_array().expect("shards");
    let mut names: Vec<String> = std::fs::read_dir(&llmc)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "train.lock") // the lock `prepare` holds, as in every directory it writes
        .collect();
    names.sort();
    let mut want: Vec<String> = shards.iter().map(|s| s["name"].as_str().expect("name").to_string()).collect();
    want.push("tokenizer.json".to_string());
    assert_eq!(names, want, "the shards and the tokenizer, nothing else (no data.json, no working directory)");
    for shard in shards {
        let name = shard["name"].as_str().expect("name");
        let bytes = std::fs::read(llmc.join(name)).expect("shard");
        let int = |k: usize| i32::from_le_bytes(bytes[4 * k..4 * k + 4].try_into().expect("4 bytes")) as u64;
        assert_eq!((int(0), int(1), int(2)), (20240520, 1, shard["count"].as_u64().expect("count")), "{name}");
        assert!(bytes[12..LLMC_HEADER_LEN].iter().all(|&b| b == 0), "{name}: the rest of the header is zero");
        let read: Vec<u32> = bytes[LLMC_HEADER_LEN..].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect();
        assert_eq!(read.len() as u64, shard["count"].as_u64().expect("count"), "{name}");
        assert_eq!(read.iter().map(|&i| i as u64).sum::<u64>(), shard["sum"].as_u64().expect("sum"), "{name}");
        assert_eq!(fnv1a64(&read).to_string(), shard["fnv1a64"].as_str().expect("fnv"), "{name}");
        assert_eq!(read[..8], ids(&shard["first"])[..], "{name}");
        assert_eq!(read[read.len() - 8..], ids(&shard["last"])[..], "{name}");
    }
    // burngpt's own files of the same corpus: the same ids, shard by shard.
    let (a, b) = (open_prepared(&own).expect("own"), open_corpus(&llmc, None).expect("llm.c"));
    assert_eq!(a.train.to_vec().expect("ids"), b.train.to_vec().expect("ids"));
    assert_eq!(a.val.to_vec().expect("ids"), b.val.to_vec().expect("ids"));
    let lengths = |d: &burngpt::data::PreparedData| d.train.shards().iter().chain(d.val.shards()).map(|f| f.len()).collect::<Vec<_>>();
    assert_eq!(lengths(&a), lengths(&b));
    assert_eq!(lengths(&b), shards.iter().map(|s| s["count"].as_u64().expect("count") as usize).collect::<Vec<_>>());
    assert_eq!(std::fs::read(own.join("tokenizer.json")).ok(), std::fs::read(llmc.join("tokenizer.json")).ok());
    // Written again only when asked.
    assert!(error_of(run(llmc_args.clone())).contains("already holds prepared data: pass --overwrite"));
    llmc_args.push("--overwrite".to_string());
    ok(run(llmc_args), "prepare --format llmc --overwrite");
    assert_eq!(open_corpus(&llmc, None).expect("again").train.to_vec().expect("ids"), a.train.to_vec().expect("ids"));
}

/// (b): shards written by llm.c's `write_datafile` (GPT-2 u16 and Llama 3 u32 headers) read as
/// the ids it wrote, decoding to the text make_fixture.py decoded them to.
#[test]
fn shards_from_llmcs_python_writer_read_as_the_ids_it_wrote() {
    let expected = json(&fixture("written.json"));
    for (folder, dtype) in [("gpt2", TokenDtype::U16), ("llama3", TokenDtype::U32)] {
        let data = open_corpus(&fixture(folder), None).expect("opens");
        assert_eq!(data.train.dtype(), dtype);
        assert_eq!(data.meta.train_shards, ["tiny_train_000001.bin", "tiny_train_000002.bin"]);
        assert_eq!(data.meta.val_shards, ["tiny_val_000000.bin"]);
        let (train, val) = (data.train.to_vec().expect("train"), data.val.to_vec().expect("val"));
        assert_eq!(train, ids(&expected["train"]), "{folder}");
        assert_eq!(val, ids(&expected["val"]), "{folder}");
        assert_eq!(data.tokenizer.decode(&train).expect("decodes"), expected["train_text"].as_str().expect("text"));
        assert_eq!(data.tokenizer.decode(&val).expect("decodes"), expected["val_text"].as_str().expect("text"));
    }
    // The tokenizer from data.tokenizer_file, here GPT-2's two files (vocab.json + merges.txt).
    let tmp = tempfile::tempdir().expect("temp dir");
    let (shards, tokenizer) = (tmp.path().join("shards"), tmp.path().join("gpt2"));
    copy_files(&fixture("gpt2"), &shards);
    std::fs::remove_file(shards.join("tokenizer.json")).expect("remove");
    std::fs::create_dir_all(&tokenizer).expect("mkdir");
    for name in ["vocab.json", "merges.txt"] {
        std::fs::copy(root().join("tests/fixtures/hf_gpt2").join(name), tokenizer.join(name)).expect("copy");
    }
    let data = open_corpus(&shards, Some(&tokenizer)).expect("opens with data.tokenizer_file");
    assert_eq!(data.train.to_vec().expect("train"), ids(&expected["train"]));
    let err = format!("{:#}", open_corpus(&shards, None).err().expect("no tokenizer"));
    assert!(err.contains("an llm.c corpus needs its tokenizer: set data.tokenizer_file"), "{err}");
}

/// Each damage to a copy of the GPT-2 fixture, and the error that names it.
#[test]
fn damaged_llmc_shards_are_errors_naming_the_shard() {
    let expected_errors: [(&str, fn(&Path), &str); 7] = [
        ("bad magic", |d| patch(d, "tiny_train_000001.bin", 0, &[0x89]), "tiny_train_000001.bin: bad magic 20240521: not an llm.c token shard"),
        ("wrong version", |d| patch(d, "tiny_val_000000.bin", 4, &[2]), "tiny_val_000000.bin: llm.c shard version 2, but magic 20240520 goes with version 1"),
        ("truncated", |d| truncate(d, "tiny_train_000002.bin"), "tiny_train_000002.bin is truncated or corrupted: its llm.c header promises 346 u16 tokens (1716 bytes) but the file has 1715 bytes"),
        ("no val", |d| remove(d, "tiny_val_000000.bin"), "llm.c shards of the validation split are missing"),
        ("no train", |d| { remove(d, "tiny_train_000001.bin"); remove(d, "tiny_train_000002.bin") }, "llm.c shards of the training split are missing"),
        ("no tokenizer", |d| remove(d, "tokenizer.json"), "an llm.c corpus needs its tokenizer"),
        ("a burngpt file", |d| { std::fs::write(d.join("train.bin"), b"BGPT").expect("write") }, "train.bin is a burngpt token file, not an llm.c shard"),
    ];
    for (what, damage, message) in expected_errors {
        let tmp = tempfile::tempdir().expect("temp dir");
        copy_files(&fixture("gpt2"), tmp.path());
        damage(tmp.path());
        let err = format!("{:#}", open_corpus(tmp.path(), None).err().unwrap_or_else(|| panic!("{what}: opens")));
        assert!(err.contains(message), "{what}: {err}");
    }
    // An id past the vocabulary of 300: token 5 of the second training shard (its bytes at
    // 1024 + 2 * 5), found when it is read, named by shard and index.
    let tmp = tempfile::tempdir().expect("temp dir");
    copy_files(&fixture("gpt2"), tmp.path());
    patch(tmp.path(), "tiny_train_000002.bin", LLMC_HEADER_LEN + 10, &300u16.to_le_bytes());
    let data = open_corpus(tmp.path(), None).expect("headers are fine");
    let err = format!("{:#}", data.train.to_vec().err().expect("the id fails"));
    assert!(err.contains("tiny_train_000002.bin: token id 300 (token 5 of the file) is outside its vocabulary of 300"), "{err}");
}

fn patch(dir: &Path, name: &str, at: usize, bytes: &[u8]) {
    let mut data = std::fs::read(dir.join(name)).expect("read");
    data[at..at + bytes.len()].copy_from_slice(bytes);
    std::fs::write(dir.join(name), data).expect("write");
}

fn truncate(dir: &Path, name: &str) {
    let data = std::fs::read(dir.join(name)).expect("read");
    std::fs::write(dir.join(name), &data[..data.len() - 1]).expect("write");
}

fn remove(dir: &Path, name: &str) {
    std::fs::remove_file(dir.join(name)).expect("remove");
}

/// A run trains on an llm.c directory (configs/tiny.toml, data.path set to it), is scored by
/// eval, resumes, and refuses the directory once its shards were replaced.
#[test]
fn a_run_trains_on_an_llmc_directory_resumes_and_refuses_replaced_shards() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let line = "To be, or not to be, that is the question: whether 'tis nobler in the mind.\n";
    let corpus = tmp.path().join("corpus.txt");
    std::fs::write(&corpus, line.repeat(20_000 / line.len() + 1)).expect("write");
    let shards = tmp.path().join("shards");
    let prepare = ["prepare", "--input", s(&corpus), "--out", s(&shards), "--format", "llmc"];
    ok(burngpt(&[&prepare[..], &["--vocab-size", "300"]].concat()), "prepare --format llmc");
    let runs = tmp.path().join("runs");
    let stdout = ok(
        burngpt(&[
            "--config", "configs/tiny.toml",
            "--set", &format!("data.path={}", shards.display()),
            "--set", &format!("training.out_dir={}", runs.display()),
            "--set", "training.max_steps=30", "--set", "schedule.warmup_steps=5",
            "--set", "training.log_every=10", "--set", "training.eval_every=30", "--set", "training.eval_batches=2",
        ]),
        "training",
    );
    assert!(stdout.contains(&format!("Loaded llm.c token shards from {}: 1 train, 1 val", shards.display())), "{stdout}");
    let run = runs.join("tiny");
    assert_eq!(std::fs::read(run.join("tokenizer.json")).ok(), std::fs::read(shards.join("tokenizer.json")).ok());
    let trained_on = std::fs::read_to_string(run.join("trained_on.json")).expect("trained_on.json");
    assert!(trained_on.contains("\"burngpt_train_000000.bin\": \"llmc:"), "{trained_on}");
    ok(burngpt(&["eval", "--run", s(&run)]), "eval");
    ok(burngpt(&["--resume", s(&run), "--max-steps", "32"]), "resume");
    ok(burngpt(&[&prepare[..], &["--vocab-size", "280", "--overwrite"]].concat()), "prepare again");
    let err = error_of(burngpt(&["--resume", s(&run), "--max-steps", "34"]));
    assert!(err.contains("is not the llm.c corpus the run"), "{err}");
}
