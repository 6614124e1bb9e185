//! The precision of the model's matrix products (`training.precision`).

use anyhow::{bail, Result};
use burn::nn::Linear;
use burn::tensor::{DType, Tensor};
use burngpt_ops::FusedOps;
use serde::{Deserialize, Serialize};

/// What the matrix products read: float32 operands, or operands rounded to bfloat16 with float32
/// sums (parameters, gradients, the optimizer's state, norms, softmax and the loss stay float32).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Float32 throughout (the default).
    #[default]
    Fp32,
    /// bfloat16 operands, float32 accumulation (burngpt-ops' `matmul_bf16`).
    Bf16,
}

/// Refuses `training.precision = "bf16"` on a device whose backend has no bfloat16 (a wgpu adapter
/// without it): the default products cast to bfloat16. The CPU backends compute it with their own
/// kernels (burngpt-ops), whatever Burn reports.
pub fn check_precision<B: FusedOps>(precision: Precision, device: &B::Device) -> Result<()> {
    if precision == Precision::Bf16 && !B::HOST_MEMORY && !B::supports_dtype(device, DType::BF16) {
        bail!(
            "training.precision = \"bf16\": the device {device:?} has no bfloat16 support in this backend; \
             use training.precision = \"fp32\""
        );
    }
    Ok(())
}

/// `lhs rhs` in `precision`.
///
/// # Shapes
/// `lhs: [m, k]`, `rhs: [k, n]` -> `[m, n]`
pub fn matmul<B: FusedOps>(lhs: Tensor<B, 2>, rhs: Tensor<B, 2>, precision: Precision) -> Tensor<B, 2> {
    match precision {
        Precision::Fp32 => lhs.matmul(rhs),
        Precision::Bf16 => burngpt_ops::matmul_bf16(lhs, rhs),
    }
}

/// `linear` applied to the rows of `x` in `precision` (the bias added in float32).
///
/// # Shapes
/// `x: [rows, d_in]` -> `[rows, d_out]`
pub fn linear_2d<B: FusedOps>(linear: &Linear<B>, x: Tensor<B, 2>, precision: Precision) -> Tensor<B, 2> {
    match precision {
        Precision::Fp32 => linear.forward(x),
        Precision::Bf16 => {
            let y = burngpt_ops::matmul_bf16(x, linear.weight.val());
            match &linear.bias {
                Some(bias) => y + bias.val().unsqueeze::<2>(),
                None => y,
            }
        }
    }
}

/// Applies `linear` to every position as one 2-D matrix product, in `precision`.
///
/// Burn's `Linear` on a `[batch, seq_len, d_in]` input runs a broadcast batched matmul
/// (and a per-batch weight gradient summed afterwards); flattening to
/// `[batch * seq_len, d_in]` gives one large GEMM each way instead, much faster on CPU.
///
/// # Shapes
/// `x: [batch, seq_len, d_in]` -> `[batch, seq_len, d_out]`
pub fn linear_3d<B: FusedOps>(linear: &Linear<B>, x: Tensor<B, 3>, precision: Precision) -> Tensor<B, 3> {
    let [batch, seq_len, d_in] = x.dims();
    let y = linear_2d(linear, x.reshape([batch * seq_len, d_in]), precision); // [batch * seq_len, d_out]
    let d_out = y.dims()[1];
    y.reshape([batch, seq_len, d_out])
}
