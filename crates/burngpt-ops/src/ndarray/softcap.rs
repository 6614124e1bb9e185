//! The logit soft cap `cap * tanh(x / cap)` and its derivative in one pass each, on every rayon
//! thread: Burn's ops take three passes forward (and a scalar `tanh` per element) and four back,
//! over the model's largest tensor, the logits.

use burn::tensor::ElementConversion;
use burn_ndarray::{FloatNdArrayElement, SharedArray};

use super::elementwise as par_map;
use super::fast_math::FastMath;

/// `cap * tanh(x / cap)`.
pub(crate) fn softcap<E: FloatNdArrayElement + FastMath>(x: SharedArray<E>, cap: f64) -> SharedArray<E> {
    let (cap, inv): (E, E) = (cap.elem(), (1.0 / cap).elem());
    par_map::map_unary(x, move |v: E| cap * (v * inv).tanh_fast())
}

/// `grad * (1 - (y / cap)^2)` from the output `y`.
pub(crate) fn softcap_backward<E: FloatNdArrayElement + FastMath>(
    y: SharedArray<E>,
    grad: SharedArray<E>,
    cap: f64,
) -> SharedArray<E> {
    let (inv, one): (E, E) = ((1.0 / cap).elem(), 1.0.elem());
    let slope = move |v: E| {
        let t = v * inv;
        one - t * t
    };
    match par_map::map_binary(grad, &y, move |g: E, v: E| g * slope(v)) {
        Ok(out) => out,
        // shapes that only broadcast the other way (not produced by autodiff's softcap)
        Err(grad) => (&grad * &y.mapv(slope)).into_shared(),
    }
}
