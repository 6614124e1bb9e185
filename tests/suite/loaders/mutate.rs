//! Damage done to a valid file (truncation, flipped bytes, junk, edits) and the property every
//! loader must keep under it: an error that names the file, or a valid value; never a panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// One way of damaging a file.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Cut at a random length.
    Truncate(Index),
    /// XOR bytes anywhere with non-zero masks.
    Flip(Vec<(Index, u8)>),
    /// XOR bytes of the first 64 (headers, length prefixes, the first keys).
    FlipHead(Vec<(u8, u8)>),
    /// Replace the whole file.
    Junk(Vec<u8>),
    /// Delete 1 to 8 bytes.
    Delete(Index, usize),
    /// Insert bytes (for text formats mostly the characters that make up JSON and TOML).
    Insert(Index, Vec<u8>),
    /// XOR a byte just after a word (a run of 4 or more lowercase letters or `_`): after a key,
    /// where a value, a length prefix or a tensor's shape starts.
    FlipAfterWord(Index, usize, u8),
}

/// Positions just after each word of `bytes` (see [`Mutation::FlipAfterWord`]).
fn word_ends(bytes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_lowercase() || b == b'_' {
            run += 1;
        } else {
            if run >= 4 {
                ends.push(i);
            }
            run = 0;
        }
    }
    ends
}

/// Characters that keep text formats close to valid, so that edits reach past the parser.
const SYNTAX: &[u8] = b"0123456789-+.eE{}[]\":,= \n\ttrufalsn\\xu";

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![any::<u8>(), select(SYNTAX)]
}

/// Any [`Mutation`].
pub fn mutation() -> impl Strategy<Value = Mutation> {
    let mask = 1u8..=255;
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        prop::collection::vec((any::<Index>(), mask.clone()), 1..4).prop_map(Mutation::Flip),
        prop::collection::vec((0u8..64, mask), 1..3).prop_map(Mutation::FlipHead),
        prop::collection::vec(byte(), 0..64).prop_map(Mutation::Junk),
        (any::<Index>(), 1usize..9).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<Index>(), prop::collection::vec(byte(), 1..4)).prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<Index>(), 0usize..6, 1u8..=255).prop_map(|(at, d, mask)| Mutation::FlipAfterWord(at, d, mask)),
    ]
}

impl Mutation {
    /// `original` damaged.
    pub fn apply(&self, original: &[u8]) -> Vec<u8> {
        let mut bytes = original.to_vec();
        match self {
            Self::Truncate(i) => bytes.truncate(i.index(original.len().max(1))),
            Self::Flip(flips) => {
                for (i, mask) in flips {
                    if !bytes.is_empty() {
                        let k = i.index(bytes.len());
                        bytes[k] ^= mask;
                    }
                }
            }
            Self::FlipHead(flips) => {
                for &(k, mask) in flips {
                    if let Some(b) = bytes.get_mut(k as usize) {
                        *b ^= mask;
                    }
                }
            }
            Self::Junk(junk) => bytes = junk.clone(),
            Self::Delete(i, n) => {
                let start = i.index(bytes.len() + 1).min(bytes.len());
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Self::Insert(i, more) => {
                let k = i.index(bytes.len() + 1).min(bytes.len());
                bytes.splice(k..k, more.iter().copied());
            }
            Self::FlipAfterWord(i, distance, mask) => {
                let ends = word_ends(&bytes);
                if !ends.is_empty() {
                    if let Some(b) = bytes.get_mut(ends[i.index(ends.len())] + distance) {
                        *b ^= mask;
                    }
                }
            }
        }
        bytes
    }
}

/// What [`check`] saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Cases run (with those run while shrinking a failure).
    pub cases: usize,
    /// Cases the loader rejected, with an error naming the file.
    pub errors: usize,
    /// Cases whose damage left a file the loader accepted.
    pub loaded: usize,
    /// The errors' messages.
    pub messages: Vec<String>,
}

/// Runs `cases` random mutations of `original`, each written to `path` and loaded by `load`:
/// an error must name `path`'s file name, a loaded value must pass `valid`, and neither may
/// panic. The runner's seed is fixed, so every run tries the same cases.
pub fn check<T>(
    path: &Path,
    original: &[u8],
    cases: u32,
    load: impl Fn() -> anyhow::Result<T>,
    valid: impl Fn(T, &[u8]) -> Result<(), String>,
) -> Tally {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (ran, errors, loaded) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let messages = Mutex::new(Vec::new());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let result = runner.run(&mutation(), |m| {
        ran.fetch_add(1, Ordering::Relaxed);
        let bytes = m.apply(original);
        std::fs::write(path, &bytes).map_err(|e| TestCaseError::fail(format!("cannot write {}: {e}", path.display())))?;
        let outcome = catch_unwind(AssertUnwindSafe(|| load().map(|value| valid(value, &bytes))))
            .map_err(|panic| TestCaseError::fail(format!("the loader of {name} panicked: {}", panic_message(&panic))))?;
        match outcome {
            Err(err) => {
                let message = format!("{err:#}");
                prop_assert!(message.contains(&name), "the error does not name {name}: {message}");
                errors.fetch_add(1, Ordering::Relaxed);
                messages.lock().map_err(|_| TestCaseError::fail("a poisoned lock"))?.push(message);
            }
            Ok(Err(why)) => return Err(TestCaseError::fail(format!("{name} loaded but {why}"))),
            Ok(Ok(())) => {
                loaded.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    });
    std::fs::write(path, original).expect("restore the original");
    if let Err(failure) = result {
        panic!("{}: {failure}", path.display());
    }
    let messages = messages.into_inner().expect("no panic while the lock was held");
    let tally = Tally { cases: ran.into_inner(), errors: errors.into_inner(), loaded: loaded.into_inner(), messages };
    eprintln!("{name}: {} cases, {} errors naming it, {} still valid", tally.cases, tally.errors, tally.loaded);
    assert_eq!(tally.cases, cases as usize, "{name}: every case ran once (no shrinking: nothing failed)");
    assert_eq!(tally.errors + tally.loaded, tally.cases);
    tally
}

/// The message of a caught panic.
pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "(not a string)".to_string(),
    }
}
