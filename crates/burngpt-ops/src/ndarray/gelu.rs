//! GELU (erf form) and its exact derivative in one pass each, on every rayon thread.
//!
//! Burn's defaults take five element-wise passes forward, and nine for the exact derivative
//! ([`crate::reference::gelu_backward`]). float32 uses the vectorisable `exp` and `erf` of
//! `fast_math.rs`; f64 the library functions.

use burn_ndarray::{FloatNdArrayElement, SharedArray};

use super::elementwise as par_map;
use super::fast_math::FastMath;

/// `x Phi(x)` with `Phi(x) = (1 + erf(x / sqrt 2)) / 2`.
pub(crate) fn gelu<E: FloatNdArrayElement + FastMath>(x: SharedArray<E>) -> SharedArray<E> {
    par_map::map_unary(x, |v: E| v.gelu())
}

/// `grad * (Phi(x) + x phi(x))` with `phi(x) = exp(-x^2 / 2) / sqrt(2 pi)`.
pub(crate) fn gelu_backward<E: FloatNdArrayElement + FastMath>(x: SharedArray<E>, grad: SharedArray<E>) -> SharedArray<E> {
    match par_map::map_binary(grad, &x, |g: E, v: E| g * v.gelu_slope()) {
        Ok(out) => out,
        // shapes that only broadcast the other way (not produced by autodiff's gelu)
        Err(grad) => (&grad * &x.mapv(|v| v.gelu_slope())).into_shared(),
    }
}
