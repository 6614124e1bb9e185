//! Text generation from a trained model: sampling filters and the decoding loop.

mod decode;
mod sample;

pub use decode::{generate, GenerateStats};
pub use sample::{argmax, sample_next, softmax, temperature, top_k, top_p, SamplingConfig};
