//! Matrix products of bfloat16-rounded operands with float32 accumulation (`training.precision =
//! "bf16"` on the CPU).
//!
//! `C = A B` (or `C += A B`) for strided float32 matrices: the operands are rounded to bfloat16
//! (round to nearest even) while they are packed, two consecutive `k` per 32-bit word, and the
//! products accumulate in float32. Where the CPU has AVX-512 BF16 (`vdpbf16ps`: 32 products per
//! instruction, twice float32 FMA's) the micro-kernel uses it; elsewhere the same packed words go
//! through float32 arithmetic in the same order and give the same numbers (the products of two
//! bfloat16 values are exact in float32, so `acc + a * b` rounds once, as the instruction does).
//!
//! Blocking (BLIS's loops): columns in blocks of [`NC`], `k` in blocks of [`KC`] pairs (B's block
//! packed once, shared by the threads), rows in blocks of [`MC`] (each packed by the thread that
//! takes it), then [`MR`] x [`NR`] tiles. Every element of `C` is computed by one thread in the same
//! order whatever the number of threads: results do not depend on it.
//!
//! # Error bound
//!
//! With `a'`, `b'` the bfloat16-rounded operands, each product `a'_i b'_i` is exact in float32 (two
//! 8-bit significands make at most 16 bits, under float32's 24; values far from overflow and
//! underflow). The only rounding is the float32 sum of the `k` products, in any order: by the
//! standard bound for recursive summation (Higham, *Accuracy and Stability of Numerical
//! Algorithms*, 4.2), `|C - sum_i a'_i b'_i| <= gamma_{k} sum_i |a'_i b'_i|`, `gamma_k = k u / (1 -
//! k u)`, `u = 2^-24`; summing the `k` blocks into `C` adds at most one term per block to each
//! chain, inside the same `k` additions. The tests check this against float64 sums of the same
//! rounded operands.

mod amx;
mod kernel;
mod pack;
pub mod round;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use rayon::prelude::*;

pub use pack::{bf16_to_f32, to_bf16};

/// Rows of the micro-kernel's tile.
pub const MR: usize = 12;
/// Columns of the micro-kernel's tile (two 16-lane vectors).
pub const NR: usize = 32;
/// `k` pairs per block: a packed `NR`-column panel of B (16 KiB) stays in the L1 cache.
pub const KC: usize = 128;
/// Rows per block of A (a multiple of both kernels' panels, 12 and 32 rows): a packed block
/// (96 KiB) stays in the L2 cache.
pub const MC: usize = 192;
/// Columns per block of B: a packed block (2 MiB, in the L3 cache) shared by the threads; A's
/// blocks are packed again for each, so wide blocks keep that cost small (BLIS takes ~4k on Zen).
pub const NC: usize = 4096;

/// A float32 matrix in memory: `rows x cols`, element `(i, j)` at `ptr + i * row_stride + j *
/// col_stride` (strides in elements, possibly negative or zero for a broadcast row).
#[derive(Clone, Copy, Debug)]
pub struct Strided<P> {
    /// The element `(0, 0)`.
    pub ptr: P,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Elements between consecutive rows.
    pub row_stride: isize,
    /// Elements between consecutive columns.
    pub col_stride: isize,
}

// Safety: a `Strided` is a view that the functions here read (inputs) or write by disjoint row
// blocks (the output) from several threads; `gemm_bf16`'s contract keeps the memory valid.
unsafe impl<P> Send for Strided<P> {}
unsafe impl<P> Sync for Strided<P> {}

/// An input matrix.
pub type MatRef = Strided<*const f32>;
/// The output matrix.
pub type MatMut = Strided<*mut f32>;

/// Whether this CPU runs the AVX-512 BF16 micro-kernel (checked once).
pub fn has_avx512_bf16() -> bool {
    kernel::has_avx512_bf16()
}

/// Which micro-kernel computes the tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// float32 arithmetic on the packed bfloat16 values (any CPU).
    Portable,
    /// `vdpbf16ps` (AVX-512 BF16).
    Avx512,
    /// `tdpbf16ps` (AMX-BF16 tiles).
    Amx,
}

impl Kernel {
    /// The fastest this CPU runs: AMX, else AVX-512 BF16, else the float32 path (checked once;
    /// `BURNGPT_NO_AMX=1` leaves AMX out).
    pub fn best() -> Self {
        if kernel::has_avx512_bf16() && amx::available() {
            Kernel::Amx
        } else if kernel::has_avx512_bf16() {
            Kernel::Avx512
        } else {
            Kernel::Portable
        }
    }

    /// Whether this CPU runs it.
    pub fn runs_here(self) -> bool {
        match self {
            Kernel::Portable => true,
            Kernel::Avx512 => kernel::has_avx512_bf16(),
            Kernel::Amx => kernel::has_avx512_bf16() && amx::available(),
        }
    }
}

