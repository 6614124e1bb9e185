//! Matrix products of bfloat16-rounded operands with float32 accumulation (`training.precision =
//! "bf16"` on the CPU).
//!
//! `C = A B` (or `C += A B`) for strided float32 matrices: the operands are rounded to bfloat16
//! (round to nearest even) while they are packed, two consecutive `k` per 32-bit word, and the
//! products accumulate in float32. [`Kernel::best`] picks AMX tiles (`tdpbf16ps`), else AVX-512
//! BF16 (`vdpbf16ps`: 32 products per instruction, twice float32 FMA's), else float32 arithmetic
//! on the same packed words in the same order as `vdpbf16ps`, with its numbers (the products of two
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
mod convert;
mod kernel;
mod pack;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use rayon::prelude::*;

pub use convert::{bf16_to_f32, to_bf16};

/// Rows of the micro-kernel's tile.
pub const MR: usize = 12;
/// Columns of the micro-kernel's tile (two 16-lane vectors).
pub const NR: usize = 32;
/// `k` pairs per block: a packed `NR`-column panel of B (16 KiB) stays in the L1 cache.
pub const KC: usize = 128;
/// `k` pairs per block with AMX (a multiple of its tiles' 16): C's tiles are loaded and stored
/// once per block, so long blocks keep that traffic small; a 32-column panel of B (64 KiB) and a
/// 32-row panel of A stream from the L2 cache.
pub const KC_AMX: usize = 512;
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

impl<P> Strided<P> {
    /// The matrix at `ptr` with ndarray's `shape` and `strides` (two of each).
    pub fn of(ptr: P, shape: &[usize], strides: &[isize]) -> Self {
        assert!(shape.len() == 2 && strides.len() == 2, "a matrix has two dimensions");
        Self { ptr, rows: shape[0], cols: shape[1], row_stride: strides[0], col_stride: strides[1] }
    }
}

// Safety: a `Strided` is a view that the functions here read (inputs) or write by disjoint row
// blocks (the output) from several threads; `gemm_bf16`'s contract keeps the memory valid.
unsafe impl<P> Send for Strided<P> {}
unsafe impl<P> Sync for Strided<P> {}

