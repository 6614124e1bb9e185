//! Char tokenizer and corpus split.

use std::path::Path;

use burngpt::data::{CharTokenizer, Corpus};

#[test]
fn char_tokenizer_round_trips_the_corpus() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/tinyshakespeare.txt");
    let text = std::fs::read_to_string(&path).expect("corpus");
    let tok = CharTokenizer::from_text(&text);
    assert_eq!(tok.vocab_size(), 65);
    let ids = tok.encode(&text).expect("encodes");
    assert_eq!(ids.len(), 1_115_394);
    assert_eq!(tok.decode(&ids), text);
}

#[test]
fn unknown_character_is_named() {
    let tok = CharTokenizer::from_text("abc");
    let err = tok.encode("abz").expect_err("z is unknown").to_string();
    assert!(err.contains("'z'") && err.contains("position 2"), "{err}");
}

#[test]
fn split_is_90_10_by_characters() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/tinyshakespeare.txt");
    let corpus = Corpus::load(&path, 0.9).expect("loads");
    // numeric-reference.md: 1,115,394 characters -> 1,003,854 train and 111,540 val.
    assert_eq!((corpus.chars, corpus.train_chars, corpus.val_chars), (1_115_394, 1_003_854, 111_540));
    assert_eq!((corpus.train.len(), corpus.val.len()), (1_003_854, 111_540));
}
