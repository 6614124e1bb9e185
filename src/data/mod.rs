//! Text, tokenizers, prepared token files and batches.

mod batch;
mod char_tokenizer;
mod config;
mod prepare;
mod sampler;
mod source;
mod tokenizer;
mod tokens;

pub use batch::Batch;
pub use char_tokenizer::CharTokenizer;
pub use config::{DataConfig, TokenizerKind};
pub use prepare::{ensure_prepared, open_prepared, prepare, DataMeta, PreparedData};
pub use sampler::{Sampler, StepPlan};
pub use source::TextSource;
pub use tokenizer::{check_vocab, load_tokenizer, Tokenizer};
pub use tokens::{TokenDtype, TokenFile, TokenWriter, HEADER_LEN};
