//! What training reads: the `[data]` config, tokenizers, prepared token files and their shards,
//! opening a prepared directory (burngpt's, or llm.c's shards) and checking it is the run's, the
//! sampler and batches, bits per byte. [`prepare`] apart: the offline passes that make a prepared
//! directory from text (scan, tokenizer training, encode, resume state, progress), which nothing
//! here uses.
//!
//! Each file is on the side of its users: `meta.rs` (`data.json`), `llmc_corpus.rs` and
//! `llmc_header.rs` (llm.c's shards, read in place) and `open.rs` are read when training opens its
//! data, so they are here, and preparation uses them; `Tokenizer::train` stays with the
//! tokenizer it builds.

mod batch;
mod char_tokenizer;
mod config;
mod llmc_corpus;
mod llmc_header;
mod meta;
mod open;
pub mod prepare;
mod prepared;
mod sampler;
mod shards;
mod token_bytes;
mod token_dtype;
mod tokenizer;
mod tokens;
mod trained_on;

pub use batch::Batch;
pub use config::{DataConfig, TokenizerKind};
pub use llmc_header::LLMC_HEADER_LEN;
pub use meta::DataMeta;
pub use open::{data_dir, is_prepared_dir, open_corpus, open_prepared};
pub use prepared::PreparedData;
pub use sampler::{Sampler, StepPlan};
pub use shards::TokenStream;
pub use token_bytes::{token_bytes, ByteLoss};
pub use token_dtype::TokenDtype;
pub use tokenizer::{load_tokenizer, Tokenizer, END_OF_TEXT};
pub use tokens::{ShardFormat, TokenFile, HEADER_LEN};
pub use trained_on::{check_run_tokenizer, open_run_data, run_data_dir, TrainedOn};
