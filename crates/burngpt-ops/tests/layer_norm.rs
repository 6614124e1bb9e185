//! `layer_norm`, one autodiff node: on ndarray one pass per row forward and backward, elsewhere
//! Burn's `layer_norm` and the closed-form backward of `reference`. Against f64 host values and the
//! hand-derived gradients of `sum(w * y)`: with `xhat = (x - mean) * rstd`, `g = w * gamma`,
//! `dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`, `dgamma = sum_rows(w * xhat)`,
//! `dbeta = sum_rows(w)`. Rows of 128 (600 rows: 76,800 elements, the threaded path, blocks of 64
//! rows with a partial last block) and of 5 (7 rows, one thread), with and without beta.

mod common;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use burngpt_ops::{layer_norm, FusedOps};

fn host(rows: usize, cols: usize, phase: f32) -> Vec<f32> {
    common::host(rows * cols, phase)
}

backend_tests!(check);

fn check<A: AutodiffBackend + FusedOps>(backend: &str) {
    let dev = Default::default();
    for (rows, d, with_beta) in [(600, 128, true), (600, 128, false), (7, 5, true)] {
        let x = host(rows, d, 0.3);
        let w = host(rows, d, 1.7);
        let gamma: Vec<f32> = (0..d).map(|j| 1.0 + 0.1 * (j as f32 * 0.9).sin()).collect();
        let beta: Vec<f32> = (0..d).map(|j| 0.05 * (j as f32 * 0.4).cos()).collect();
        let gamma_t = Tensor::<A, 1>::from_data(TensorData::new(gamma.clone(), [d]), &dev).require_grad();
        let beta_t = with_beta.then(|| Tensor::<A, 1>::from_data(TensorData::new(beta.clone(), [d]), &dev).require_grad());
        let xt = Tensor::<A, 2>::from_data(TensorData::new(x.clone(), [rows, d]), &dev).require_grad();
        let y = layer_norm(xt.clone(), gamma_t.clone(), beta_t.clone(), 1e-5);
        let got: Vec<f32> = y.clone().into_data().to_vec().expect("f32");
        let grads = (y * Tensor::<A, 2>::from_data(TensorData::new(w.clone(), [rows, d]), &dev)).sum().backward();
        let dx: Vec<f32> = xt.grad(&grads).expect("dx").into_data().to_vec().expect("f32");
        let dgamma: Vec<f32> = gamma_t.grad(&grads).expect("dgamma").into_data().to_vec().expect("f32");
        let (mut want_dgamma, mut want_dbeta) = (vec![0.0f64; d], vec![0.0f64; d]);
        for r in 0..rows {
            let row: Vec<f64> = (0..d).map(|j| x[r * d + j] as f64).collect();
            let mean = row.iter().sum::<f64>() / d as f64;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / d as f64;
            let rstd = 1.0 / (var + 1e-5).sqrt();
            let xhat: Vec<f64> = row.iter().map(|v| (v - mean) * rstd).collect();
            let g: Vec<f64> = (0..d).map(|j| w[r * d + j] as f64 * gamma[j] as f64).collect();
            let g_mean = g.iter().sum::<f64>() / d as f64;
            let gx_mean = (0..d).map(|j| g[j] * xhat[j]).sum::<f64>() / d as f64;
            for j in 0..d {
                let i = r * d + j;
                let want = xhat[j] * gamma[j] as f64 + if with_beta { beta[j] as f64 } else { 0.0 };
                assert!((got[i] as f64 - want).abs() <= 2e-6 * (1.0 + want.abs()), "{backend} y[{r},{j}] ({rows}x{d}): {} vs {want}", got[i]);
                let want_dx = rstd * (g[j] - g_mean - xhat[j] * gx_mean);
                assert!((dx[i] as f64 - want_dx).abs() <= 1e-5 * (1.0 + want_dx.abs()), "{backend} dx[{r},{j}] ({rows}x{d}): {} vs {want_dx}", dx[i]);
                want_dgamma[j] += w[i] as f64 * xhat[j];
                want_dbeta[j] += w[i] as f64;
            }
        }
        let scale = rows as f64 * 3.0; // sum of `rows` terms of magnitude <= 3 * |xhat|
        for j in 0..d {
            assert!((dgamma[j] as f64 - want_dgamma[j]).abs() <= 1e-6 * scale * 4.0, "dgamma[{j}]: {} vs {}", dgamma[j], want_dgamma[j]);
        }
        if with_beta {
            let dbeta: Vec<f32> = beta_t.as_ref().expect("beta").grad(&grads).expect("dbeta").into_data().to_vec().expect("f32");
            for j in 0..d {
                assert!((dbeta[j] as f64 - want_dbeta[j]).abs() <= 1e-6 * scale, "dbeta[{j}]: {} vs {}", dbeta[j], want_dbeta[j]);
            }
        }
    }
}
