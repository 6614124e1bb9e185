//! Text, tokenizers, prepared token files and batches.

mod batch;
mod bpe_sample;
mod bpe_vocab;
mod char_tokenizer;
mod config;
mod encode;
mod meta;
mod prepare;
mod prepare_state;
mod progress;
mod sampler;
mod shards;
mod source;
mod token_bytes;
mod tokenizer;
mod tokens;
mod trained_on;

pub use batch::Batch;
pub use char_tokenizer::CharTokenizer;
pub use config::{DataConfig, TokenizerKind};
pub(crate) use prepare::ensure_prepared;
pub use meta::DataMeta;
pub use prepare::{data_dir, open_prepared, prepare, PreparedData};
pub use sampler::{Sampler, StepPlan};
pub use source::TextSource;
pub use token_bytes::{token_bytes, ByteLoss};
pub use tokenizer::{load_tokenizer, Tokenizer};
pub use bpe_sample::END_OF_TEXT;
pub use bpe_vocab::{bpe_trainer_bytes, check_bpe_vocab};
pub use prepare_state::STATE_FILE as PREPARE_STATE_FILE;
pub use progress::Progress;
pub use shards::{shard_name, TokenStream};
pub use trained_on::{check_run_tokenizer, open_run_data, run_data_dir, TrainedOn};
pub use tokens::{TokenDtype, TokenFile, TokenWriter, HEADER_LEN};
