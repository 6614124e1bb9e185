//! The fused activations against f64 host values and hand-derived gradients, on every backend
//! compiled in. Sizes: [300, 257] (77,100 elements) takes ndarray's multi-threaded path (32K
//! elements or more), [7, 5] the single-threaded one.

mod common;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use burngpt_ops::{gelu, log_softmax, silu, softmax, FusedOps};
use common::host;

mod softmax_values_and_gradients {
    use super::*;
    backend_tests!(softmax_and_log_softmax);
}

mod gelu_values_and_gradients {
    use super::*;
    backend_tests!(gelu_exact);
}

mod silu_values_and_gradients {
    use super::*;
    backend_tests!(silu_exact);
}

/// Host softmax of `x` ([rows, cols], row-major) along `dim` in f64: `(p, log p)`.
fn host_softmax(x: &[f32], rows: usize, cols: usize, dim: usize) -> (Vec<f64>, Vec<f64>) {
    let (lanes, len) = if dim == 1 { (rows, cols) } else { (cols, rows) };
    let at = |lane: usize, j: usize| if dim == 1 { lane * cols + j } else { j * cols + lane };
    let (mut p, mut logp) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    for lane in 0..lanes {
        let max = (0..len).map(|j| x[at(lane, j)] as f64).fold(f64::NEG_INFINITY, f64::max);
        let log_sum = (0..len).map(|j| (x[at(lane, j)] as f64 - max).exp()).sum::<f64>().ln();
        for j in 0..len {
            logp[at(lane, j)] = x[at(lane, j)] as f64 - max - log_sum;
            p[at(lane, j)] = logp[at(lane, j)].exp();
        }
    }
    (p, logp)
}

/// Softmax / log-softmax (one autodiff node each; one pass per lane on ndarray) against f64 host values and host gradients, along the last and the first
/// dimension (strided lanes), on both sides of the threading threshold. Gradients of
/// `sum(w * f(x))`, derived by hand: softmax `p * (w - sum(w * p))`, log-softmax
/// `w - p * sum(w)`, sums along the lane.
fn softmax_and_log_softmax<A: AutodiffBackend + FusedOps>(backend: &str) {
    let dev = Default::default();
    for (rows, cols) in [(300, 257), (7, 5)] {
        let x = host(rows * cols, 0.5);
        let w = host(rows * cols, 2.5);
        for dim in [1, 0] {
            let (p, logp) = host_softmax(&x, rows, cols, dim);
            let (len, lanes) = if dim == 1 { (cols, rows) } else { (rows, cols) };
            let lane_of = |i: usize| if dim == 1 { i / cols } else { i % cols };
            let mut w_dot_p = vec![0.0f64; lanes];
            let mut w_sum = vec![0.0f64; lanes];
            for i in 0..x.len() {
                w_dot_p[lane_of(i)] += w[i] as f64 * p[i];
                w_sum[lane_of(i)] += w[i] as f64;
            }
            for log in [false, true] {
                let what = format!("{backend} {} {rows}x{cols} dim {dim}", if log { "log_softmax" } else { "softmax" });
                let xt = Tensor::<A, 2>::from_data(TensorData::new(x.clone(), [rows, cols]), &dev).require_grad();
                let wt = Tensor::<A, 2>::from_data(TensorData::new(w.clone(), [rows, cols]), &dev);
                let y = if log { log_softmax(xt.clone(), dim) } else { softmax(xt.clone(), dim) };
                let got: Vec<f32> = y.clone().into_data().to_vec().expect("f32");
                let grads = (y * wt).sum().backward();
                let grad: Vec<f32> = xt.grad(&grads).expect("x has a gradient").into_data().to_vec().expect("f32");
                for i in 0..x.len() {
                    let (value, slope) = if log {
                        (logp[i], w[i] as f64 - p[i] * w_sum[lane_of(i)])
                    } else {
                        (p[i], p[i] * (w[i] as f64 - w_dot_p[lane_of(i)]))
                    };
                    // float32 rounding of O(len) terms of magnitude <= |w| max (3) around the result
                    let tol = 1e-6 * (1.0 + value.abs()) + 2e-7 * len as f64 * 3.0 * if log { 1.0 } else { p[i].max(1e-3) };
                    assert!((got[i] as f64 - value).abs() <= 1e-6 * (1.0 + value.abs()), "{what} value [{i}]: {} vs {value}", got[i]);
                    assert!((grad[i] as f64 - slope).abs() <= tol, "{what} gradient [{i}]: {} vs {slope}", grad[i]);
                }
            }
        }
    }
}

