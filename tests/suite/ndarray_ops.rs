//! The vendored burn-ndarray's patches (vendor/burn-ndarray/PATCHES.md) against host arithmetic: element-wise
//! ops must give exactly the f32 results computed here (both sides round the same single
//! operation), matrix products the f64 sums within float32 rounding, and a tensor that another
//! handle still holds must never be overwritten by an op done in place.
//!
//! Sizes: [300, 257] (77,100 elements) takes the multi-threaded path (32K elements or more),
//! [7, 5] the single-threaded one.

use burn::backend::NdArray;
use burn::tensor::{Tensor, TensorData};

type N = NdArray<f32>;

fn host(rows: usize, cols: usize, phase: f32) -> Vec<f32> {
    (0..rows * cols).map(|i| ((i as f32) * 0.731 + phase).sin() * 3.0 + 0.01).collect()
}

/// Distance of `got` from the exact value `want` in units of float32 spacing at `want`.
fn ulps(got: f32, want: f64) -> f64 {
    let w = want as f32;
    if w == 0.0 || !w.is_finite() {
        return if got == w { 0.0 } else { f64::INFINITY };
    }
    let spacing = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
    (got as f64 - want).abs() / spacing
}

fn tensor(v: &[f32], shape: [usize; 2]) -> Tensor<N, 2> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), &Default::default())
}

fn vals(t: Tensor<N, 2>) -> Vec<f32> {
    t.into_data().to_vec().expect("f32")
}

/// Same-shape and broadcast binary ops, scalar ops, with the left operand shared or not.
#[test]
fn element_wise_ops_equal_host_f32_arithmetic() {
    type Op = fn(f32, f32) -> f32;
    type TOp = fn(Tensor<N, 2>, Tensor<N, 2>) -> Tensor<N, 2>;
    let ops: [(&str, Op, TOp); 4] = [
        ("add", |a, b| a + b, |a, b| a + b),
        ("sub", |a, b| a - b, |a, b| a - b),
        ("mul", |a, b| a * b, |a, b| a * b),
        ("div", |a, b| a / b, |a, b| a / b),
    ];
    for (rows, cols) in [(300, 257), (7, 5)] {
        let a = host(rows, cols, 0.0);
        // rhs shapes: the same, a row broadcast over rows, a column broadcast over columns.
        let rhs = [(host(rows, cols, 1.0), [rows, cols]), (host(1, cols, 2.0), [1, cols]), (host(rows, 1, 3.0), [rows, 1])];
        for (name, op, top) in ops {
            for (b, b_shape) in &rhs {
                let expected: Vec<f32> = (0..rows * cols)
                    .map(|i| op(a[i], b[if b_shape[0] == 1 { i % cols } else if b_shape[1] == 1 { i / cols } else { i }]))
                    .collect();
                let what = format!("{name} {rows}x{cols} with {b_shape:?}");
                // Unique left operand (may be computed in place).
                assert_eq!(vals(top(tensor(&a, [rows, cols]), tensor(b, *b_shape))), expected, "{what}, unique");
                // Shared left operand: the result is right and the other handle is untouched.
                let held = tensor(&a, [rows, cols]);
                assert_eq!(vals(top(held.clone(), tensor(b, *b_shape))), expected, "{what}, shared");
                assert_eq!(vals(held), a, "{what}: a shared operand was overwritten");
            }
        }
        for (name, s, op) in [("add", 1.5f32, (|a, b| a + b) as Op), ("sub", 2.0, |a, b| a - b), ("mul", 0.37, |a, b| a * b), ("div", 3.0, |a, b| a / b)] {
            let expected: Vec<f32> = a.iter().map(|&x| op(x, s)).collect();
            let held = tensor(&a, [rows, cols]);
            let got = match name {
                "add" => held.clone().add_scalar(s),
                "sub" => held.clone().sub_scalar(s),
                "mul" => held.clone().mul_scalar(s),
                _ => held.clone().div_scalar(s),
            };
            assert_eq!(vals(got), expected, "{name}_scalar {rows}x{cols}");
            assert_eq!(vals(held), a, "{name}_scalar overwrote a shared operand");
        }
        let positive: Vec<f32> = a.iter().map(|x| x.abs() + 0.5).collect();
        let held = tensor(&positive, [rows, cols]);
        for (got, x) in vals(held.clone().exp()).into_iter().zip(&positive) {
            assert!(ulps(got, (*x as f64).exp()) <= 1.0, "exp({x}) = {got}");
        }
        assert_eq!(vals(held.clone().log()), positive.iter().map(|x| x.ln()).collect::<Vec<_>>(), "log");
        assert_eq!(vals(held.clone().sqrt()), positive.iter().map(|x| x.sqrt()).collect::<Vec<_>>(), "sqrt");
        assert_eq!(vals(held.clone().tanh()), positive.iter().map(|&x| (x as f64).tanh() as f32).collect::<Vec<_>>(), "tanh");
        assert_eq!(vals(held), positive, "a unary op overwrote a shared operand");
    }
}

/// Products with transposed and batched operands (views, no copies, in the patched crate) against
/// f64 sums: float32 accumulation of k terms errs by at most ~k * 6e-8 of the sum of |terms|.
#[test]
fn matmul_with_transposed_operands_matches_f64_sums() {
    let (m, k, n) = (300, 257, 130);
    let a = host(m, k, 0.0);
    let bt = host(n, k, 1.0); // b = bt^T, [k, n]
    let got = vals(tensor(&a, [m, k]).matmul(tensor(&bt, [n, k]).transpose()));
    for i in 0..m {
        for j in 0..n {
            let terms = (0..k).map(|p| a[i * k + p] as f64 * bt[j * k + p] as f64);
            let (sum, abs): (f64, f64) = terms.fold((0.0, 0.0), |(s, t), x| (s + x, t + x.abs()));
            let err = (got[i * n + j] as f64 - sum).abs();
            assert!(err <= 1e-7 * k as f64 * abs, "[{i}, {j}]: {} vs {sum}", got[i * n + j]);
        }
    }
    // Batched: [4, 30, 20] x [4, 30, 20]^T over the last two dims; a reshape after swap_dims.
    let x: Tensor<N, 3> = Tensor::from_data(TensorData::new(host(4 * 30, 20, 2.0), [4, 30, 20]), &Default::default());
    let xv: Vec<f32> = x.clone().into_data().to_vec().expect("f32");
    let gram: Vec<f32> = x.clone().matmul(x.clone().swap_dims(1, 2)).into_data().to_vec().expect("f32");
    for b in 0..4 {
        for i in 0..30 {
            for j in 0..30 {
                let dot: f64 = (0..20).map(|p| xv[(b * 30 + i) * 20 + p] as f64 * xv[(b * 30 + j) * 20 + p] as f64).sum();
                assert!((gram[(b * 30 + i) * 30 + j] as f64 - dot).abs() <= 1e-5 * dot.abs().max(1.0), "gram[{b},{i},{j}]");
            }
        }
    }
    let swapped: Vec<f32> = x.swap_dims(1, 2).reshape([4, 600]).into_data().to_vec().expect("f32");
    for b in 0..4 {
        for p in 0..20 {
            for i in 0..30 {
                assert_eq!(swapped[b * 600 + p * 30 + i], xv[(b * 30 + i) * 20 + p], "swap_dims + reshape");
            }
        }
    }
    let filled: Vec<f32> = Tensor::<N, 2>::full([300, 257], 0.25, &Default::default()).into_data().to_vec().expect("f32");
    assert!(filled.iter().all(|&v| v == 0.25) && filled.len() == 300 * 257, "full");
}
