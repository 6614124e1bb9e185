//! Corpora as published: the same documents as .txt files, jsonl, gzip- and zstd-compressed
//! jsonl and Parquet prepare to the same files; an interrupted preparation of records continues
//! to them; a damaged or unexpected file is an error naming the file and the record.
//!
//! The fixtures (tests/fixtures/corpora/) were written by Python's json and gzip, the zstandard
//! package and pyarrow (make_fixtures.py, beside them): 40 documents, one of them empty, one of
//! 400 lines, with CRLF line ends, indents, blank lines, non-ASCII and emoji text.
//! Preparation only: the same on every backend, so not run again under wgpu.
#![cfg(not(feature = "wgpu"))]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burngpt::data::{Tokenizer, END_OF_TEXT};

use super::resume::{burngpt, fails_with, ok};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpora")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The documents, from the .txt files.
fn documents() -> Vec<String> {
    let mut names: Vec<PathBuf> =
        std::fs::read_dir(fixtures().join("txt")).expect("txt fixtures").map(|e| e.expect("entry").path()).collect();
    names.sort();
    names.iter().map(|p| std::fs::read_to_string(p).expect("read")).collect()
}

/// `prepare --input input --out out` with `settings`; its stdout.
fn prepare(input: &Path, out: &Path, settings: &[&str]) -> String {
    let mut args = vec!["prepare", "--input", s(input), "--out", s(out)];
    args.extend_from_slice(settings);
    ok(&args)
}

/// The bytes of the files that must be identical.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("prepared dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n == "tokenizer.json" || n.ends_with(".bin"))
        .collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), std::fs::read(dir.join(&n)).expect("read"))).collect()
}

/// Documents `docs` (by index into [`documents`]) as a Parquet file written by the parquet
/// crate's own writer (a second independent writer beside pyarrow), `rows_per_group` rows a
/// row group.
fn write_parquet(path: &Path, docs: &[String], rows_per_group: usize) {
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    let schema = Arc::new(parse_message_type("message doc { required binary text (STRING); }").expect("schema"));
    let props = Arc::new(WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY).build());
    let mut writer = SerializedFileWriter::new(File::create(path).expect("create"), schema, props).expect("writer");
    for group in docs.chunks(rows_per_group) {
        let mut rows = writer.next_row_group().expect("row group");
        let mut column = rows.next_column().expect("column").expect("a column");
        let values: Vec<ByteArray> = group.iter().map(|d| ByteArray::from(d.as_str())).collect();
        column.typed::<ByteArrayType>().write_batch(&values, None, None).expect("write");
        column.close().expect("close column");
        rows.close().expect("close row group");
    }
    writer.close().expect("close");
}

/// A directory mixing the formats, in name order: documents 0-24 in a zstd jsonl (pyarrow's
/// fixture), 25-29 as .txt files, 30-39 in a Parquet file of the parquet crate's writer, 3 rows
/// a row group.
fn mixed(dir: &Path) -> PathBuf {
    let mixed = dir.join("mixed");
    std::fs::create_dir_all(&mixed).expect("mixed dir");
    std::fs::copy(fixtures().join("zst/part0.jsonl.zst"), mixed.join("a.jsonl.zst")).expect("copy");
    for i in 25..30 {
        std::fs::copy(fixtures().join(format!("txt/doc{i:03}.txt")), mixed.join(format!("b{i:03}.txt"))).expect("copy");
    }
    write_parquet(&mixed.join("c.parquet"), &documents()[30..], 3);
    mixed
}

/// The same 40 documents as .txt files, one .jsonl, a two-member .jsonl.gz, two .jsonl.zst,
/// two Parquet files of 4-row row groups, and a directory mixing them prepare to byte-identical
/// tokenizer.json, train.bin and val.bin, with BPE and with char; the BPE tokens decode to the
/// documents joined by `<|endoftext|>` (the empty document adds none).
#[test]
fn the_same_documents_in_every_format_prepare_to_identical_files() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mixed = mixed(tmp.path());
    let inputs = ["txt", "jsonl", "gz", "zst", "parquet"].map(|d| fixtures().join(d));
    let settings: [&[&str]; 2] = [&["--tokenizer", "bpe", "--vocab-size", "300"], &["--tokenizer", "char"]];
    for (k, settings) in settings.iter().enumerate() {
        let out = |name: &str| tmp.path().join(format!("{name}-{k}"));
        let reference = out("txt");
        prepare(&inputs[0], &reference, settings);
        let expected = outputs(&reference);
        assert!(expected.len() == 3, "{:?}", expected.iter().map(|e| &e.0).collect::<Vec<_>>());
        for input in inputs[1..].iter().chain([&mixed]) {
            let name = input.file_name().expect("name").to_string_lossy().into_owned();
            prepare(input, &out(&name), settings);
            let got = outputs(&out(&name));
            assert_eq!(got.iter().map(|g| &g.0).collect::<Vec<_>>(), expected.iter().map(|e| &e.0).collect::<Vec<_>>());
            for ((file, a), (_, b)) in got.iter().zip(&expected) {
                assert!(a == b, "{file} prepared from {name} differs from the one prepared from .txt files ({settings:?})");
            }
        }
        if k == 0 {
            let tokenizer = Tokenizer::load(&reference.join("tokenizer.json")).expect("tokenizer");
            let data = burngpt::data::open_prepared(&reference).expect("open");
            let ids: Vec<u32> = [data.train.to_vec().expect("train"), data.val.to_vec().expect("val")].concat();
            let docs: Vec<String> = documents().into_iter().filter(|d| !d.is_empty()).collect();
            assert_eq!(tokenizer.decode(&ids).expect("decode"), docs.join(END_OF_TEXT));
        }
    }
}

