//! A prepared corpus's files damaged: `data.json`, the token files, and the `prepare.json` of an
//! unfinished preparation.

use std::path::Path;

use burngpt::data::prepare::{prepare, STATE_FILE as PREPARE_STATE_FILE};
use burngpt::data::{open_prepared, TokenFile, TokenStream, HEADER_LEN};
use burngpt::run_dir::{META_FILE, TRAIN_FILE, VAL_FILE};

use super::fixture::{copy_dir, fixture, run_copy};
use super::mutate::check;

#[test]
fn a_damaged_data_json_is_an_error_naming_it() {
    let (_tmp, run) = run_copy();
    let path = run.join(META_FILE);
    let original = std::fs::read(&path).expect("data.json");
    let intact = open_prepared(&run).expect("the original opens");
    let (train, val) = (intact.train.len(), intact.val.len());
    let tally = check(&path, &original, 256, || open_prepared(&run), |data, _| {
        let lengths = (data.train.len(), data.val.len());
        (lengths == (train, val)).then_some(()).ok_or(format!("{lengths:?} tokens"))
    });
    assert!(tally.errors > tally.cases / 2, "{tally:?}");
}

/// A token file that opens holds the tokens its size says, every one inside its vocabulary.
fn damaged_token_file(dir: &Path, name: &str) {
    let path = dir.join(name);
    let original = std::fs::read(&path).expect("token file");
    let tally = check(&path, &original, 256, || TokenFile::open(&path).and_then(|f| Ok((f.to_vec()?, f.dtype()))), |(ids, dtype), bytes| {
        let expected = (bytes.len() - HEADER_LEN) / dtype.bytes();
        (ids.len() == expected).then_some(()).ok_or(format!("{} tokens in {} bytes", ids.len(), bytes.len()))
    });
    assert!(tally.errors > tally.cases / 4, "{tally:?}");
    let names = [TRAIN_FILE.to_string(), VAL_FILE.to_string()];
    let tally = check(&path, &original, 64, || TokenStream::open(dir, &names).and_then(|s| s.to_vec()), |_, _| Ok(()));
    assert!(tally.errors > tally.cases / 4, "{tally:?}");
}

#[test]
fn a_damaged_token_file_is_an_error_naming_it() {
    let (_tmp, run) = run_copy();
    damaged_token_file(&run, TRAIN_FILE);
    damaged_token_file(&run, VAL_FILE);
}

/// `prepare` continues from a damaged `prepare.json` only where it can: whatever the damage, it
/// ends with the files a preparation from scratch writes (or an error naming the file).
#[test]
fn prepare_after_a_damaged_prepare_json_writes_the_same_files() {
    let f = fixture();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("prepared");
    copy_dir(&f.prepared, &dir);
    let files = [META_FILE, TRAIN_FILE, VAL_FILE, "tokenizer.json"];
    let expected: Vec<Vec<u8>> = files.iter().map(|n| std::fs::read(f.prepared.join(n)).expect("file")).collect();
    let path = dir.join(PREPARE_STATE_FILE);
    let prepare_again = || {
        // The directory as the interruption left it, with the damaged prepare.json.
        for (name, bytes) in files.iter().zip(&expected) {
            std::fs::write(dir.join(name), bytes).expect("restore");
        }
        prepare(&f.data, &dir, &burngpt::host_memory::MemoryCheck::off(), &mut |_: &str| {})
    };
    let tally = check(&path, &f.prepare_state, 48, prepare_again, |_, _| {
        for (name, want) in files.iter().zip(&expected) {
            if &std::fs::read(dir.join(name)).map_err(|e| e.to_string())? != want {
                return Err(format!("{name} differs from a preparation from scratch"));
            }
        }
        Ok(())
    });
    assert_eq!(tally.loaded, tally.cases, "{tally:?}");
}

/// A shard name damaged in `data.json` (`train.bin` -> `trin.bin`; the checksums, keyed by the
/// files' names, still pass): the error names data.json besides the missing file.
#[test]
fn a_damaged_shard_name_in_data_json_is_an_error_naming_it() {
    let (_tmp, run) = run_copy();
    let path = run.join(META_FILE);
    let text = std::fs::read_to_string(&path).expect("data.json");
    let damaged = text.replacen("\"train_shards\": [\n    \"train.bin\"", "\"train_shards\": [\n    \"trin.bin\"", 1);
    assert_ne!(damaged, text, "{text}");
    std::fs::write(&path, damaged).expect("write");
    let err = format!("{:#}", open_prepared(&run).err().expect("a missing shard fails"));
    assert!(err.starts_with(&format!("the training split listed in {}: cannot open token file", path.display())), "{err}");
    assert!(err.contains("trin.bin"), "{err}");
}
