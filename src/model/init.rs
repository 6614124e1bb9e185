//! GPT-2 initialisation helpers.

use burn::module::Param;
use burn::nn::{Initializer, Linear};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// GPT-2's standard deviation for weights and embeddings.
pub const INIT_STD: f64 = 0.02;

/// A Linear layer `[d_in, d_out]` with weights Normal(0, `std`) (zeros when `std` is 0) and, if
/// `bias`, a zero bias.
///
/// Burn's `LinearConfig` draws the bias from the weight's initializer, which is not GPT-2's
/// init, so the struct is built from its public fields.
pub fn linear<B: Backend>(
    d_in: usize,
    d_out: usize,
    bias: bool,
    std: f64,
    device: &B::Device,
) -> Linear<B> {
    let initializer = if std == 0.0 { Initializer::Zeros } else { Initializer::Normal { mean: 0.0, std } };
    let weight: Param<Tensor<B, 2>> = initializer.init_with(
        [d_in, d_out],
        Some(d_in),
        Some(d_out),
        device,
    );
    Linear {
        weight,
        bias: bias.then(|| Initializer::Zeros.init([d_out], device)),
    }
}