/// An input matrix.
pub type MatRef = Strided<*const f32>;
/// The output matrix.
pub type MatMut = Strided<*mut f32>;

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
    let kc_max = if kernel == Kernel::Amx { KC_AMX } else { KC };
    let mut packed_b = Vec::new();
    for j0 in (0..n).step_by(NC) {
        let nc = NC.min(n - j0);
        for p0 in (0..pairs).step_by(kc_max) {
            // AMX reads whole tiles of 16 pairs: the packing pads with zeros past `k`.
            let kc = match kernel {
                Kernel::Amx => kc_max.min(pairs - p0).next_multiple_of(amx::PAIRS),
                _ => kc_max.min(pairs - p0),
            };
            pack_b(b, p0, kc, j0, nc, &mut packed_b, parallel);
            let first = p0 == 0 && !accumulate;
            let block = |i0: usize| {
                let mc = MC.min(m - i0);
                let mut packed_a = Vec::new();
                // Safety (both): `a` is valid (the caller's contract); each row block writes only
                // its own rows of `c`.
                unsafe {
                    if kernel == Kernel::Amx {
                        pack::pack_rows(a, i0, mc, p0, kc, amx::MR_AMX, &mut packed_a);
                    } else {
                        pack::pack_panels::<MR>(pack::transposed(a), p0, kc, i0, mc, &mut packed_a);
                    }
                    tiles(kernel, &packed_a, &packed_b, kc, c, i0, mc, j0, nc, first);
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

/// Packs B's block (columns `j0..j0 + nc`, pairs `p0..p0 + kc`) into `out`, [`NR`]-column panels
/// shared out among rayon's threads when `parallel`.
///
/// # Safety
/// `b` must be valid for its shape and strides.
unsafe fn pack_b(b: MatRef, p0: usize, kc: usize, j0: usize, nc: usize, out: &mut Vec<u32>, parallel: bool) {
    /// Columns per piece of work.
    const COLS: usize = 8 * NR;
    if !parallel || nc <= COLS {
        return pack::pack_panels::<NR>(b, p0, kc, j0, nc, out);
    }
    out.clear();
    out.resize(nc.div_ceil(NR) * kc * NR, 0);
    out.par_chunks_mut(COLS / NR * kc * NR).enumerate().for_each(|(piece, dst)| {
        let j = piece * COLS;
        // Safety: as the caller's; each piece packs its own columns.
        unsafe { pack::pack_panels_into::<NR>(b, p0, kc, j0 + j, COLS.min(nc - j), dst) };
    });
}

/// Copies a `rows x cols` piece of `c` at `(i, j)` into `tile` (row-major, [`NR`] floats per row).
unsafe fn read_tile(tile: &mut [f32], c: MatMut, i: usize, j: usize, rows: usize, cols: usize) {
    for r in 0..rows {
        let row = c.ptr.offset((i + r) as isize * c.row_stride);
        for (s, value) in tile[r * NR..r * NR + cols].iter_mut().enumerate() {
            *value = *row.offset((j + s) as isize * c.col_stride);
        }
    }
}

/// Writes a row-major `rows x cols` piece of `tile` ([`NR`] floats per row) to `c` at `(i, j)`:
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

/// The tiles of one packed A block against one packed B block, written to `c`'s rows `i0..i0 + mc`
/// and columns `j0..j0 + nc` (stored when `first`, else added). AMX sums into `c` in place (its
/// tiles load `c` when not `first`); the other kernels compute a tile, then store or add it.
#[allow(clippy::too_many_arguments)]
unsafe fn tiles(
    kernel: Kernel,
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
    let amx = kernel == Kernel::Amx;
    let mr = if amx { amx::MR_AMX } else { MR };
    let mut buffer = [0f32; amx::MR_AMX * NR];
    if amx {
        amx::configure();
    }
    for jr in (0..nc).step_by(NR) {
        let b_panel = &packed_b[jr / NR * kc * NR..][..kc * NR];
        for ir in (0..mc).step_by(mr) {
            let a_panel = &packed_a[ir / mr * kc * mr..][..kc * mr];
            let (i, j, rows, cols) = (i0 + ir, j0 + jr, mr.min(mc - ir), NR.min(nc - jr));
            if !amx {
                let tile = (&mut buffer[..MR * NR]).try_into().expect("MR x NR floats");
                kernel::tile(a_panel, b_panel, kc, tile, kernel == Kernel::Avx512);
                write_tile(&buffer, c, i, j, rows, cols, first);
            } else if rows == mr && cols == NR && c.col_stride == 1 {
                let dst = c.ptr.offset(i as isize * c.row_stride + j as isize);
                amx::tile(a_panel.as_ptr(), kc, b_panel.as_ptr(), kc, dst, c.row_stride, !first);
            } else {
                if !first {
                    read_tile(&mut buffer, c, i, j, rows, cols);
                }
                amx::tile(a_panel.as_ptr(), kc, b_panel.as_ptr(), kc, buffer.as_mut_ptr(), NR as isize, !first);
                write_tile(&buffer, c, i, j, rows, cols, true);
            }
        }
    }
    if amx {
        amx::release();
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
    // Not zeroed: every element is written (`gemm_bf16` stores, or writes 0 when k = 0).
    let mut out = ArrayD::<f32>::uninit(shape.clone());
    // Safety: the view covers the fresh array's own memory, in its standard layout; nothing reads
    // it before the products have written every element.
    unsafe {
        let view = ArrayViewMutD::from_shape_ptr(shape, out.as_mut_ptr().cast::<f32>());
        product_into(lhs.view(), rhs.view(), view);
        out.assume_init()
    }
}

/// `out = lhs rhs` along the leading dimensions, one 2-D product each.
fn product_into(lhs: ArrayViewD<f32>, rhs: ArrayViewD<f32>, mut out: ArrayViewMutD<f32>) {
    if lhs.ndim() > 2 {
        for ((l, r), o) in lhs.outer_iter().zip(rhs.outer_iter()).zip(out.outer_iter_mut()) {
            product_into(l, r, o);
        }
        return;
    }
    let a = MatRef::of(lhs.as_ptr(), lhs.shape(), lhs.strides());
    let b = MatRef::of(rhs.as_ptr(), rhs.shape(), rhs.strides());
    let c = MatMut::of(out.as_mut_ptr(), out.shape(), out.strides());
    // Safety: the views are valid for their shapes and strides, and `out` is a fresh array that
    // overlaps neither input.
    unsafe { gemm_bf16(a, b, c, false, true) };
}

#[cfg(test)]
mod tests;
