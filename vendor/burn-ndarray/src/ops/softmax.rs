//! burngpt patch: softmax and log-softmax in one pass per lane, on every rayon thread.
//!
//! Upstream uses the backend trait's default methods: a max, a subtraction, an exponential, a sum
//! and a division (or a log and a subtraction), each a separate pass over the whole tensor with its
//! own allocation, the reductions on one thread. Here each lane along `dim` is read once for its
//! maximum and once more to write the result; lanes are independent, so they are split across
//! threads. The arithmetic per element is upstream's (`exp(x - max) / sum`, `(x - max) - ln(sum)`);
//! only the summation order of `sum` can differ.

use crate::{SharedArray, element::FloatNdArrayElement, ops::par_map::PAR_MIN};
use ndarray::{ArrayView1, ArrayViewMut1, Axis, Zip};

/// `exp(x - max) / sum(exp(x - max))` along `dim`.
pub(crate) fn softmax<E: FloatNdArrayElement>(input: SharedArray<E>, dim: usize) -> SharedArray<E> {
    map_lanes(input, dim, |x, mut out| {
        let max = lane_max(&x);
        let mut sum = E::zero();
        Zip::from(&mut out).and(&x).for_each(|o, &v| {
            *o = (v - max).exp_elem();
            sum += *o;
        });
        out.mapv_inplace(|o| o / sum);
    })
}

/// `(x - max) - ln(sum(exp(x - max)))` along `dim`.
pub(crate) fn log_softmax<E: FloatNdArrayElement>(input: SharedArray<E>, dim: usize) -> SharedArray<E> {
    map_lanes(input, dim, |x, mut out| {
        let max = lane_max(&x);
        let mut sum = E::zero();
        x.for_each(|&v| sum += (v - max).exp_elem());
        let log_sum = sum.log_elem();
        Zip::from(&mut out).and(&x).for_each(|o, &v| *o = (v - max) - log_sum);
    })
}

fn lane_max<E: FloatNdArrayElement>(x: &ArrayView1<E>) -> E {
    x.iter().skip(1).fold(x[0], |m, &v| if v > m { v } else { m })
}

/// A new array of `input`'s shape whose lanes along `dim` are written by `f(input lane, output lane)`.
fn map_lanes<E, F>(input: SharedArray<E>, dim: usize, f: F) -> SharedArray<E>
where
    E: FloatNdArrayElement,
    F: Fn(ArrayView1<E>, ArrayViewMut1<E>) + Send + Sync,
{
    let mut out = ndarray::ArrayD::<E>::zeros(input.raw_dim());
    if input.len() == 0 || input.shape()[dim] == 0 {
        return out.into_shared();
    }
    let zip = Zip::from(input.lanes(Axis(dim))).and(out.lanes_mut(Axis(dim)));
    #[cfg(feature = "multi-threads")]
    if input.len() >= PAR_MIN {
        zip.par_for_each(|x, o| f(x, o));
        return out.into_shared();
    }
    zip.for_each(|x, o| f(x, o));
    out.into_shared()
}
