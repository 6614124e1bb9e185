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

/// Checks `c` (row-major `m x n`) against `c0 +` the float64 product of the rounded operands
/// (`c0`: the output's values before, for `accumulate`; else zeros), element by element within
/// `gamma_{k+1} (|c0| + sum |a'_i b'_i|)` (the module's bound, with `c0` one more term of the sum;
/// `k u < 1e-3` here).
#[allow(clippy::too_many_arguments)]
fn check_from(c0: Option<&[f32]>, c: &[f32], a: &[f32], a_t: bool, b: &[f32], b_t: bool, m: usize, k: usize, n: usize) {
    let u = 2f64.powi(-24);
    let terms = (k + usize::from(c0.is_some())) as f64;
    let gamma = terms * u / (1.0 - terms * u);
    let mut worst = 0f64;
    for i in 0..m {
        for j in 0..n {
            let start = c0.map_or(0.0, |c0| f64::from(c0[i * n + j]));
            let (mut exact, mut magnitude) = (start, start.abs());
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

#[allow(clippy::too_many_arguments)]
fn check(c: &[f32], a: &[f32], a_t: bool, b: &[f32], b_t: bool, m: usize, k: usize, n: usize) {
    check_from(None, c, a, a_t, b, b_t, m, k, n);
}

/// `a b` with `kernel` (row-major slices, each read transposed when asked), on rayon's threads.
#[allow(clippy::too_many_arguments)]
fn product(kernel: Kernel, a: &[f32], a_t: bool, b: &[f32], b_t: bool, m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![f32::NAN; m * n];
    let (ars, acs) = if a_t { (1, m as isize) } else { (k as isize, 1) };
    let (brs, bcs) = if b_t { (1, k as isize) } else { (n as isize, 1) };
    let a = MatRef { ptr: a.as_ptr(), rows: m, cols: k, row_stride: ars, col_stride: acs };
    let b = MatRef { ptr: b.as_ptr(), rows: k, cols: n, row_stride: brs, col_stride: bcs };
    let out = MatMut { ptr: c.as_mut_ptr(), rows: m, cols: n, row_stride: n as isize, col_stride: 1 };
    unsafe { gemm_bf16_with(a, b, out, false, true, kernel) };
    c
}

/// The kernels this CPU runs (the float32 path always; the others where the CPU has them).
fn kernels() -> Vec<Kernel> {
    let mut here = Vec::new();
    for kernel in [Kernel::Portable, Kernel::Avx512, Kernel::Amx] {
        if kernel.runs_here() {
            here.push(kernel);
        } else {
            eprintln!("this CPU cannot run {kernel:?}");
        }
    }
    here
}

#[test]
fn products_match_float64_sums_of_the_rounded_operands_for_every_transpose() {
    // 37 rows: three tiles of 12 and a 1-row edge, one AMX panel and an edge of 5; k = 1201: odd,
    // 601 pairs, five KC blocks and two KC_AMX blocks (the second padded to 16 pairs); n = 70: two
    // NR panels and an edge of 6.
    let (m, k, n) = (37, 1201, 70);
    const { assert!(KC < 601 && 601 < 2 * KC_AMX && KC_AMX < 601) };
    let a = values(m * k, 1);
    let b = values(k * n, 2);
    for kernel in kernels() {
        for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
            let c = product(kernel, &a, a_t, &b, b_t, m, k, n);
            check(&c, &a, a_t, &b, b_t, m, k, n);
        }
    }
}

#[test]
fn blocks_of_rows_and_columns_and_threads_do_not_change_the_result() {
    // m = 200 > MC (two row blocks for the threads), n = 4200 > NC (two column blocks), k = 259.
    let (m, k, n) = (200, 259, 4200);
    let a = values(m * k, 3);
    let b = values(k * n, 4);
    let c = product(Kernel::best(), &a, false, &b, true, m, k, n);
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
    let before = values(m * n, 7);
    let view = |p: &[f32], rows, cols| MatRef { ptr: p.as_ptr(), rows, cols, row_stride: cols as isize, col_stride: 1 };
    for kernel in kernels() {
        let mut c = before.clone();
        let out = MatMut { ptr: c.as_mut_ptr(), rows: m, cols: n, row_stride: n as isize, col_stride: 1 };
        unsafe { gemm_bf16_with(view(&a, m, k), view(&b, k, n), out, true, true, kernel) };
        check_from(Some(&before), &c, &a, false, &b, false, m, k, n);
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
