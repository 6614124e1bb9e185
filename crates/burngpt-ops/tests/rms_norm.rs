//! `rms_norm`, one autodiff node: on ndarray one pass per row forward and backward, elsewhere
//! Burn's ops and the closed-form backward of `reference`. Against f64 host values and the
//! hand-derived gradients of `sum(w * y)` for `y_j = gamma_j x_j rstd`,
//! `rstd = (mean(x^2) + eps)^(-1/2)`: since `d rstd / d x_k = -rstd^3 x_k / d`, with
//! `xhat = x rstd` and `g = w * gamma`, `dx = rstd * (g - xhat * mean(g * xhat))` and
//! `dgamma = sum_rows(w * xhat)`. Rows of 128 (600 rows: the threaded path, blocks of 64 rows
//! with a partial last block) and of 5 (7 rows, one thread), with and without gamma.

mod common;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use burngpt_ops::{rms_norm, FusedOps};

fn host(rows: usize, cols: usize, phase: f32) -> Vec<f32> {
    common::host(rows * cols, phase)
}

backend_tests!(check);

fn check<A: AutodiffBackend + FusedOps>(backend: &str) {
    let dev = Default::default();
    for (rows, d, affine) in [(600, 128, true), (600, 128, false), (7, 5, true), (7, 5, false)] {
        let x = host(rows, d, 0.3);
        let w = host(rows, d, 1.7);
        let gamma: Vec<f32> = (0..d).map(|j| 1.0 + 0.1 * (j as f32 * 0.9).sin()).collect();
        let gamma_t = affine.then(|| Tensor::<A, 1>::from_data(TensorData::new(gamma.clone(), [d]), &dev).require_grad());
        let xt = Tensor::<A, 2>::from_data(TensorData::new(x.clone(), [rows, d]), &dev).require_grad();
        let y = rms_norm(xt.clone(), gamma_t.clone(), 1e-5);
        let got: Vec<f32> = y.clone().into_data().to_vec().expect("f32");
        let grads = (y * Tensor::<A, 2>::from_data(TensorData::new(w.clone(), [rows, d]), &dev)).sum().backward();
        let dx: Vec<f32> = xt.grad(&grads).expect("dx").into_data().to_vec().expect("f32");
        let scale_of = |j: usize| if affine { gamma[j] as f64 } else { 1.0 };
        let mut want_dgamma = vec![0.0f64; d];
        for r in 0..rows {
            let row: Vec<f64> = (0..d).map(|j| x[r * d + j] as f64).collect();
            let rstd = 1.0 / (row.iter().map(|v| v * v).sum::<f64>() / d as f64 + 1e-5).sqrt();
            let xhat: Vec<f64> = row.iter().map(|v| v * rstd).collect();
            let g: Vec<f64> = (0..d).map(|j| w[r * d + j] as f64 * scale_of(j)).collect();
            let gx_mean = (0..d).map(|j| g[j] * xhat[j]).sum::<f64>() / d as f64;
            for j in 0..d {
                let i = r * d + j;
                let want = xhat[j] * scale_of(j);
                // float32: a few roundings of values of magnitude <= ~2
                assert!((got[i] as f64 - want).abs() <= 2e-6 * (1.0 + want.abs()), "{backend} y[{r},{j}] ({rows}x{d}): {} vs {want}", got[i]);
                let want_dx = rstd * (g[j] - xhat[j] * gx_mean);
                assert!((dx[i] as f64 - want_dx).abs() <= 1e-5 * (1.0 + want_dx.abs()), "{backend} dx[{r},{j}] ({rows}x{d}): {} vs {want_dx}", dx[i]);
                want_dgamma[j] += w[i] as f64 * xhat[j];
            }
        }
        if let Some(gamma_t) = &gamma_t {
            let dgamma: Vec<f32> = gamma_t.grad(&grads).expect("dgamma").into_data().to_vec().expect("f32");
            let scale = rows as f64 * 3.0; // sum of `rows` terms of magnitude <= 3 * |xhat|
            for j in 0..d {
                assert!((dgamma[j] as f64 - want_dgamma[j]).abs() <= 1e-6 * scale * 4.0, "dgamma[{j}]: {} vs {}", dgamma[j], want_dgamma[j]);
            }
        }
    }
}