/// GELU and its gradient (one node; one pass each way on ndarray) against f64 `x Phi(x)` and
/// `Phi(x) + x phi(x)` (erf from the f64 `erf` of libm). The float32 `erf` errs by < 5e-7 on
/// ndarray (its rational approximation) and flex; wgpu's (cubecl's) by up to 2e-6 (6e-7 seen
/// near x = 0.07 on lavapipe), which `Phi` halves.
fn gelu_exact<A: AutodiffBackend + FusedOps>(backend: &str) {
    let dev = Default::default();
    let half_erf_err = if backend == "wgpu" { 1e-6 } else { 2.5e-7 };
    let xs: Vec<f32> = (0..60_000).map(|i| -6.0 + i as f32 * 0.0002).collect(); // [-6, 6)
    let n = xs.len();
    let x = Tensor::<A, 1>::from_data(TensorData::new(xs.clone(), [n]), &dev).require_grad();
    let y = gelu(x.clone());
    let values: Vec<f32> = y.clone().into_data().to_vec().expect("f32");
    let grad: Vec<f32> = x.grad(&y.sum().backward()).expect("gradient").into_data().to_vec().expect("f32");
    let mut worst = 0.0f64;
    for i in 0..n {
        let v = xs[i] as f64;
        let cdf = 0.5 * (1.0 + libm::erf(v / std::f64::consts::SQRT_2));
        worst = worst.max((values[i] as f64 - v * cdf).abs() / v.abs().max(1e-3));
        let pdf = (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt();
        // |x| * erf's error / 2, plus float32 rounding of the result
        let tol = half_erf_err * v.abs() + 1.2e-7 * (v * cdf).abs() + 1e-12;
        assert!((values[i] as f64 - v * cdf).abs() <= tol, "{backend} gelu({v}) = {}, f64 {}", values[i], v * cdf);
        assert!((grad[i] as f64 - (cdf + v * pdf)).abs() <= half_erf_err * (1.0 + v.abs()) + 2.4e-7, "{backend} gelu'({v}) = {}, f64 {}", grad[i], cdf + v * pdf);
    }
    eprintln!("{backend}: largest |gelu(x) error| / |x| = {worst:.2e}");
}

/// SiLU and its gradient (one node; one pass each way on ndarray) against f64 `x s` and
/// `s (1 + x (1 - s))`, `s = 1 / (1 + e^-x)` (derived by hand: `s' = s (1 - s)`), on [-20, 20)
/// and at +-100 (where `e^-x` overflows float32: 0, not NaN). ndarray's sigmoid is `exp` within
/// 1 ulp then two roundings: s within 3 ulp (2e-7 relative), so `1 - s` within 2e-7 absolute and
/// the slope within `(1 + |x|) 3e-7`. Burn's default sigmoid, `exp(-log(1 + e^-x))`, turns the
/// log's rounding of `log(1 + e^-x) <= |x| + 1` into a relative error of about `(|x| + 4) 1.2e-7`,
/// which the slope multiplies by `1 + |x|`.
fn silu_exact<A: AutodiffBackend + FusedOps>(backend: &str) {
    let dev = Default::default();
    let mut xs: Vec<f32> = (0..40_000).map(|i| -20.0 + i as f32 * 0.001).collect();
    xs.extend([-100.0, 100.0]);
    let n = xs.len();
    let x = Tensor::<A, 1>::from_data(TensorData::new(xs.clone(), [n]), &dev).require_grad();
    let y = silu(x.clone());
    let values: Vec<f32> = y.clone().into_data().to_vec().expect("f32");
    let grad: Vec<f32> = x.grad(&y.sum().backward()).expect("gradient").into_data().to_vec().expect("f32");
    for i in 0..n {
        let v = xs[i] as f64;
        let s = 1.0 / (1.0 + (-v).exp());
        let (want, want_slope) = (v * s, s * (1.0 + v * (1.0 - s)));
        let (value_tol, slope_tol) = match backend {
            "ndarray" => (3e-7, (1.0 + v.abs()) * 3e-7),
            _ => ((v.abs() + 4.0) * 1.2e-7, (1.0 + v.abs()) * (v.abs() + 4.0) * 1.2e-7),
        };
        assert!((values[i] as f64 - want).abs() <= value_tol * want.abs() + 1e-30, "{backend} silu({v}) = {}, f64 {want}", values[i]);
        assert!((grad[i] as f64 - want_slope).abs() <= slope_tol + 1e-30, "{backend} silu'({v}) = {}, f64 {want_slope}", grad[i]);
    }
}
