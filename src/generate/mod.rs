//! Text generation from a trained model: sampling filters, the decoding loop, and the
//! streaming of its text in whole UTF-8 characters.

mod decode;
mod sample;
mod stream;

pub use decode::{generate, GenerateStats};
pub use sample::{argmax, sample_next, softmax, temperature, top_k, top_p, SamplingConfig};
pub use stream::Utf8Stream;
