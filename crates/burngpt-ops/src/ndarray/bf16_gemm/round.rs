//! Arrays rounded to bfloat16 values (kept as `E`): attention's operands, rounded once per call, and
//! its probability tiles. Products of such values are exact in float32, so the float32 `gemm` then
//! computes what the bfloat16 kernels compute.

use burn::tensor::ElementConversion;
use burn_ndarray::{FloatNdArrayElement, SharedArray};
use ndarray::ArrayViewMut2;

use super::{bf16_to_f32, to_bf16};

/// `x` rounded to the nearest bfloat16 value (ties to even), in `E`.
fn round_bf16<E: FloatNdArrayElement>(x: E) -> E {
    bf16_to_f32(to_bf16(x.elem::<f32>())).elem()
}

/// Every element of `x` rounded, on rayon's threads.
pub fn round_array<E: FloatNdArrayElement>(x: SharedArray<E>) -> SharedArray<E> {
    let mut x = x.into_owned();
    x.par_mapv_inplace(round_bf16);
    x.into_shared()
}

/// Every element of `tile` rounded, on the calling thread.
pub fn round_view<E: FloatNdArrayElement>(tile: &mut ArrayViewMut2<E>) {
    tile.mapv_inplace(round_bf16);
}
