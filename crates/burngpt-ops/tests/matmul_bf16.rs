//! `matmul_bf16`, one autodiff node: on ndarray the AVX-512 BF16 kernels (float32 result),
//! elsewhere Burn's `cast` to bfloat16 and the backend's matmul (result rounded to bfloat16 too).
//! Against float64 sums of the bfloat16-rounded operands: for `C = A B` and the loss `sum(W * C)`,
//! `dA = W B^T` and `dB = A^T W`, each product again on rounded operands (the backward pass reads
//! bfloat16 too). Sizes that are not multiples of the kernel's tiles (70 x 97 x 45).
//!
//! Tolerance: the products of two bfloat16 values are exact, so the float32 sums of `k` of them
//! are within `gamma_k sum |a_i b_i|` (`gamma_k = k u / (1 - k u)`, `u = 2^-24`) of the float64
//! sum; the cast path also rounds the result to bfloat16 (relative `2^-8`) and may sum in another
//! order or precision, which its looser bound covers.

mod common;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use burngpt_ops::{matmul_bf16, FusedOps};

/// `x` rounded to the nearest bfloat16 (ties to even), as f64.
fn bf16(x: f32) -> f64 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) & 0xffff_0000;
    f64::from(f32::from_bits(rounded))
}

/// `sum_p x[i, p] y[p, j]` over the rounded values, and `sum |x y|`, for row-major `x: [m, k]`,
/// `y: [k, n]` given through index closures.
fn product(m: usize, k: usize, n: usize, x: impl Fn(usize, usize) -> f32, y: impl Fn(usize, usize) -> f32) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let (mut sum, mut magnitude) = (0.0, 0.0);
            for p in 0..k {
                let t = bf16(x(i, p)) * bf16(y(p, j));
                sum += t;
                magnitude += t.abs();
            }
            out.push((sum, magnitude));
        }
    }
    out
}

fn close(backend: &str, what: &str, got: &[f32], want: &[(f64, f64)], k: usize) {
    let u = 2f64.powi(-24);
    let gamma = k as f64 * u / (1.0 - k as f64 * u);
    // The cast path: the result rounded to bfloat16, and sums that may round per step in bfloat16's
    // precision: 2^-8 of the magnitude.
    let (relative, spread) = if backend == "ndarray" { (0.0, gamma) } else { (2f64.powi(-8), 2f64.powi(-8)) };
    assert_eq!(got.len(), want.len());
    for (i, (&g, &(sum, magnitude))) in got.iter().zip(want).enumerate() {
        let bound = spread * magnitude + relative * sum.abs();
        assert!((f64::from(g) - sum).abs() <= bound, "{backend} {what}[{i}]: {g} vs {sum} (bound {bound})");
    }
}

backend_tests!(check);

fn check<A: AutodiffBackend + FusedOps>(backend: &str) {
    let dev = Default::default();
    let (m, k, n) = (70, 97, 45);
    let a = common::host(m * k, 0.3);
    let b = common::host(k * n, 1.1);
    let w = common::host(m * n, 2.3);
    let at = Tensor::<A, 2>::from_data(TensorData::new(a.clone(), [m, k]), &dev).require_grad();
    let bt = Tensor::<A, 2>::from_data(TensorData::new(b.clone(), [k, n]), &dev).require_grad();
    let c = matmul_bf16(at.clone(), bt.clone());
    let got: Vec<f32> = c.clone().into_data().to_vec().expect("f32");
    let want = product(m, k, n, |i, p| a[i * k + p], |p, j| b[p * n + j]);
    close(backend, "C", &got, &want, k);
    // The operands really are rounded: float32 products of the unrounded values differ by far more
    // than float32 rounding somewhere (bfloat16 keeps 8 bits of the significand).
    let worst = (0..m * n)
        .map(|e| {
            let (i, j) = (e / n, e % n);
            let exact: f64 = (0..k).map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j])).sum();
            (f64::from(got[e]) - exact).abs()
        })
        .fold(0.0, f64::max);
    assert!(worst > 1e-2, "{backend}: C is within {worst} of the float32 product: not rounded?");

    let grads = (c * Tensor::<A, 2>::from_data(TensorData::new(w.clone(), [m, n]), &dev)).sum().backward();
    let da: Vec<f32> = at.grad(&grads).expect("dA").into_data().to_vec().expect("f32");
    let db: Vec<f32> = bt.grad(&grads).expect("dB").into_data().to_vec().expect("f32");
    // dA = W B^T: [m, n] x [n, k]; dB = A^T W: [k, m] x [m, n].
    close(backend, "dA", &da, &product(m, n, k, |i, j| w[i * n + j], |j, p| b[p * n + j]), n);
    close(backend, "dB", &db, &product(k, m, n, |p, i| a[i * k + p], |i, j| w[i * n + j]), m);
}
