//! `causal_attention`, one autodiff node: on ndarray the block-causal tiled kernel and its
//! backward, elsewhere the defaults from Burn's ops. Against f64 host arithmetic: the output against `softmax(q k^T / sqrt(d)) v`, the gradients of
//! `sum(w * out)` against central finite differences of that f64 function.
//!
//! Shapes cross the kernel's 32-row tiles (70 = 32 + 32 + 6) and cover the three causal cases:
//! as many queries as keys (training), fewer queries than keys (decoding after a KV cache; query
//! `i` sees keys up to `i + seq_k - seq_q`) and more queries than keys (the first queries see
//! nothing: zero output and zero gradient, as in Burn's attention fallback).

mod common;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use burngpt_ops::{causal_attention, FusedOps};

/// `[batch, heads, seq_q, seq_k, head_dim]` and whether the mask is causal.
const CASES: [([usize; 5], bool); 3] = [([1, 2, 70, 70, 4], true), ([2, 1, 3, 70, 4], true), ([1, 2, 40, 35, 4], true)];

fn host(n: usize, phase: f64) -> Vec<f64> {
    // Values of order 1, rounded to float32 so that both sides start from the same numbers.
    (0..n).map(|i| (((i as f64) * 0.731 + phase).sin() * 1.5) as f32 as f64).collect()
}

/// `softmax(q k^T / sqrt(d)) v` in f64; queries that see no key give zeros.
fn host_attention(q: &[f64], k: &[f64], v: &[f64], [b, h, tq, tk, d]: [usize; 5], causal: bool) -> Vec<f64> {
    let scale = 1.0 / (d as f64).sqrt();
    let mut out = vec![0.0; b * h * tq * d];
    for bh in 0..b * h {
        let (q, k, v) = (&q[bh * tq * d..], &k[bh * tk * d..], &v[bh * tk * d..]);
        for i in 0..tq {
            let seen = if causal { (i + 1 + tk).saturating_sub(tq).min(tk) } else { tk };
            let s: Vec<f64> =
                (0..seen).map(|j| (0..d).map(|c| q[i * d + c] * k[j * d + c]).sum::<f64>() * scale).collect();
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
            let total: f64 = e.iter().sum();
            for c in 0..d {
                out[(bh * tq + i) * d + c] = (0..seen).map(|j| e[j] / total * v[j * d + c]).sum::<f64>();
            }
        }
    }
    out
}

fn check<A: AutodiffBackend + FusedOps>(backend: &str) {
    let dev = Default::default();
    for (dims, causal) in CASES {
        let [b, h, tq, tk, d] = dims;
        let (q, k, v, w) = (host(b * h * tq * d, 0.1), host(b * h * tk * d, 1.7), host(b * h * tk * d, 2.9), host(b * h * tq * d, 4.3));
        let want = host_attention(&q, &k, &v, dims, causal);
        let loss = |q: &[f64], k: &[f64], v: &[f64]| -> f64 {
            host_attention(q, k, v, dims, causal).iter().zip(&w).map(|(o, w)| o * w).sum()
        };
        let tensor = |x: &[f64], t: usize| {
            let data = TensorData::new(x.iter().map(|&x| x as f32).collect::<Vec<_>>(), [b, h, t, d]);
            Tensor::<A, 4>::from_data(data, &dev).require_grad()
        };
        let (qt, kt, vt) = (tensor(&q, tq), tensor(&k, tk), tensor(&v, tk));
        let out = causal_attention(qt.clone(), kt.clone(), vt.clone());
        let what = format!("{backend} {dims:?} causal {causal}");
        let got: Vec<f32> = out.clone().into_data().to_vec().expect("f32");
        for (i, (&g, &e)) in got.iter().zip(&want).enumerate() {
            assert!((g as f64 - e).abs() <= 2e-6 * (1.0 + e.abs()), "{what} output [{i}]: {g} vs {e}");
        }
        if tq > tk && causal {
            // the first tq - tk queries see no key
            assert!(got[..(tq - tk) * d].iter().all(|&x| x == 0.0), "{what}: unmasked rows must be zero");
        }
        let wt = Tensor::<A, 4>::from_data(TensorData::new(w.iter().map(|&x| x as f32).collect::<Vec<_>>(), [b, h, tq, d]), &dev);
        let grads = (out * wt).sum().backward();
        let h_step = 1e-5;
        for (name, t, x) in [("q", &qt, &q), ("k", &kt, &k), ("v", &vt, &v)] {
            let grad: Vec<f32> = t.grad(&grads).expect("gradient").into_data().to_vec().expect("f32");
            for i in 0..x.len() {
                let mut inputs = [q.clone(), k.clone(), v.clone()];
                let which = ["q", "k", "v"].iter().position(|n| *n == name).expect("name");
                inputs[which][i] += h_step;
                let up = loss(&inputs[0], &inputs[1], &inputs[2]);
                inputs[which][i] -= 2.0 * h_step;
                let down = loss(&inputs[0], &inputs[1], &inputs[2]);
                let fd = (up - down) / (2.0 * h_step);
                // float32 sums over up to 70 keys of terms of order 1
                assert!((grad[i] as f64 - fd).abs() <= 2e-5 * (1.0 + fd.abs()), "{what} d{name} [{i}]: {} vs {fd}", grad[i]);
            }
        }
    }
}

backend_tests!(check);
