//! Times causal attention's forward and backward passes (one autodiff node on ndarray) at GPT-2
//! 124M's shape, `[batch 4, heads 12, 1024, 64]`, in float32 and with bfloat16 products
//! (`training.precision = "bf16"`):
//!
//!     cargo run --release -p burngpt-ops --features ndarray --example attention
//!
//! Prints the median of 5 runs after one warm-up. Not a test: timings vary.

use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Tensor, TensorData};
use burngpt_ops::{causal_attention, causal_attention_bf16};

type B = Autodiff<NdArray<f32>>;

/// The burngpt binary's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn input(shape: [usize; 4], phase: f32) -> Tensor<B, 4> {
    let n = shape.iter().product::<usize>();
    let values: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.731 + phase).sin()).collect();
    Tensor::<B, 4>::from_data(TensorData::new(values, shape), &Default::default()).require_grad()
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn main() {
    let shape = [4, 12, 1024, 64];
    let (q, k, v) = (input(shape, 0.1), input(shape, 1.7), input(shape, 2.9));
    // Forward and backward each compute the causal half of `seq^2 x head_dim` multiply-adds per
    // pair: 2 products forward, 5 backward (the scores again, dv, dp, dq, dk).
    let pair_flops = 2.0 * (shape[2] * shape[2] * shape[3]) as f64 / 2.0;
    let pairs = (shape[0] * shape[1]) as f64;
    println!("attention {shape:?}, {} threads", rayon::current_num_threads());
    for bf16 in [false, true] {
        let (mut forward, mut backward) = (Vec::new(), Vec::new());
        for run in 0..6 {
            let t = Instant::now();
            let out = if bf16 {
                causal_attention_bf16(q.clone(), k.clone(), v.clone())
            } else {
                causal_attention(q.clone(), k.clone(), v.clone())
            };
            let out = out.sum();
            let _ = out.clone().into_data();
            let f = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let _grads = out.backward();
            let b = t.elapsed().as_secs_f64();
            if run > 0 {
                forward.push(f);
                backward.push(b);
            }
        }
        let (f, b) = (median(forward), median(backward));
        println!(
            "{:5}: forward {:7.1} ms ({:6.1} GFLOP/s), backward {:7.1} ms ({:6.1} GFLOP/s)",
            if bf16 { "bf16" } else { "fp32" },
            f * 1e3,
            2.0 * pair_flops * pairs / f / 1e9,
            b * 1e3,
            5.0 * pair_flops * pairs / b / 1e9
        );
    }
}
