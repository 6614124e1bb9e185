//! SiLU (`x sigmoid(x)`, SwiGLU's gate) and its exact derivative in one pass each, on every rayon
//! thread.
//!
//! Burn's default `sigmoid` takes four element-wise passes (`exp(-log(1 + exp(-x)))`) and computes
//! in float32 whatever the input's type, so float64 models would get float32 gates; here float32
//! uses the vectorisable `exp` of `fast_math.rs`, f64 the library's.

use burn_ndarray::{FloatNdArrayElement, SharedArray};

use super::elementwise as par_map;
use super::fast_math::FastMath;

/// `x sigmoid(x)`.
pub(crate) fn silu<E: FloatNdArrayElement + FastMath>(x: SharedArray<E>) -> SharedArray<E> {
    par_map::map_unary(x, |v: E| v * v.sigmoid())
}

/// `grad s (1 + x (1 - s))`, `s = sigmoid(x)`.
pub(crate) fn silu_backward<E: FloatNdArrayElement + FastMath>(x: SharedArray<E>, grad: SharedArray<E>) -> SharedArray<E> {
    match par_map::map_binary(grad, &x, |g: E, v: E| g * slope(v)) {
        Ok(out) => out,
        // shapes that only broadcast the other way (not produced by autodiff's silu)
        Err(grad) => (&grad * &x.mapv(slope)).into_shared(),
    }
}

fn slope<E: FloatNdArrayElement + FastMath>(v: E) -> E {
    let s = v.sigmoid();
    s * (E::one() + v * (E::one() - s))
}
