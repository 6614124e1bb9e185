//! GELU with its exact derivative, cheaper to train than Burn's.
//!
//! Burn 0.21's `gelu` (erf form) back-propagates the derivative of the *tanh approximation*
//! (`ActivationOps::gelu_backward`), which is off by up to 8.7e-4 near |x| = 2, and computes it
//! with two `powf` calls and a `tanh` per element (12% of a training step of the spec's model
//! on ndarray). Its `gelu_approximate` goes through `powf_scalar(3.0)` forward and backward.
//!
//! Here the value `f(x)` and the slope `f'(x)` are computed from a detached copy of `x`, and
//! joined as `f(x) + (x - x_detached) * f'(x)`: the second term is exactly zero, so the value
//! is `f(x)` bit for bit, and its gradient is `grad * f'(x)`, one multiplication in backward.

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI, PI};

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

use super::gpt::GeluKind;

/// `sqrt(2 / pi)`, the tanh approximation's scale.
const SQRT_2_OVER_PI: f64 = FRAC_2_SQRT_PI * FRAC_1_SQRT_2;
/// The tanh approximation's cubic coefficient.
const CUBIC: f64 = 0.044715;

/// GELU of `kind`, element-wise, with the exact derivative of that same function.
pub fn gelu<B: Backend, const D: usize>(x: Tensor<B, D>, kind: GeluKind) -> Tensor<B, D> {
    if !B::ad_enabled(&x.device()) {
        return gelu_value(x, kind).0;
    }
    let x_const = x.clone().detach();
    let (value, factor) = gelu_value(x_const.clone(), kind);
    let slope = gelu_slope(x_const.clone(), factor, kind);
    value + (x - x_const) * slope
}

/// `f(x)` and the factor it shares with `f'(x)`: `f(x) = x * factor`.
///
/// Exact: `f = x Phi(x)`, factor `Phi(x) = (1 + erf(x / sqrt 2)) / 2`.
/// Tanh: `t = tanh(sqrt(2/pi) (x + c x^3))`, `f = x (1 + t) / 2`, factor `h = (1 + t) / 2`.
fn gelu_value<B: Backend, const D: usize>(x: Tensor<B, D>, kind: GeluKind) -> (Tensor<B, D>, Tensor<B, D>) {
    let factor = match kind {
        GeluKind::Exact => (x.clone() * FRAC_1_SQRT_2).erf().add_scalar(1.0).mul_scalar(0.5),
        GeluKind::Tanh => {
            let inner = x.clone() * ((x.clone() * x.clone()).mul_scalar(CUBIC).add_scalar(1.0)) * SQRT_2_OVER_PI;
            inner.tanh().add_scalar(1.0).mul_scalar(0.5)
        }
    };
    (x * factor.clone(), factor)
}

/// `f'(x)` from `x` and [`gelu_value`]'s factor.
///
/// Exact: `f' = Phi(x) + x phi(x)` with `phi(x) = exp(-x^2 / 2) / sqrt(2 pi)`.
/// Tanh: `f' = h + x (1 - t^2) sqrt(2/pi) (1 + 3 c x^2) / 2`, where `(1 - t^2) / 2 = 2 h (1 - h)`.
fn gelu_slope<B: Backend, const D: usize>(x: Tensor<B, D>, factor: Tensor<B, D>, kind: GeluKind) -> Tensor<B, D> {
    let x2 = x.clone() * x.clone();
    match kind {
        GeluKind::Exact => {
            let pdf = x2.mul_scalar(-0.5).exp().mul_scalar(1.0 / (2.0 * PI).sqrt());
            factor + x * pdf
        }
        GeluKind::Tanh => {
            let half_sech2 = factor.clone() * (factor.clone().neg().add_scalar(1.0)) * 2.0;
            let d_inner = x2.mul_scalar(3.0 * CUBIC).add_scalar(1.0) * SQRT_2_OVER_PI;
            factor + x * half_sech2 * d_inner
        }
    }
}