/// A preparation stopped by an error after five finished training shards (a directory where
/// the sixth shard's file goes makes its rename fail) continues, once the obstacle is gone,
/// from the position recorded after the fifth (a record inside a gzip-compressed jsonl; a row
/// inside a later row group of Parquet), to the files of an uninterrupted preparation.
#[test]
fn an_interrupted_preparation_of_records_continues_to_the_same_files() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let settings = ["--tokenizer", "bpe", "--vocab-size", "300", "--shard-tokens", "400"];
    for input in ["gz", "parquet"] {
        let (whole, stopped) = (tmp.path().join(format!("{input}-whole")), tmp.path().join(format!("{input}-stopped")));
        prepare(&fixtures().join(input), &whole, &settings);
        let expected = outputs(&whole);
        assert!(expected.iter().any(|(n, _)| n == "train.8.bin"), "too few shards to stop in the middle");

        let obstacle = stopped.join("train.5.bin");
        std::fs::create_dir_all(obstacle.join("x")).expect("obstacle");
        let source = fixtures().join(input);
        let mut args = vec!["prepare", "--input", s(&source), "--out", s(&stopped)];
        args.extend_from_slice(&settings);
        let out = burngpt(&args);
        assert!(!out.status.success(), "prepare went past the obstacle");
        assert!(stopped.join("prepare.json").is_file() && stopped.join("train.4.bin").is_file());
        std::fs::remove_dir_all(&obstacle).expect("remove obstacle");

        let stdout = prepare(&fixtures().join(input), &stopped, &settings);
        assert!(stdout.contains("after its 5 finished shards"), "{input}: did not continue: {stdout}");
        let got = outputs(&stopped);
        assert_eq!(got.iter().map(|g| &g.0).collect::<Vec<_>>(), expected.iter().map(|e| &e.0).collect::<Vec<_>>());
        for ((file, a), (_, b)) in got.iter().zip(&expected) {
            assert!(a == b, "{input}: {file} differs after continuing");
        }
    }
}

/// `prepare --input file` fails, naming the file, the place in it and the fault.
fn fails_on(file: &Path, extra: &[&str], needles: &[&str]) {
    let out = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["prepare", "--input", s(file), "--out", s(out.path()), "--tokenizer", "char"];
    args.extend_from_slice(extra);
    fails_with(&args, needles);
}

/// A record without the field, a non-string value and a line that is not JSON, in plain jsonl.
#[test]
fn a_bad_jsonl_record_is_named_by_file_and_line() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cases = [
        ("missing.jsonl", "{\"text\": \"a\"}\n{\"body\": \"b\"}\n", "missing.jsonl: line 2: no \"text\" field"),
        ("number.jsonl", "{\"text\": \"a\"}\n\n{\"text\": 5}\n", "number.jsonl: line 3: \"text\" is a number, not a string"),
        ("broken.jsonl", "{\"text\": \"a\"\n", "broken.jsonl: line 1: not a valid JSON object"),
    ];
    for (name, content, needle) in cases {
        let path = tmp.path().join(name);
        std::fs::write(&path, content).expect("write");
        fails_on(&path, &[], &[needle]);
    }
    // Another field name is taken from --text-field, and named when missing.
    let path = tmp.path().join("content.jsonl");
    std::fs::write(&path, "{\"content\": \"ab\"}\n{\"content\": \"cd\"}\n").expect("write");
    fails_on(&path, &[], &["content.jsonl: line 1: no \"text\" field"]);
    fails_on(&path, &["--text-field", "body"], &["content.jsonl: line 1: no \"body\" field"]);
    fails_on(&path, &["--text-field", ""], &["data.text_field must name"]);
}

/// A truncated gzip stream and a damaged zstd stream are named, with the line reached.
#[test]
fn a_damaged_compressed_stream_is_named() {
    let bad = fixtures().join("bad");
    fails_on(&bad.join("truncated.jsonl.gz"), &[], &["truncated.jsonl.gz: line ", "damaged or truncated gzip stream"]);
    fails_on(&bad.join("damaged.jsonl.zst"), &[], &["damaged.jsonl.zst: line ", "damaged or truncated zstd stream"]);
}

/// A missing column, a column of numbers, a null, a truncated file and a damaged row group.
#[test]
fn a_bad_parquet_file_is_named_with_its_row_group() {
    let bad = fixtures().join("bad");
    fails_on(&bad.join("no_text.parquet"), &[], &["no_text.parquet: no column \"text\"", "its columns: content"]);
    fails_on(&bad.join("int_text.parquet"), &[], &["int_text.parquet: column \"text\" holds", "not strings"]);
    fails_on(&bad.join("null_text.parquet"), &[], &["null_text.parquet: row group 0, row 1: \"text\" is null"]);
    fails_on(&bad.join("truncated.parquet"), &[], &["truncated.parquet: not a readable Parquet file"]);
    fails_on(&bad.join("damaged_group.parquet"), &[], &["damaged_group.parquet: row group 1: cannot read column \"text\""]);
}

/// A directory without a corpus file names the formats it looks for.
#[test]
fn a_directory_without_corpus_files_names_the_formats() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("empty");
    std::fs::create_dir_all(&dir).expect("dir");
    let needles = ["has no corpus file", ".txt, .jsonl, .jsonl.gz, .jsonl.zst, .parquet"];
    fails_on(&dir, &[], &needles);
    std::fs::write(dir.join("notes.md"), "not a corpus").expect("write");
    fails_on(&dir, &[], &needles);
}
