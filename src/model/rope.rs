//! Rotary position embeddings (Su et al. 2021) in Hugging Face Llama's rotate-half convention:
//! within a head, element `i` pairs with `i + head_dim / 2`, so Llama's `q_proj`/`k_proj` weights
//! load with no permutation. (Burn's `RotaryEncoding` pairs adjacent elements `2i, 2i + 1`, Meta's
//! original layout, hence this module.)
//!
//! ```text
//! inv_freq_i = theta^(-2i / head_dim), i < head_dim / 2      angle = position * inv_freq_i
//! rope(x) = x * cos + rotate_half(x) * sin                  rotate_half([x1, x2]) = [-x2, x1]
//! ```
//! with `cos` and `sin` of each angle repeated over both halves of the head.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// Configuration of [`Rope`].
#[derive(Config, Debug)]
pub struct RopeConfig {
    /// Positions tabulated (the model's `block_size`).
    pub block_size: usize,
    /// Width of one attention head (even).
    pub head_dim: usize,
    /// Base of the frequencies (`model.rope_theta`).
    pub theta: f64,
}

/// The cosine and sine tables of every position: constants, not parameters, not saved.
#[derive(Module, Debug)]
pub struct Rope<B: Backend> {
    /// `cos(angle)`, `[block_size, head_dim]`.
    cos: Tensor<B, 2>,
    /// `sin(angle)`, `[block_size, head_dim]`.
    sin: Tensor<B, 2>,
}

impl RopeConfig {
    /// Builds the tables (computed on the host in f64, then stored in the backend's float type).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Rope<B> {
        let (cos, sin) = rope_tables(self.block_size, self.head_dim, self.theta);
        let shape = [self.block_size, self.head_dim];
        Rope {
            cos: Tensor::from_data(TensorData::new(cos, shape), device),
            sin: Tensor::from_data(TensorData::new(sin, shape), device),
        }
    }
}

impl<B: Backend> Rope<B> {
    /// Rotates `x` at absolute positions `start..start + seq_len`.
    ///
    /// # Shapes
    /// `x: [batch, heads, seq_len, head_dim]` -> `[batch, heads, seq_len, head_dim]`
    pub fn apply(&self, x: Tensor<B, 4>, start: usize) -> Tensor<B, 4> {
        let [_, _, seq_len, head_dim] = x.dims();
        let half = head_dim / 2;
        let table = |t: &Tensor<B, 2>| t.clone().narrow(0, start, seq_len).unsqueeze::<4>(); // [1, 1, seq_len, head_dim]
        let rotated = Tensor::cat(vec![x.clone().narrow(3, half, half).neg(), x.clone().narrow(3, 0, half)], 3);
        x * table(&self.cos) + rotated * table(&self.sin)
    }
}

/// `(cos, sin)`, each `[block_size, head_dim]` row-major: row `p`, column `j` holds the
/// cosine / sine of `p * theta^(-2 (j mod head_dim/2) / head_dim)`.
pub fn rope_tables(block_size: usize, head_dim: usize, theta: f64) -> (Vec<f64>, Vec<f64>) {
    let half = head_dim / 2;
    let inv_freq: Vec<f64> = (0..half).map(|i| theta.powf(-((2 * i) as f64) / head_dim as f64)).collect();
    let mut cos = Vec::with_capacity(block_size * head_dim);
    let mut sin = Vec::with_capacity(block_size * head_dim);
    for position in 0..block_size {
        for j in 0..head_dim {
            let angle = position as f64 * inv_freq[j % half];
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    (cos, sin)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values derived by hand: head_dim 4, theta 100 gives inv_freq = [1, 100^(-1/2) = 0.1];
    /// at position 3 the angles are [3, 0.3, 3, 0.3].
    #[test]
    fn tables_follow_the_rotate_half_layout() {
        let (cos, sin) = rope_tables(4, 4, 100.0);
        assert_eq!(&cos[0..4], &[1.0; 4]);
        assert_eq!(&sin[0..4], &[0.0; 4]);
        let row = 3 * 4;
        for (j, angle) in [3.0f64, 0.3, 3.0, 0.3].into_iter().enumerate() {
            assert!((cos[row + j] - angle.cos()).abs() < 1e-15, "cos[3, {j}]");
            assert!((sin[row + j] - angle.sin()).abs() < 1e-15, "sin[3, {j}]");
        }
    }

    /// A rotation keeps each pair's norm: `(x_i, x_{i+half})` turns by its angle. For x = [1, 0, 0, 0]
    /// at position 3 with the tables above: [cos 3, 0, sin 3, 0].
    #[test]
    fn apply_rotates_pairs_across_the_halves() {
        type B = burn::backend::NdArray<f32>;
        let dev = Default::default();
        let rope = RopeConfig::new(4, 4, 100.0).init::<B>(&dev);
        let x = Tensor::<B, 4>::from_data(TensorData::new(vec![1.0f32, 0.0, 0.0, 0.0], [1, 1, 1, 4]), &dev);
        let y: Vec<f32> = rope.apply(x, 3).into_data().to_vec().expect("f32");
        let want = [3f32.cos(), 0.0, 3f32.sin(), 0.0];
        for (got, want) in y.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{y:?} vs {want:?}");
        }
    }
}
