//! Tokenizers, corpus preparation and token files.
//!
//! Not on the wgpu build (as corpora.rs): tokenizing and token files are host-side code, the same on
//! every backend.
#![cfg(not(feature = "wgpu"))]

use std::path::{Path, PathBuf};

use burngpt::data::{DataConfig, TokenizerKind};
use burngpt::data::prepare::{prepare, TokenWriter};
use burngpt::data::{open_prepared, Sampler, TokenDtype, TokenFile, Tokenizer, HEADER_LEN};
use burngpt::host_memory::MemoryCheck;
use burngpt::run_dir::{TOKENIZER_FILE, TRAIN_FILE};

fn corpus_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/tinyshakespeare.txt")
}

fn data(path: &Path, tokenizer: TokenizerKind, vocab_size: Option<usize>) -> DataConfig {
    DataConfig { vocab_size, ..burngpt::data::DataConfig::new(path, tokenizer) }
}

#[test]
fn char_tokenizer_round_trips_the_corpus() {
    let text = std::fs::read_to_string(corpus_path()).expect("corpus");
    let mut chars: Vec<char> = text.chars().collect();
    chars.sort_unstable();
    chars.dedup();
    let tok = Tokenizer::train(TokenizerKind::Char, 0, chars, std::iter::empty()).expect("char tokenizer");
    assert_eq!(tok.vocab_size(), 65);
    let ids = tok.encode(&text).expect("encodes");
    assert_eq!(ids.len(), 1_115_394);
    assert_eq!(tok.decode(&ids).expect("decodes"), text);
}

#[test]
fn bpe_tokenizer_round_trips_the_corpus_and_reloads() {
    let text = std::fs::read_to_string(corpus_path()).expect("corpus");
    let train = text[..1_003_854].to_string(); // ASCII corpus: bytes = chars
    let tok = Tokenizer::train(TokenizerKind::Bpe, 2000, Vec::new(), std::iter::once(train)).expect("BPE trains");
    assert_eq!(tok.vocab_size(), 2000);
    let ids = tok.encode(&text).expect("encodes");
    // Merges compress: far fewer tokens than characters.
    assert!(ids.len() < text.len() / 2, "{} tokens", ids.len());
    assert_eq!(tok.decode(&ids).expect("decodes"), text);
    // Text the corpus never had still round-trips (byte-level fallback).
    let odd = "naïve café — 東京 🚀\n\ttabs";
    assert_eq!(tok.decode(&tok.encode(odd).expect("encodes")).expect("decodes"), odd);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tokenizer.json");
    tok.save(&path).expect("saves");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    assert_eq!(json["model"]["type"], "BPE", "a standard Hugging Face tokenizer.json");
    let back = Tokenizer::load(&path).expect("loads");
    assert_eq!(back.encode(&text[..5000]).expect("encodes"), ids[..back.encode(&text[..5000]).expect("e").len()].to_vec());
}

#[test]
fn unknown_character_is_named() {
    let tok = Tokenizer::train(TokenizerKind::Char, 0, vec!['a', 'b', 'c'], std::iter::empty()).expect("char");
    let err = tok.encode("abz").expect_err("z is unknown").to_string();
    assert!(err.contains("'z'") && err.contains("position 2"), "{err}");
}

#[test]
fn prepare_splits_90_10_by_characters_and_writes_u16() {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = prepare(&data(&corpus_path(), TokenizerKind::Char, None), dir.path(), &MemoryCheck::off(), &mut |_| {}).expect("prepares");
    // docs/numeric-reference.md: 1,115,394 characters -> 1,003,854 train and 111,540 val.
    assert_eq!((meta.chars, meta.train_chars, meta.val_chars), (1_115_394, 1_003_854, 111_540));
    assert_eq!((meta.train_tokens, meta.val_tokens), (1_003_854, 111_540));
    assert_eq!(meta.dtype, "u16");
    let prepared = open_prepared(dir.path()).expect("opens");
    assert_eq!(prepared.train.dtype(), TokenDtype::U16);
    let text = std::fs::read_to_string(corpus_path()).expect("corpus");
    let decoded = prepared.tokenizer.decode(&prepared.train.to_vec().expect("reads")).expect("decodes")
        + &prepared.tokenizer.decode(&prepared.val.to_vec().expect("reads")).expect("decodes");
    assert_eq!(decoded, text, "train.bin + val.bin decode to the corpus");
}

