//! The bfloat16 products against float64 sums of the same rounded operands (the bound in the
//! module's docs), on sizes that are not multiples of the tiles and blocks, with both operands read
//! transposed as the backward pass reads them; the AVX-512 BF16 kernel against the float32 path.

use super::*;

/// Deterministic values in [-2, 2) with every bit of the float32 significand used (so the rounding
/// to bfloat16 matters), from a 64-bit LCG.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

fn rounded(x: f32) -> f64 {
    f64::from(bf16_to_f32(to_bf16(x)))
}

/// Checks `c` (row-major `m x n`) against the float64 product of the rounded operands, element by
/// element within `gamma_k * sum |a'_i b'_i|` (the module's bound; `k u < 1e-3` here).
fn check(c: &[f32], a: &[f32], a_t: bool, b: &[f32], b_t: bool, m: usize, k: usize, n: usize) {
    let u = 2f64.powi(-24);
    let gamma = k as f64 * u / (1.0 - k as f64 * u);
    let mut worst = 0f64;
    for i in 0..m {
        for j in 0..n {
            let (mut exact, mut magnitude) = (0f64, 0f64);
            for p in 0..k {
                let x = rounded(if a_t { a[p * m + i] } else { a[i * k + p] });
                let y = rounded(if b_t { b[j * k + p] } else { b[p * n + j] });
                exact += x * y;
                magnitude += (x * y).abs();
            }
            let err = (f64::from(c[i * n + j]) - exact).abs();
            assert!(err <= gamma * magnitude, "({i}, {j}) of {m}x{k}x{n}: error {err}, bound {}", gamma * magnitude);
            worst = worst.max(err / (gamma * magnitude).max(f64::MIN_POSITIVE));
        }
    }
    // Not a vacuous bound: the errors use a visible part of it (random rounding: ~sqrt(k) of k).
    assert!(worst > 1e-4, "largest error / bound = {worst}");
}

#[test]
fn products_match_float64_sums_of_the_rounded_operands_for_every_transpose() {
    // 37 rows: three tiles and a 1-row edge; k = 301: odd, two KC blocks; n = 70: two NR panels and
    // an edge of 6.
    let (m, k, n) = (37, 301, 70);
    let a = values(m * k, 1);
    let b = values(k * n, 2);
    for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
        let c = gemm_bf16_slices(&a, a_t, &b, b_t, m, k, n);
        check(&c, &a, a_t, &b, b_t, m, k, n);
    }
}

#[test]
fn blocks_of_rows_and_columns_and_threads_do_not_change_the_result() {
    // m = 200 > MC (two row blocks for the threads), n = 4200 > NC (two column blocks), k = 259.
    let (m, k, n) = (200, 259, 4200);
    let a = values(m * k, 3);
    let b = values(k * n, 4);
    let c = gemm_bf16_slices(&a, false, &b, true, m, k, n);
    check(&c, &a, false, &b, true, m, k, n);
    let mut serial = vec![0f32; m * n];
    let view = |p: &[f32], rows, cols, rs, cs| MatRef { ptr: p.as_ptr(), rows, cols, row_stride: rs, col_stride: cs };
    let out = MatMut { ptr: serial.as_mut_ptr(), rows: m, cols: n, row_stride: n as isize, col_stride: 1 };
    unsafe { gemm_bf16(view(&a, m, k, k as isize, 1), view(&b, k, n, 1, k as isize), out, false, false) };
    assert!(c.iter().zip(&serial).all(|(x, y)| x.to_bits() == y.to_bits()), "threads change nothing");
}

#[test]
fn accumulate_adds_to_the_output() {
    let (m, k, n) = (13, 20, 33);
    let a = values(m * k, 5);
    let b = values(k * n, 6);
    let product = gemm_bf16_slices(&a, false, &b, false, m, k, n);
    let mut c = values(m * n, 7);
    let before = c.clone();
    let view = |p: &[f32], rows, cols| MatRef { ptr: p.as_ptr(), rows, cols, row_stride: cols as isize, col_stride: 1 };
    let out = MatMut { ptr: c.as_mut_ptr(), rows: m, cols: n, row_stride: n as isize, col_stride: 1 };
    unsafe { gemm_bf16(view(&a, m, k), view(&b, k, n), out, true, true) };
    // One k block: the tile is computed, then added once to c, so c = before + product exactly.
    for i in 0..m * n {
        assert_eq!(c[i], before[i] + product[i], "element {i}");
    }
}

#[test]
fn the_avx512_kernel_equals_the_float32_path_and_amx_keeps_the_bound() {
    // k = 513: pairs past a tile of 16 (AMX pads with zeros); m = 45 > 32 (two AMX panels, one partial).
    let (m, k, n) = (45, 513, 45);
    let a = values(m * k, 8);
    let b = values(k * n, 9);
    let view = |p: &[f32], rows, cols| MatRef { ptr: p.as_ptr(), rows, cols, row_stride: cols as isize, col_stride: 1 };
    let run = |kernel| {
        let mut c = vec![0f32; m * n];
        let out = MatMut { ptr: c.as_mut_ptr(), rows: m, cols: n, row_stride: n as isize, col_stride: 1 };
        unsafe { gemm_bf16_with(view(&a, m, k), view(&b, k, n), out, false, true, kernel) };
        c
    };
    let portable = run(Kernel::Portable);
    check(&portable, &a, false, &b, false, m, k, n);
    for kernel in [Kernel::Avx512, Kernel::Amx] {
        if !kernel.runs_here() {
            eprintln!("this CPU cannot run {kernel:?}");
            continue;
        }
        let got = run(kernel);
        check(&got, &a, false, &b, false, m, k, n);
        // AMX sums inside its tiles in an order of its own: within the bound, repeatable, but not
        // the float32 path's numbers. vdpbf16ps follows its documented order: the same numbers.
        let want = if kernel == Kernel::Amx { run(Kernel::Amx) } else { portable.clone() };
        for i in 0..m * n {
            assert_eq!(got[i].to_bits(), want[i].to_bits(), "{kernel:?} element {i}: {} vs {}", got[i], want[i]);
        }
    }
}
