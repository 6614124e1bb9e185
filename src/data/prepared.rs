//! [`PreparedData`]: a prepared corpus opened for training, whichever layout it has.

use super::meta::DataMeta;
use super::shards::TokenStream;
use super::tokenizer::Tokenizer;
use super::tokens::ShardFormat;

/// A prepared corpus, opened for training.
pub struct PreparedData {
    /// What it holds.
    pub meta: DataMeta,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Training tokens (memory-mapped shards).
    pub train: TokenStream,
    /// Validation tokens (memory-mapped shards).
    pub val: TokenStream,
    /// burngpt's own directory (`data.json`) or llm.c shards read in place.
    pub format: ShardFormat,
    /// The `tokenizer.json` a run saves as its own; its checksum is the one in `meta.files`.
    pub tokenizer_json: Vec<u8>,
}