#[test]
fn prepare_reads_a_directory_of_txt_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    std::fs::create_dir(&src).expect("mkdir");
    std::fs::write(src.join("b.txt"), "second file\n").expect("write");
    std::fs::write(src.join("a.txt"), "first file\n").expect("write");
    std::fs::write(src.join("skip.md"), "not text\n").expect("write");
    let out = dir.path().join("out");
    let meta = prepare(&data(&src, TokenizerKind::Char, None), &out, &MemoryCheck::off(), &mut |_| {}).expect("prepares");
    assert_eq!(meta.chars, 23);
    let p = open_prepared(&out).expect("opens");
    let all = [p.train.to_vec().expect("train"), p.val.to_vec().expect("val")].concat();
    assert_eq!(p.tokenizer.decode(&all).expect("decodes"), "first file\nsecond file\n");
}

#[test]
fn token_dtype_follows_the_vocabulary_size() {
    assert_eq!(TokenDtype::for_vocab(2000), TokenDtype::U16);
    assert_eq!(TokenDtype::for_vocab(65_536), TokenDtype::U16); // ids 0..=65535 fit
    assert_eq!(TokenDtype::for_vocab(65_537), TokenDtype::U32);
    let dir = tempfile::tempdir().expect("tempdir");
    for (vocab, width) in [(2000usize, 2usize), (70_000, 4)] {
        let path = dir.path().join(format!("t{vocab}.bin"));
        let mut w = TokenWriter::create(&path, vocab).expect("create");
        w.push(&[vocab as u32 - 1, 0, 7]).expect("push");
        assert_eq!(w.finish().expect("finish"), 3);
        assert_eq!(std::fs::metadata(&path).expect("stat").len() as usize, HEADER_LEN + 3 * width);
        assert_eq!(TokenFile::open(&path).expect("open").to_vec().expect("read"), vec![vocab as u32 - 1, 0, 7]);
    }
}

#[test]
fn corrupted_or_truncated_token_files_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("train.bin");
    let mut w = TokenWriter::create(&path, 100).expect("create");
    w.push(&(0..50).collect::<Vec<u32>>()).expect("push");
    w.finish().expect("finish");
    let bytes = std::fs::read(&path).expect("read");

    std::fs::write(&path, &bytes[..bytes.len() - 3]).expect("truncate");
    let err = format!("{:#}", TokenFile::open(&path).err().expect("truncated file fails"));
    assert!(err.contains("truncated") && err.contains("train.bin"), "{err}");

    let mut bad = bytes.clone();
    bad[0..4].copy_from_slice(b"XXXX");
    std::fs::write(&path, &bad).expect("write");
    let err = format!("{:#}", TokenFile::open(&path).err().expect("bad magic fails"));
    assert!(err.contains("not a burngpt token file"), "{err}");

    let mut bad = bytes.clone();
    bad[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&500u16.to_le_bytes()); // id 500 >= vocab 100
    std::fs::write(&path, &bad).expect("write");
    let file = TokenFile::open(&path).expect("header is fine");
    let err = format!("{:#}", file.to_vec().err().expect("out-of-vocabulary id fails"));
    assert!(err.contains("token id 500") && err.contains("corrupted"), "{err}");
}

