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
pub(crate) use prepare::ensure_prepared;
pub use prepare::{data_dir, open_prepared, prepare, DataMeta, PreparedData};
pub use sampler::{Sampler, StepPlan};
pub use source::TextSource;
pub use tokenizer::{load_tokenizer, Tokenizer};
pub use tokens::{TokenDtype, TokenFile, TokenWriter, HEADER_LEN};
