//! Layer norm over the last dimension and its backward, one pass per row.
//!
//! Burn's ndarray backend uses the trait's default `layer_norm`: a mean, a subtraction, a square, a second mean,
//! an addition, a square root, a division, a scale and a shift, each a pass over the whole tensor
//! (under autodiff, nine nodes and their backward). Here each row is read for its mean and
//! variance and written once; the backward re-derives them from the input (cheaper than keeping
//! them) and writes
//!
//! ```text
//! xhat = (x - mean) * rstd          g = grad * gamma
//! dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//! dgamma = sum over rows of grad * xhat          dbeta = sum over rows of grad
//! ```
//!
//! Rows are split across the rayon threads in fixed blocks of [`ROWS`]; the parameter gradients are
//! summed per block and the blocks' sums added in order, so results do not depend on the number of
//! threads.

use burn::tensor::ElementConversion;
use burn_ndarray::{FloatNdArrayElement, SharedArray};
use ndarray::{Array2, ArrayView1, ArrayView2, Axis, Zip};
use rayon::prelude::*;

use super::elementwise::PAR_MIN;

/// Rows per block of work (and per partial sum of the parameter gradients).
pub(super) const ROWS: usize = 64;

/// `(x - mean) / sqrt(var + epsilon) * gamma + beta` over the last dimension.
pub(crate) fn layer_norm<E: FloatNdArrayElement>(
    x: SharedArray<E>,
    gamma: SharedArray<E>,
    beta: Option<SharedArray<E>>,
    epsilon: f64,
) -> SharedArray<E> {
    let shape = x.raw_dim();
    let x2 = rows(&x);
    let gamma = gamma.view().into_shape_with_order(x2.ncols()).expect("gamma is [d_model]");
    let beta = beta.as_ref().map(|b| b.view().into_shape_with_order(x2.ncols()).expect("beta is [d_model]"));
    let mut out = Array2::<E>::zeros(x2.raw_dim());
    for_row_blocks(x2.view(), out.view_mut(), |x, mut out| {
        for (x, mut y) in x.outer_iter().zip(out.outer_iter_mut()) {
            let (mean, rstd) = moments(x, epsilon);
            match &beta {
                Some(beta) => Zip::from(&mut y).and(x).and(&gamma).and(beta).for_each(|y, &x, &g, &b| {
                    *y = (x - mean) * rstd * g + b;
                }),
                None => Zip::from(&mut y).and(x).and(&gamma).for_each(|y, &x, &g| *y = (x - mean) * rstd * g),
            }
        }
    });
    out.into_shape_with_order(shape).expect("same number of elements").into_shared()
}