#[test]
fn tokenizer_and_data_vocabulary_mismatch_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("t.txt");
    std::fs::write(&text, "hello world, hello burn\n".repeat(20)).expect("write");
    let out = dir.path().join("prepared");
    prepare(&data(&text, TokenizerKind::Char, None), &out, &MemoryCheck::off(), &mut |_| {}).expect("prepares");
    // Replace the tokenizer with one of another size.
    let other = Tokenizer::train(TokenizerKind::Char, 0, "abc".chars().collect(), std::iter::empty()).expect("char");
    other.save(&out.join(TOKENIZER_FILE)).expect("save");
    let err = format!("{:#}", open_prepared(&out).err().expect("checksum fails"));
    assert!(err.contains("tokenizer.json is damaged"), "{err}");
    // Data prepared before checksums were recorded: the vocabulary check still catches it.
    let meta_path = out.join("data.json");
    let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta_path).expect("read")).expect("json");
    meta.as_object_mut().expect("object").remove("files");
    std::fs::write(&meta_path, meta.to_string()).expect("write");
    let err = format!("{:#}", open_prepared(&out).err().expect("mismatch fails"));
    assert!(err.contains("vocabulary mismatch") && err.contains(TRAIN_FILE), "{err}");
}

#[test]
fn empty_and_too_short_corpora_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").expect("write");
    let err = format!("{:#}", prepare(&data(&empty, TokenizerKind::Char, None), &dir.path().join("e"), &MemoryCheck::off(), &mut |_| {}).err().expect("fails"));
    assert!(err.contains("holds no text"), "{err}");
    // 20 tokens cannot fill one window of block_size 32 + 1.
    let err = format!("{:#}", Sampler::new(None, Some(10), 20, 33, 4).err().expect("fails"));
    assert!(err.contains("fewer than one window"), "{err}");
    // Enough for a window but not for one step of 4 windows in epoch mode.
    let err = format!("{:#}", Sampler::new(Some(1), None, 40, 33, 4).err().expect("fails"));
    assert!(err.contains("only 1 windows"), "{err}");
}

#[test]
fn epochs_visit_every_window_once_in_a_seeded_order() {
    let sampler = Sampler::new(Some(2), None, 10 * 9 + 5, 9, 3).expect("sampler");
    assert_eq!(sampler.total_steps(3), 2 * 3); // 10 windows / 3 per step = 3 steps (1 dropped)
    let mut order = None;
    let epoch1: Vec<usize> = (1..=3).flat_map(|s| sampler.plan(s, 3, 9, 42, &mut order).starts).collect();
    let mut sorted = epoch1.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 9, "no window twice in an epoch");
    assert!(sorted.iter().all(|s| s % 9 == 0 && *s <= 81), "non-overlapping windows");
    let epoch2: Vec<usize> = (4..=6).flat_map(|s| sampler.plan(s, 3, 9, 42, &mut order).starts).collect();
    assert_ne!(epoch1, epoch2, "each epoch has its own order");
    let again: Vec<usize> = (1..=3).flat_map(|s| sampler.plan(s, 3, 9, 42, &mut None).starts).collect();
    assert_eq!(epoch1, again, "same seed, same order");
}

/// A link planted at the temporary token file's name, to /dev/full (which fails every write with
/// ENOSPC), is replaced by a file of the writer's own: before issue 26 it was written through, and
/// this test used it to fake a full disk (now faked with RLIMIT_FSIZE in `hostile`).
#[cfg(target_os = "linux")]
#[test]
fn a_link_planted_at_the_temporary_token_file_is_replaced_not_written_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink("/dev/full", dir.path().join("train.bin.tmp")).expect("symlink");
    let mut writer = TokenWriter::create(&dir.path().join("train.bin"), 100).expect("create");
    for _ in 0..100 {
        writer.push(&[7; 10_000]).expect("written to a file of its own");
    }
    assert_eq!(writer.finish().expect("finish"), 1_000_000);
    let file = TokenFile::open(&dir.path().join("train.bin")).expect("open");
    assert_eq!((file.len(), file.to_vec().expect("read")[999_999]), (1_000_000, 7));
}
