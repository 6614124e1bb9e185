//! `causal_attention_bf16`: on ndarray the tiled kernel's products through the bfloat16 GEMM
//! (operands rounded to bfloat16, float32 sums), elsewhere Burn's `cast` and the backend's matmul.
//! Against a float64 model of the same computation: every product's operands rounded to bfloat16
//! where the kernel rounds them (q, k, v and the output's gradient; the probabilities `p` before
//! `p v` and `p^T do`; `ds` before `ds k` and `ds^T q`), the softmax and `ds = scale * p * (dp -
//! rowsum(p * dp))` on unrounded values. The output and the gradients of `sum(w * out)`.
//!
//! Tolerance, for an element `x = sum_j a_j b_j` with magnitude `M = sum_j |a_j b_j|`: the float32
//! sums are within `gamma_k M` (`k <= 70`: under `5e-6 M`); an operand computed in float32 (`p`,
//! `ds`) can round to the neighbouring bfloat16 value of the float64 model's, one unit in its last
//! place, at most `2^-7` of it: at most `2^-7 M` in all. The float32 errors before `ds`'s
//! subtraction are absolute, `2e-5 (1 + |x|)` covers them. The cast path also rounds every
//! product's result (the scores before the softmax included) to bfloat16: `2^-4 M` there. Shapes
//! cross the float32 kernel's tiles; head_dim 8.

mod common;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use burngpt_ops::{causal_attention_bf16, FusedOps};

/// `x` rounded to the nearest bfloat16 (ties to even).
fn bf(x: f64) -> f64 {
    let bits = (x as f32).to_bits();
    f64::from(f32::from_bits(bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) & 0xffff_0000))
}

/// `(sum_j a_j b_j, sum_j |a_j b_j|)` over `j < n`, operands rounded.
fn dot(n: usize, a: impl Fn(usize) -> f64, b: impl Fn(usize) -> f64) -> (f64, f64) {
    (0..n).fold((0.0, 0.0), |(s, m), j| {
        let t = bf(a(j)) * bf(b(j));
        (s + t, m + t.abs())
    })
}

/// The model for one (batch, head) pair with `t` queries and keys: output, dq, dk, dv, each as
/// (value, magnitude), for the loss `sum(w * out)`.
fn model(q: &[f64], k: &[f64], v: &[f64], w: &[f64], t: usize, d: usize) -> [Vec<(f64, f64)>; 4] {
    let scale = 1.0 / (d as f64).sqrt();
    let mut p = vec![0.0; t * t];
    for i in 0..t {
        let s: Vec<f64> = (0..=i).map(|j| dot(d, |c| q[i * d + c], |c| k[j * d + c]).0 * scale).collect();
        let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = s.iter().map(|x| (x - max).exp()).sum();
        for j in 0..=i {
            p[i * t + j] = (s[j] - max).exp() / total;
        }
    }
    let out = (0..t * d).map(|e| dot(t, |j| p[e / d * t + j], |j| v[j * d + e % d])).collect();
    // dp = do v^T (do = w), ds = scale p (dp - rowsum(p dp)).
    let mut ds = vec![0.0; t * t];
    for i in 0..t {
        let dp: Vec<f64> = (0..=i).map(|j| dot(d, |c| w[i * d + c], |c| v[j * d + c]).0).collect();
        let rowsum: f64 = (0..=i).map(|j| p[i * t + j] * dp[j]).sum();
        for j in 0..=i {
            ds[i * t + j] = scale * p[i * t + j] * (dp[j] - rowsum);
        }
    }
    let dq = (0..t * d).map(|e| dot(t, |j| ds[e / d * t + j], |j| k[j * d + e % d])).collect();
    let dk = (0..t * d).map(|e| dot(t, |i| ds[i * t + e / d], |i| q[i * d + e % d])).collect();
    let dv = (0..t * d).map(|e| dot(t, |i| p[i * t + e / d], |i| w[i * d + e % d])).collect();
    [out, dq, dk, dv]
}

fn host(n: usize, phase: f64) -> Vec<f64> {
    (0..n).map(|i| (((i as f64) * 0.731 + phase).sin() * 1.5) as f32 as f64).collect()
}

fn check<A: AutodiffBackend + FusedOps>(backend: &str) {
    let dev = Default::default();
    let [b, h, t, d] = [1, 2, 70, 8];
    let (q, k, v, w) = (host(b * h * t * d, 0.1), host(b * h * t * d, 1.7), host(b * h * t * d, 2.9), host(b * h * t * d, 4.3));
    let tensor = |x: &[f64]| {
        let data = TensorData::new(x.iter().map(|&x| x as f32).collect::<Vec<_>>(), [b, h, t, d]);
        Tensor::<A, 4>::from_data(data, &dev).require_grad()
    };
    let (qt, kt, vt, wt) = (tensor(&q), tensor(&k), tensor(&v), tensor(&w));
    let out = causal_attention_bf16(qt.clone(), kt.clone(), vt.clone());
    let grads = (out.clone() * wt).sum().backward();
    let got = [
        out.into_data(),
        qt.grad(&grads).expect("dq").into_data(),
        kt.grad(&grads).expect("dk").into_data(),
        vt.grad(&grads).expect("dv").into_data(),
    ]
    .map(|x| x.to_vec::<f32>().expect("f32"));
    let spread = if backend == "ndarray" { 2f64.powi(-7) + 5e-6 } else { 2f64.powi(-4) };
    let mut unrounded_worst = 0f64;
    for pair in 0..b * h {
        let at = |x: &[f64]| x[pair * t * d..(pair + 1) * t * d].to_vec();
        let want = model(&at(&q), &at(&k), &at(&v), &at(&w), t, d);
        for (name, (got, want)) in ["out", "dq", "dk", "dv"].iter().zip(got.iter().zip(&want)) {
            for (i, (&g, &(x, magnitude))) in got[pair * t * d..].iter().zip(want).enumerate() {
                let bound = spread * magnitude + 2e-5 * (1.0 + x.abs());
                assert!((f64::from(g) - x).abs() <= bound, "{backend} {name}[{pair}, {i}]: {g} vs {x} (bound {bound})");
            }
        }
        // The operands really are rounded: the float64 attention of the unrounded values is far
        // from the output somewhere.
        let scale = 1.0 / (d as f64).sqrt();
        let (q, k, v) = (at(&q), at(&k), at(&v));
        for i in 0..t {
            let s: Vec<f64> = (0..=i).map(|j| (0..d).map(|c| q[i * d + c] * k[j * d + c]).sum::<f64>() * scale).collect();
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = s.iter().map(|x| (x - max).exp()).sum();
            for c in 0..d {
                let exact: f64 = (0..=i).map(|j| (s[j] - max).exp() / total * v[j * d + c]).sum();
                unrounded_worst = unrounded_worst.max((f64::from(got[0][pair * t * d + i * d + c]) - exact).abs());
            }
        }
    }
    assert!(unrounded_worst > 1e-3, "{backend}: the output is within {unrounded_worst} of float64's: not rounded?");
}

backend_tests!(check);
