//! RMSNorm over the last dimension and its backward, one pass per row (the layout of
//! [`super::layer_norm`], whose row helpers it shares).
//!
//! ```text
//! rstd = 1 / sqrt(mean(x^2) + epsilon)        y = x * rstd * gamma
//! xhat = x * rstd          g = grad * gamma (grad when parameter-free)
//! dx = rstd * (g - xhat * mean(g * xhat))     dgamma = sum over rows of grad * xhat
//! ```
//!
//! As for layer norm, `dgamma` is summed per block of [`ROWS`] rows and the blocks' sums added in
//! order, so results do not depend on the number of threads.

use burn::tensor::ElementConversion;
use burn_ndarray::{FloatNdArrayElement, SharedArray};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis, Zip};
use rayon::prelude::*;

use super::elementwise::PAR_MIN;
use super::layer_norm::{for_row_blocks, rows, sum8, ROWS};

/// `x / sqrt(mean(x^2) + epsilon) * gamma` over the last dimension (`gamma: None`: no scale).
pub(crate) fn rms_norm<E: FloatNdArrayElement>(x: SharedArray<E>, gamma: Option<SharedArray<E>>, epsilon: f64) -> SharedArray<E> {
    let shape = x.raw_dim();
    let x2 = rows(&x);
    let gamma = gamma.as_ref().map(|g| g.view().into_shape_with_order(x2.ncols()).expect("gamma is [d_model]"));
    let mut out = Array2::<E>::zeros(x2.raw_dim());
    for_row_blocks(x2.view(), out.view_mut(), |x, mut out| {
        for (x, mut y) in x.outer_iter().zip(out.outer_iter_mut()) {
            let rstd = rstd(x, epsilon);
            match &gamma {
                Some(gamma) => Zip::from(&mut y).and(x).and(gamma).for_each(|y, &x, &g| *y = x * rstd * g),
                None => Zip::from(&mut y).and(x).for_each(|y, &x| *y = x * rstd),
            }
        }
    });
    out.into_shape_with_order(shape).expect("same number of elements").into_shared()
}

/// `(dx, dgamma)` of [`rms_norm`] given the output's gradient; `dgamma` when `gamma` is given.
pub(crate) fn rms_norm_backward<E: FloatNdArrayElement>(
    x: SharedArray<E>,
    gamma: Option<SharedArray<E>>,
    epsilon: f64,
    grad: SharedArray<E>,
) -> (SharedArray<E>, Option<SharedArray<E>>) {
    let shape = x.raw_dim();
    let (x2, g2) = (rows(&x), rows(&grad));
    let d = x2.ncols();
    let gamma: Option<ArrayView1<E>> = gamma.as_ref().map(|g| g.view().into_shape_with_order(d).expect("gamma is [d_model]"));
    let mut dx = Array2::<E>::zeros(x2.raw_dim());
    let inv_d: E = (1.0 / d as f64).elem();
    // One `[d]` partial sum of dgamma per block of rows.
    let block = |(x, g, mut dx): (ArrayView2<E>, ArrayView2<E>, ArrayViewMut2<E>)| {
        let mut partial = Array1::<E>::zeros(d);
        let mut xhat = vec![E::zero(); d];
        for ((x, g), mut dx) in x.outer_iter().zip(g.outer_iter()).zip(dx.outer_iter_mut()) {
            let rstd = rstd(x, epsilon);
            let mut gx_sum = E::zero();
            for j in 0..d {
                xhat[j] = x[j] * rstd;
                gx_sum += g[j] * gamma.map_or(E::one(), |gamma| gamma[j]) * xhat[j];
            }
            let gx_mean = gx_sum * inv_d;
            for j in 0..d {
                dx[j] = rstd * (g[j] * gamma.map_or(E::one(), |gamma| gamma[j]) - xhat[j] * gx_mean);
                partial[j] += g[j] * xhat[j];
            }
        }
        partial
    };
    let chunks = (x2.axis_chunks_iter(Axis(0), ROWS), g2.axis_chunks_iter(Axis(0), ROWS), dx.axis_chunks_iter_mut(Axis(0), ROWS));
    let partials: Vec<Array1<E>> = if x2.len() >= PAR_MIN {
        chunks.0.into_par_iter().zip(chunks.1).zip(chunks.2).map(|((x, g), dx)| block((x, g, dx))).collect()
    } else {
        chunks.0.zip(chunks.1).zip(chunks.2).map(|((x, g), dx)| block((x, g, dx))).collect()
    };
    let dgamma = gamma.map(|_| {
        let mut sums = Array1::<E>::zeros(d);
        for p in &partials {
            sums += p;
        }
        sums.into_dyn().into_shared()
    });
    (dx.into_shape_with_order(shape).expect("same number of elements").into_shared(), dgamma)
}

/// `1 / sqrt(mean(x^2) + epsilon)` of one row.
fn rstd<E: FloatNdArrayElement>(x: ArrayView1<E>, epsilon: f64) -> E {
    let inv_d: E = (1.0 / x.len() as f64).elem();
    let mean_square = sum8(x.iter().map(|&v| v * v)) * inv_d;
    let eps: E = epsilon.elem();
    E::one() / (mean_square + eps).sqrt_elem()
}
