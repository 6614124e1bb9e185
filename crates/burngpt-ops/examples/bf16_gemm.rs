//! Times the bfloat16 GEMM against the float32 `gemm` crate (what burn-ndarray's products use
//! here) on GPT-2 124M's products (batch 4 x 1024 tokens), forward and both backward transposes:
//!
//!     cargo run --release -p burngpt-ops --features ndarray --example bf16_gemm
//!
//! Prints GFLOP/s for each (median of 5 runs after one warm-up). Not a test: timings vary.

use std::time::Instant;

use burngpt_ops::bf16_gemm::{gemm_bf16, Kernel, MatMut, MatRef};

fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * 0.731).sin()).collect()
}

/// `c = a b` with row-major `a: [m, k]` (or `[k, m]` read transposed) and `b: [k, n]` (or `[n, k]`).
fn shapes(a_t: bool, b_t: bool, m: usize, k: usize, n: usize) -> (isize, isize, isize, isize) {
    let (ars, acs) = if a_t { (1, m as isize) } else { (k as isize, 1) };
    let (brs, bcs) = if b_t { (1, k as isize) } else { (n as isize, 1) };
    (ars, acs, brs, bcs)
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn main() {
    println!("kernel: {:?}, threads: {}", Kernel::best(), rayon::current_num_threads());
    // (name, a transposed, b transposed, m, k, n)
    let cases = [
        ("c_fc forward     x W", false, false, 4096, 768, 3072),
        ("c_fc dX          g W^T", false, true, 4096, 3072, 768),
        ("c_fc dW          x^T g", true, false, 768, 4096, 3072),
        ("lm_head forward  x E^T", false, true, 4096, 768, 50304),
        ("lm_head dX       g E", false, false, 4096, 50304, 768),
        ("lm_head dE       g^T x", true, false, 50304, 4096, 768),
    ];
    for (name, a_t, b_t, m, k, n) in cases {
        let (a, b) = (values(m * k), values(k * n));
        let mut c = vec![0f32; m * n];
        let (ars, acs, brs, bcs) = shapes(a_t, b_t, m, k, n);
        let flops = 2.0 * (m * k * n) as f64;
        let mut bf16 = Vec::new();
        let mut f32s = Vec::new();
        for run in 0..6 {
            let t = Instant::now();
            let am = MatRef { ptr: a.as_ptr(), rows: m, cols: k, row_stride: ars, col_stride: acs };
            let bm = MatRef { ptr: b.as_ptr(), rows: k, cols: n, row_stride: brs, col_stride: bcs };
            let cm = MatMut { ptr: c.as_mut_ptr(), rows: m, cols: n, row_stride: n as isize, col_stride: 1 };
            unsafe { gemm_bf16(am, bm, cm, false, true) };
            let bf = t.elapsed().as_secs_f64();
            let t = Instant::now();
            unsafe {
                gemm::gemm(
                    m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), acs, ars, b.as_ptr(), bcs, brs,
                    0.0f32, 1.0f32, false, false, false, gemm::Parallelism::Rayon(0),
                )
            };
            let f = t.elapsed().as_secs_f64();
            if run > 0 {
                bf16.push(bf);
                f32s.push(f);
            }
        }
        let (bf, f) = (median(bf16), median(f32s));
        println!(
            "{name:24} {m:>5} x {k:>5} x {n:>5}: bf16 {:7.1} GFLOP/s ({:7.1} ms), f32 gemm {:7.1} GFLOP/s ({:7.1} ms), {:.2}x",
            flops / bf / 1e9, bf * 1e3, flops / f / 1e9, f * 1e3, f / bf
        );
    }
}
