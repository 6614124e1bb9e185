//! GPT-2's initialisation drawn on the host from a seeded RNG, so that every backend (ndarray,
//! flex, wgpu, cuda) starts from bit-identical weights for the same seed; backend RNGs differ.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::init::INIT_STD;
use super::GptConfig;

/// The initial values of the parameter at `path` with `shape`, following GPT-2:
/// norm weights (LayerNorm, RMSNorm) 1, biases and LayerNorm bias 0, residual projections
/// (`c_proj.weight`) Normal(0, 0.02 / sqrt(2 n_layers)) or, with `model.zero_init_proj`, 0,
/// every other weight and embedding Normal(0, 0.02).
/// Each parameter has its own stream, derived from `seed` and its path.
pub fn gpt2_init_values(config: &GptConfig, seed: u64, path: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    if path.ends_with(".gamma") {
        return vec![1.0; n];
    }
    if path.ends_with(".beta") || path.ends_with(".bias") {
        return vec![0.0; n];
    }
    if config.zero_init_proj && path.ends_with("c_proj.weight") {
        return vec![0.0; n];
    }
    let std = if path.ends_with("c_proj.weight") {
        INIT_STD / ((2 * config.n_layers) as f64).sqrt()
    } else {
        INIT_STD
    };
    let stream = path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    let mut rng = StdRng::seed_from_u64(crate::seed::derive(seed, crate::seed::Stream::Init, stream));
    normal_samples(&mut rng, n, std)
}

/// `n` draws of Normal(0, `std`) by the Box-Muller transform.
pub fn normal_samples(rng: &mut StdRng, n: usize, std: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln(u1) is finite
        let u2: f64 = rng.random::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt() * std;
        let angle = std::f64::consts::TAU * u2;
        out.push((radius * angle.cos()) as f32);
        out.push((radius * angle.sin()) as f32);
    }
    out.truncate(n);
    out
}
