//! Text, tokenizers, prepared token files and batches.

mod batch;
mod char_tokenizer;
mod prepare;
mod sampler;
mod source;
mod tokenizer;
mod tokens;

pub use batch::Batch;
pub use char_tokenizer::CharTokenizer;
pub use prepare::{ensure_prepared, open_prepared, prepare, DataMeta, PreparedData, META_FILE, TOKENIZER_FILE, TRAIN_FILE, VAL_FILE};
pub use sampler::{Sampler, StepPlan};
pub use source::TextSource;
pub use tokenizer::{check_vocab, Tokenizer};
pub use tokens::{TokenDtype, TokenFile, TokenWriter, HEADER_LEN};
