//! Softmax and log-softmax in one pass per lane, on every rayon thread.
//!
//! Burn's ndarray backend uses the backend trait's default methods: a max, a subtraction, an exponential, a sum
//! and a division (or a log and a subtraction), each a separate pass over the whole tensor with its
//! own allocation, the reductions on one thread. Here each lane along `dim` is read for its maximum,
//! then its exponentials are written (vectorised, [`FastMath::exp_fast`]) into the output, which is
//! not zeroed first, and summed, then scaled; lanes are independent, so they are split across
//! threads. The arithmetic per element is
//! Burn's (`exp(x - max) / sum`, `(x - max) - ln(sum)`) with the float32 `exp` of
//! `fast_math.rs`, and the sum is taken in eight interleaved partial sums.

use burn_ndarray::{FloatNdArrayElement, SharedArray};

use super::elementwise::PAR_MIN;
use super::fast_math::FastMath;
use core::mem::MaybeUninit;
use ndarray::{ArrayView1, ArrayViewMut1, Axis, Zip};

/// `exp(x - max) / sum(exp(x - max))` along `dim`.
pub(crate) fn softmax<E: FloatNdArrayElement + FastMath>(input: SharedArray<E>, dim: usize) -> SharedArray<E> {
    map_lanes(input, dim, |x, out| {
        let (_, mut out) = write_shifted_exp(&x, out);
        let sum = lane_sum(out.view());
        out.mapv_inplace(|o| o / sum);
    })
}

/// `(x - max) - ln(sum(exp(x - max)))` along `dim`.
pub(crate) fn log_softmax<E: FloatNdArrayElement + FastMath>(input: SharedArray<E>, dim: usize) -> SharedArray<E> {
    map_lanes(input, dim, |x, out| {
        let (max, mut out) = write_shifted_exp(&x, out);
        let log_sum = lane_sum(out.view()).log_elem();
        Zip::from(&mut out).and(&x).for_each(|o, &v| *o = (v - max) - log_sum);
    })
}

/// The gradient of [`log_softmax`] from its output `y` and the output's gradient `g`:
/// `g - exp(y) * sum(g)` along `dim`, one pass per lane (Burn's default: four passes).
pub(crate) fn log_softmax_backward<E: FloatNdArrayElement + FastMath>(
    y: SharedArray<E>,
    g: SharedArray<E>,
    dim: usize,
) -> SharedArray<E> {
    zip_lanes(&y, &g, dim, |y, g, mut out| {
        let total = lane_sum(g.view());
        Zip::from(&mut out).and(&y).and(&g).for_each(|o, &y, &g| {
            o.write(g - y.exp_fast() * total);
        });
    })
}

/// Writes `exp(x - max)` into every element of `out`; returns the lane's maximum and the
/// now initialised output lane.
fn write_shifted_exp<'a, E: FloatNdArrayElement + FastMath>(
    x: &ArrayView1<E>,
    mut out: ArrayViewMut1<'a, MaybeUninit<E>>,
) -> (E, ArrayViewMut1<'a, E>) {
    let max = x.iter().skip(1).fold(x[0], |m, &v| if v > m { v } else { m });
    Zip::from(&mut out).and(x).for_each(|o, &v| {
        o.write((v - max).exp_fast());
    });
    // Safety: the loop above wrote every element of the lane.
    (max, unsafe { out.assume_init() })
}

/// The sum of a lane in eight interleaved partial sums (one chain of additions would wait on
/// each addition's latency).
fn lane_sum<E: FloatNdArrayElement>(x: ArrayView1<E>) -> E {
    match x.to_slice() {
        Some(x) => sum8(x),
        None => x.iter().fold(E::zero(), |s, &v| s + v),
    }
}

/// The sum of `x` in eight interleaved partial sums.
pub(crate) fn sum8<E: FloatNdArrayElement>(x: &[E]) -> E {
    let mut acc = [E::zero(); 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(E::zero(), |s, &v| s + v);
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// A new array of `input`'s shape whose lanes along `dim` are written by `f(input lane, output
/// lane)`; `f` must initialise every element of its output lane.
fn map_lanes<E, F>(input: SharedArray<E>, dim: usize, f: F) -> SharedArray<E>
where
    E: FloatNdArrayElement,
    F: Fn(ArrayView1<E>, ArrayViewMut1<MaybeUninit<E>>) + Send + Sync,
{
    zip_lanes(&input, &input, dim, |x, _, out| f(x, out))
}

/// A new array of the shape of `a` and `b` (equal) whose lanes along `dim` are written by
/// `f(lane of a, lane of b, output lane)`, lanes split across threads above [`PAR_MIN`]
/// elements; `f` must initialise every element of its output lane.
fn zip_lanes<E, F>(a: &SharedArray<E>, b: &SharedArray<E>, dim: usize, f: F) -> SharedArray<E>
where
    E: FloatNdArrayElement,
    F: Fn(ArrayView1<E>, ArrayView1<E>, ArrayViewMut1<MaybeUninit<E>>) + Send + Sync,
{
    if a.len() == 0 {
        return ndarray::ArrayD::<E>::zeros(a.raw_dim()).into_shared();
    }
    let mut out = ndarray::ArrayD::<E>::uninit(a.raw_dim());
    let zip = Zip::from(a.lanes(Axis(dim))).and(b.lanes(Axis(dim))).and(out.lanes_mut(Axis(dim)));
    if a.len() >= PAR_MIN {
        zip.par_for_each(|x, y, o| f(x, y, o));
    } else {
        zip.for_each(|x, y, o| f(x, y, o));
    }
    // Safety: the lanes along `dim` cover the array, and `f` wrote every element of each.
    unsafe { out.assume_init() }.into_shared()
}
