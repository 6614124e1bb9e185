//! Text, tokenizers and batches.

mod batch;
mod corpus;
mod tokenizer;

pub use batch::{sample_batch, Batch};
pub use corpus::Corpus;
pub use tokenizer::CharTokenizer;
