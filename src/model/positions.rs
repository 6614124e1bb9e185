//! Parameter-free sinusoidal position encodings (Vaswani et al. 2017).

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// How token positions enter the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PositionKind {
    /// A learned `wpe` embedding of `block_size` rows (GPT-2).
    Learned,
    /// Fixed sine/cosine encodings: no parameters.
    Sinusoidal,
    /// Rotary position embeddings applied to queries and keys (Su et al. 2021), with Hugging
    /// Face Llama's rotate-half pairing; no parameters.
    Rope,
}

/// The `[block_size, d_model]` table with `PE[p, 2i] = sin(p / 10000^(2i/d_model))` and
/// `PE[p, 2i+1] = cos(p / 10000^(2i/d_model))`, computed in f64 on the host.
pub fn sinusoidal_table<B: Backend>(
    block_size: usize,
    d_model: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut values = Vec::with_capacity(block_size * d_model);
    for pos in 0..block_size {
        for j in 0..d_model {
            let pair = (j / 2 * 2) as f64;
            let angle = pos as f64 / 10000f64.powf(pair / d_model as f64);
            let v = if j % 2 == 0 { angle.sin() } else { angle.cos() };
            values.push(v as f32);
        }
    }
    Tensor::from_data(TensorData::new(values, [block_size, d_model]), device)
}