/// `c = a b` (or `c += a b` when `accumulate`) with bfloat16-rounded operands and float32
/// accumulation, on rayon's threads when `parallel` (a caller already parallel over many products
/// passes false), with [`Kernel::best`].
///
/// # Safety
/// `a`, `b` and `c` must be valid for their shapes and strides, `c` must not overlap `a` or `b`, and
/// `c`'s strides must not make two elements alias.
///
/// # Panics
/// When the shapes do not chain: `a: [m, k]`, `b: [k, n]`, `c: [m, n]`.
pub unsafe fn gemm_bf16(a: MatRef, b: MatRef, c: MatMut, accumulate: bool, parallel: bool) {
    gemm_bf16_with(a, b, c, accumulate, parallel, Kernel::best());
}

/// [`gemm_bf16`] with the micro-kernel chosen by the caller (one that [`Kernel::runs_here`]): the
/// tests compare them.
///
/// # Safety
/// As [`gemm_bf16`].
pub unsafe fn gemm_bf16_with(a: MatRef, b: MatRef, c: MatMut, accumulate: bool, parallel: bool, kernel: Kernel) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && c.rows == m && c.cols == n, "gemm_bf16: incompatible shapes");
    assert!(kernel.runs_here(), "gemm_bf16: this CPU cannot run {kernel:?}");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.ptr.offset(i as isize * c.row_stride + j as isize * c.col_stride) = 0.0;
                }
            }
        }
        return;
    }
    let pairs = k.div_ceil(2);
    let mut packed_b = Vec::new();
    for j0 in (0..n).step_by(NC) {
        let nc = NC.min(n - j0);
        for p0 in (0..pairs).step_by(KC) {
            // AMX reads whole tiles of 16 pairs: the packing pads with zeros past `k`.
            let kc = match kernel {
                Kernel::Amx => KC.min(pairs - p0).next_multiple_of(amx::PAIRS),
                _ => KC.min(pairs - p0),
            };
            pack::pack_b(b, p0, kc, j0, nc, &mut packed_b);
            let first = p0 == 0 && !accumulate;
            let block = |i0: usize| {
                let mc = MC.min(m - i0);
                let mut packed_a = Vec::new();
                // Safety (both): `a` is valid (the caller's contract); each row block writes only
                // its own rows of `c`.
                unsafe {
                    if kernel == Kernel::Amx {
                        pack::pack_a_rows(a, i0, mc, p0, kc, &mut packed_a);
                        amx_loops(&packed_a, &packed_b, kc, c, i0, mc, j0, nc, first);
                    } else {
                        pack::pack_a(a, i0, mc, p0, kc, &mut packed_a);
                        macro_loops(&packed_a, &packed_b, kc, c, i0, mc, j0, nc, first, kernel == Kernel::Avx512);
                    }
                }
            };
            let blocks: Vec<usize> = (0..m).step_by(MC).collect();
            if parallel && blocks.len() > 1 {
                blocks.into_par_iter().for_each(block);
            } else {
                blocks.into_iter().for_each(block);
            }
        }
    }
}

/// Writes a row-major `rows x cols` piece of `tile` (`NR` floats per row) to `c` at `(i, j)`:
/// stored when `first`, else added.
unsafe fn write_tile(tile: &[f32], c: MatMut, i: usize, j: usize, rows: usize, cols: usize, first: bool) {
    for r in 0..rows {
        let row = c.ptr.offset((i + r) as isize * c.row_stride);
        for (s, value) in tile[r * NR..r * NR + cols].iter().enumerate() {
            let dst = row.offset((j + s) as isize * c.col_stride);
            *dst = if first { *value } else { *dst + *value };
        }
    }
}

/// [`macro_loops`] with AMX tiles: 32-row panels of A (`pack_a_rows`' layout) against 32-column
/// panels of B.
#[allow(clippy::too_many_arguments)]
unsafe fn amx_loops(
    packed_a: &[u32],
    packed_b: &[u32],
    kc: usize,
    c: MatMut,
    i0: usize,
    mc: usize,
    j0: usize,
    nc: usize,
    first: bool,
) {
    let mut tile = [0f32; amx::MR_AMX * NR];
    for jr in (0..nc).step_by(NR) {
        let b_panel = &packed_b[jr / NR * kc * NR..][..kc * NR];
        for ir in (0..mc).step_by(amx::MR_AMX) {
            let a_panel = &packed_a[ir / amx::MR_AMX * kc * amx::MR_AMX..][..kc * amx::MR_AMX];
            amx::tile(a_panel.as_ptr(), kc, b_panel.as_ptr(), kc, &mut tile);
            write_tile(&tile, c, i0 + ir, j0 + jr, amx::MR_AMX.min(mc - ir), NR.min(nc - jr), first);
        }
    }
}