/// `(dx, dgamma, dbeta)` of [`layer_norm`] given the output's gradient; `dbeta` when `has_beta`.
pub(crate) fn layer_norm_backward<E: FloatNdArrayElement>(
    x: SharedArray<E>,
    gamma: SharedArray<E>,
    has_beta: bool,
    epsilon: f64,
    grad: SharedArray<E>,
) -> (SharedArray<E>, SharedArray<E>, Option<SharedArray<E>>) {
    let shape = x.raw_dim();
    let (x2, g2) = (rows(&x), rows(&grad));
    let d = x2.ncols();
    let gamma = gamma.view().into_shape_with_order(d).expect("gamma is [d_model]");
    let mut dx = Array2::<E>::zeros(x2.raw_dim());
    let inv_d: E = (1.0 / d as f64).elem();
    // One `[2, d]` partial sum (dgamma, dbeta) per block of rows.
    let block = |(x, g, mut dx): (ArrayView2<E>, ArrayView2<E>, ndarray::ArrayViewMut2<E>)| {
        let mut partial = Array2::<E>::zeros((2, d));
        let mut xhat = vec![E::zero(); d];
        for ((x, g), mut dx) in x.outer_iter().zip(g.outer_iter()).zip(dx.outer_iter_mut()) {
            let (mean, rstd) = moments(x, epsilon);
            let (mut g_sum, mut gx_sum) = (E::zero(), E::zero());
            for j in 0..d {
                xhat[j] = (x[j] - mean) * rstd;
                let gg = g[j] * gamma[j];
                g_sum += gg;
                gx_sum += gg * xhat[j];
            }
            let (g_mean, gx_mean) = (g_sum * inv_d, gx_sum * inv_d);
            for j in 0..d {
                dx[j] = rstd * (g[j] * gamma[j] - g_mean - xhat[j] * gx_mean);
                partial[[0, j]] += g[j] * xhat[j];
                partial[[1, j]] += g[j];
            }
        }
        partial
    };
    let chunks = (x2.axis_chunks_iter(Axis(0), ROWS), g2.axis_chunks_iter(Axis(0), ROWS), dx.axis_chunks_iter_mut(Axis(0), ROWS));
    let partials: Vec<Array2<E>> = if x2.len() >= PAR_MIN {
        chunks.0.into_par_iter().zip(chunks.1).zip(chunks.2).map(|((x, g), dx)| block((x, g, dx))).collect()
    } else {
        chunks.0.zip(chunks.1).zip(chunks.2).map(|((x, g), dx)| block((x, g, dx))).collect()
    };
    let mut sums = Array2::<E>::zeros((2, d));
    for p in &partials {
        sums += p;
    }
    let dgamma = sums.row(0).to_owned().into_dyn().into_shared();
    let dbeta = has_beta.then(|| sums.row(1).to_owned().into_dyn().into_shared());
    (dx.into_shape_with_order(shape).expect("same number of elements").into_shared(), dgamma, dbeta)
}

/// The row's mean and `1 / sqrt(var + epsilon)` (biased variance, two passes).
fn moments<E: FloatNdArrayElement>(x: ArrayView1<E>, epsilon: f64) -> (E, E) {
    let inv_d: E = (1.0 / x.len() as f64).elem();
    let mean = sum8(x.iter().copied()) * inv_d;
    let var = sum8(x.iter().map(|&v| (v - mean) * (v - mean))) * inv_d;
    let eps: E = epsilon.elem();
    (mean, E::one() / (var + eps).sqrt_elem())
}

/// A sum in eight interleaved partial sums (one chain of additions waits on each one's latency).
pub(super) fn sum8<E: FloatNdArrayElement>(values: impl Iterator<Item = E>) -> E {
    let mut acc = [E::zero(); 8];
    for (i, v) in values.enumerate() {
        acc[i % 8] += v;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// `x` as `[rows, last dimension]`, in row-major order (copied only if it is not).
pub(super) fn rows<E: FloatNdArrayElement>(x: &SharedArray<E>) -> RowsCow<'_, E> {
    let d = x.shape().last().copied().unwrap_or(1);
    let n = x.len() / d.max(1);
    let standard = x.as_standard_layout();
    standard.into_shape_with_order((n, d)).expect("row-major")
}

pub(super) type RowsCow<'a, E> = ndarray::CowArray<'a, E, ndarray::Ix2>;

/// `f(input rows, output rows)` over blocks of [`ROWS`] rows, on all threads for large inputs.
pub(super) fn for_row_blocks<E, F>(x: ArrayView2<E>, mut out: ndarray::ArrayViewMut2<E>, f: F)
where
    E: FloatNdArrayElement,
    F: Fn(ArrayView2<E>, ndarray::ArrayViewMut2<E>) + Send + Sync,
{
    let (xs, outs) = (x.axis_chunks_iter(Axis(0), ROWS), out.axis_chunks_iter_mut(Axis(0), ROWS));
    if x.len() >= PAR_MIN {
        xs.into_par_iter().zip(outs).for_each(|(x, o)| f(x, o));
        return;
    }
    xs.zip(outs).for_each(|(x, o)| f(x, o));
}
