//! GELU with its exact derivative.
//!
//! The exact (erf) kind is burngpt-ops' fused `gelu`, one autodiff node whose backward is the exact
//! derivative (Burn 0.21's own `gelu_backward` is the *tanh approximation*'s derivative, off by up
//! to 8.7e-4 near |x| = 2); on ndarray both directions take one pass each.
//!
//! The tanh kind (Burn's `gelu_approximate` goes through `powf_scalar(3.0)` forward and backward)
//! computes the value `f(x)` and the slope `f'(x)` from a detached copy of `x` and joins them as
//! `f(x) + (x - x_detached) * f'(x)`: the second term is exactly zero, so the value is `f(x)` bit
//! for bit, and its gradient is `grad * f'(x)`.

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burngpt_ops::FusedOps;
use serde::{Deserialize, Serialize};

/// Which GELU the MLP uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeluKind {
    /// `x * Phi(x)` with the error function.
    Exact,
    /// GPT-2's tanh approximation.
    Tanh,
}

/// `sqrt(2 / pi)`, the tanh approximation's scale.
const SQRT_2_OVER_PI: f64 = FRAC_2_SQRT_PI * FRAC_1_SQRT_2;
/// The tanh approximation's cubic coefficient.
const CUBIC: f64 = 0.044715;

/// GELU of `kind`, element-wise, with the exact derivative of that same function.
pub fn gelu<B: FusedOps, const D: usize>(x: Tensor<B, D>, kind: GeluKind) -> Tensor<B, D> {
    match kind {
        GeluKind::Exact => burngpt_ops::gelu(x),
        GeluKind::Tanh if !B::ad_enabled(&x.device()) => tanh_value(x).0,
        GeluKind::Tanh => {
            let x_const = x.clone().detach();
            let (value, h) = tanh_value(x_const.clone());
            let slope = tanh_slope(x_const.clone(), h);
            value + (x - x_const) * slope
        }
    }
}

/// The tanh approximation `f(x) = x h` and its factor `h = (1 + t) / 2`, where
/// `t = tanh(sqrt(2/pi) (x + c x^3))`.
fn tanh_value<B: Backend, const D: usize>(x: Tensor<B, D>) -> (Tensor<B, D>, Tensor<B, D>) {
    let inner = x.clone() * ((x.clone() * x.clone()).mul_scalar(CUBIC).add_scalar(1.0)) * SQRT_2_OVER_PI;
    let h = inner.tanh().add_scalar(1.0).mul_scalar(0.5);
    (x * h.clone(), h)
}

/// `f'(x) = h + x (1 - t^2) sqrt(2/pi) (1 + 3 c x^2) / 2`, where `(1 - t^2) / 2 = 2 h (1 - h)`.
fn tanh_slope<B: Backend, const D: usize>(x: Tensor<B, D>, h: Tensor<B, D>) -> Tensor<B, D> {
    let half_sech2 = h.clone() * (h.clone().neg().add_scalar(1.0)) * 2.0;
    let d_inner = (x.clone() * x.clone()).mul_scalar(3.0 * CUBIC).add_scalar(1.0) * SQRT_2_OVER_PI;
    h + x * half_sech2 * d_inner
}