/// The tiles of one packed A block against one packed B block, written to `c`'s rows `i0..i0 + mc`
/// and columns `j0..j0 + nc` (stored when `first`, else added).
#[allow(clippy::too_many_arguments)]
unsafe fn macro_loops(
    packed_a: &[u32],
    packed_b: &[u32],
    kc: usize,
    c: MatMut,
    i0: usize,
    mc: usize,
    j0: usize,
    nc: usize,
    first: bool,
    simd: bool,
) {
    let mut tile = [0f32; MR * NR];
    for jr in (0..nc).step_by(NR) {
        let b_panel = &packed_b[jr / NR * kc * NR..][..kc * NR];
        for ir in (0..mc).step_by(MR) {
            let a_panel = &packed_a[ir / MR * kc * MR..][..kc * MR];
            kernel::tile(a_panel, b_panel, kc, &mut tile, simd);
            write_tile(&tile, c, i0 + ir, j0 + jr, MR.min(mc - ir), NR.min(nc - jr), first);
        }
    }
}

/// `lhs rhs` of float32 arrays `[.., m, k] x [.., k, n] -> [.., m, n]` (equal leading dimensions),
/// each product on rayon's threads: the ndarray backend's `fused_matmul_bf16`.
///
/// # Panics
/// When the shapes do not chain.
pub fn matmul(lhs: &ArrayViewD<f32>, rhs: &ArrayViewD<f32>) -> ArrayD<f32> {
    let (ls, rs) = (lhs.shape(), rhs.shape());
    let rank = ls.len();
    assert!(
        rank >= 2 && rs.len() == rank && ls[..rank - 2] == rs[..rank - 2] && ls[rank - 1] == rs[rank - 2],
        "matmul_bf16: incompatible shapes {ls:?} and {rs:?}"
    );
    let mut shape = ls.to_vec();
    shape[rank - 1] = rs[rank - 1];
    let mut out = ArrayD::<f32>::zeros(shape);
    product_into(lhs.view(), rhs.view(), out.view_mut());
    out
}

/// `out = lhs rhs` along the leading dimensions, one 2-D product each.
fn product_into(lhs: ArrayViewD<f32>, rhs: ArrayViewD<f32>, mut out: ArrayViewMutD<f32>) {
    if lhs.ndim() > 2 {
        for ((l, r), o) in lhs.outer_iter().zip(rhs.outer_iter()).zip(out.outer_iter_mut()) {
            product_into(l, r, o);
        }
        return;
    }
    let strided = |v: &ArrayViewD<f32>| MatRef {
        ptr: v.as_ptr(),
        rows: v.shape()[0],
        cols: v.shape()[1],
        row_stride: v.strides()[0],
        col_stride: v.strides()[1],
    };
    let (a, b) = (strided(&lhs), strided(&rhs));
    let (rows, cols, strides) = (out.shape()[0], out.shape()[1], out.strides().to_vec());
    let c = MatMut { ptr: out.as_mut_ptr(), rows, cols, row_stride: strides[0], col_stride: strides[1] };
    // Safety: the views are valid for their shapes and strides, and `out` is a fresh array that
    // overlaps neither input.
    unsafe { gemm_bf16(a, b, c, false, true) };
}

/// `c = a b` for row-major slices (`a: [m, k]`, `b: [k, n]`), `a` or `b` read transposed when
/// asked (then given as `[k, m]` / `[n, k]`): the tests' and the benches' entry point.
pub fn gemm_bf16_slices(a: &[f32], a_t: bool, b: &[f32], b_t: bool, m: usize, k: usize, n: usize) -> Vec<f32> {
    assert!(a.len() == m * k && b.len() == k * n, "gemm_bf16_slices: lengths");
    let mut c = vec![f32::NAN; m * n];
    let (ars, acs) = if a_t { (1, m as isize) } else { (k as isize, 1) };
    let (brs, bcs) = if b_t { (1, k as isize) } else { (n as isize, 1) };
    let a = MatRef { ptr: a.as_ptr(), rows: m, cols: k, row_stride: ars, col_stride: acs };
    let b = MatRef { ptr: b.as_ptr(), rows: k, cols: n, row_stride: brs, col_stride: bcs };
    let out = MatMut { ptr: c.as_mut_ptr(), rows: m, cols: n, row_stride: n as isize, col_stride: 1 };
    // Safety: the three matrices are the slices' own memory, with the shapes checked above.
    unsafe { gemm_bf16(a, b, out, false, true) };
    c
}

#[cfg(test)]
mod tests;
