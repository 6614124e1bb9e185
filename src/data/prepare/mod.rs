//! Offline preparation: a text corpus (`.txt`, `.jsonl`, `.parquet`; [`formats`]) into a prepared
//! directory that training opens ([`super::open_corpus`]): pass 1 scans it ([`scan`]), pass 2
//! trains the tokenizer ([`bpe_sample`], [`bpe_vocab`]), pass 3 encodes it into token shards
//! ([`encode`], [`shard_writer`], [`token_writer`]), resumable after an interruption ([`state`]),
//! with a progress line ([`progress`]); [`text`] runs the passes. [`llmc`] writes llm.c's shard
//! format instead.

mod bpe_sample;
mod bpe_vocab;
mod chunks;
mod encode;
mod formats;
mod llmc;
mod progress;
mod scan;
mod shard_writer;
mod source;
mod state;
mod text;
mod token_writer;

pub(crate) use text::ensure_prepared;
pub use llmc::{prepare_llmc, WORK_DIR as LLMC_WORK_DIR};
pub use progress::Progress;
pub use state::STATE_FILE;
pub use text::prepare;
pub use token_writer::TokenWriter;
