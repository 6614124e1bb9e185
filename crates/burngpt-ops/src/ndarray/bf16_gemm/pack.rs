//! Packing the operands as the micro-kernels read them: two consecutive `k` of one row of A (or
//! one column of B) rounded to bfloat16 in a 32-bit word, the even `k` in the low half (as
//! `vdpbf16ps` and `tdpbf16ps` pair them), zeros past the matrix's edge.
//!
//! Packing reads every operand element once per block and costs about as much as a block's
//! products on AMX, so each layout has a loop for the operand's contiguous direction that converts
//! whole rows ([`words_of_row`], [`words_of_two_rows`]: `vcvtne2ps2bf16` where the CPU has it);
//! other strides take the element-by-element loop.

use super::convert::{bits, pair, words_of_row, words_of_two_rows};
use super::MatRef;

/// The matrix read transposed (no copy).
pub fn transposed(m: MatRef) -> MatRef {
    MatRef { ptr: m.ptr, rows: m.cols, cols: m.rows, row_stride: m.col_stride, col_stride: m.row_stride }
}

/// Element `(i, j)` of `m`, or 0 outside it.
///
/// # Safety
/// `m` must be valid for its shape and strides.
unsafe fn at(m: MatRef, i: usize, j: usize) -> f32 {
    if i < m.rows && j < m.cols {
        *m.ptr.offset(i as isize * m.row_stride + j as isize * m.col_stride)
    } else {
        0.0
    }
}

/// `len` contiguous elements of row `i` of `m` from column `j` (`m.col_stride == 1`), or `None`
/// past the last row.
///
/// # Safety
/// `m` must be valid for its shape and strides, and `j + len <= m.cols`.
unsafe fn row<'a>(m: MatRef, i: usize, j: usize, len: usize) -> Option<&'a [f32]> {
    (i < m.rows).then(|| std::slice::from_raw_parts(m.ptr.offset(i as isize * m.row_stride + j as isize), len))
}

/// Side of the square blocks in which operands stored across the packed direction are transposed.
const BLOCK: usize = 16;

/// `out[c * stride + r] = block[r][c]` for `r < rows`, `c < cols`.
#[inline(always)]
fn write_transposed(block: &[[u32; BLOCK]; BLOCK], out: &mut [u32], stride: usize, rows: usize, cols: usize) {
    for c in 0..cols {
        for (r, words) in block.iter().enumerate().take(rows) {
            out[c * stride + r] = words[c];
        }
    }
}

/// Packs columns `j0..j0 + nc` of `b` (`k x n`) over the `k` pairs `p0..p0 + kc` into `out`: for
/// each panel of `W` columns, `kc x W` words (`out[panel][p][s]`), columns past `nc` zero. B's
/// panels for both kernels (`W` = [`NR`](super::NR)) and, given A transposed, the AVX-512 kernel's
/// A panels (`W` = [`MR`](super::MR)).
///
/// # Safety
/// `b` must be valid for its shape and strides.
pub unsafe fn pack_panels<const W: usize>(b: MatRef, p0: usize, kc: usize, j0: usize, nc: usize, out: &mut Vec<u32>) {
    out.clear();
    out.resize(nc.div_ceil(W) * kc * W, 0);
    pack_panels_into::<W>(b, p0, kc, j0, nc, out);
}

/// [`pack_panels`] into `out`, which holds `nc.div_ceil(W) * kc * W` zeros.
///
/// # Safety
/// `b` must be valid for its shape and strides.
pub unsafe fn pack_panels_into<const W: usize>(b: MatRef, p0: usize, kc: usize, j0: usize, nc: usize, out: &mut [u32]) {
    assert_eq!(out.len(), nc.div_ceil(W) * kc * W, "pack_panels: output length");
    let k_end = b.rows.min(2 * (p0 + kc));
    for (panel, dst) in out.chunks_exact_mut(kc * W).enumerate() {
        let (j, cols) = (j0 + panel * W, W.min(nc - panel * W));
        if b.col_stride == 1 {
            // Rows of b are contiguous: a pair of rows makes a row of words.
            for (p, words) in dst.chunks_exact_mut(W).enumerate().take(k_end.saturating_sub(2 * p0).div_ceil(2)) {
                let k = 2 * (p0 + p);
                let (lo, hi) = (row(b, k, j, cols), row(b, k + 1, j, cols));
                match (lo, hi) {
                    (Some(lo), Some(hi)) => words_of_two_rows(lo, hi, &mut words[..cols]),
                    (Some(lo), None) => words.iter_mut().zip(lo).for_each(|(w, &x)| *w = bits(x)),
                    _ => {}
                }
            }
        } else if b.row_stride == 1 {
            // Columns of b are contiguous (b is a transposed matrix): the pairs of 16 columns by
            // 16 pairs at a time, then written transposed.
            let t = transposed(b);
            let len = k_end.saturating_sub(2 * p0);
            for s0 in (0..cols).step_by(BLOCK) {
                for q0 in (0..len.div_ceil(2)).step_by(BLOCK) {
                    let n = (len - 2 * q0).min(2 * BLOCK);
                    let mut block = [[0u32; BLOCK]; BLOCK];
                    for (s, words) in block.iter_mut().enumerate().take(cols - s0) {
                        let xs = row(t, j + s0 + s, 2 * (p0 + q0), n).unwrap_or_default();
                        words_of_row(xs, &mut words[..xs.len().div_ceil(2)]);
                    }
                    write_transposed(&block, &mut dst[q0 * W + s0..], W, (cols - s0).min(BLOCK), n.div_ceil(2));
                }
            }
        } else {
            for p in 0..kc {
                let k = 2 * (p0 + p);
                for s in 0..cols {
                    dst[p * W + s] = pair(at(b, k, j + s), at(b, k + 1, j + s));
                }
            }
        }
    }
}

/// Packs rows `i0..i0 + mc` of `a` over the `k` pairs `p0..p0 + kc` for AMX: for each panel of
/// `rows_per_panel` rows, the rows one after another, `kc` words each (`out[panel][r][p]`: a tile
/// loads 16 rows of 16 pairs with a stride of `kc` words), rows past `mc` and pairs past `k` zero.
///
/// # Safety
/// `a` must be valid for its shape and strides.
pub unsafe fn pack_rows(a: MatRef, i0: usize, mc: usize, p0: usize, kc: usize, rows_per_panel: usize, out: &mut Vec<u32>) {
    out.clear();
    out.resize(mc.div_ceil(rows_per_panel) * rows_per_panel * kc, 0);
    let len = a.cols.min(2 * (p0 + kc)).saturating_sub(2 * p0);
    if a.col_stride == 1 {
        // Rows of a are contiguous.
        for (r, words) in out.chunks_exact_mut(kc).enumerate().take(mc) {
            let Some(src) = row(a, i0 + r, 2 * p0, len) else { continue };
            words_of_row(src, &mut words[..len.div_ceil(2)]);
        }
    } else if a.row_stride == 1 {
        // Columns of a are contiguous (a is a transposed matrix): 16 pairs of columns by 16 rows
        // at a time, then written transposed.
        let t = transposed(a);
        let rows = mc.min(a.rows - i0);
        for r0 in (0..rows).step_by(BLOCK) {
            let rn = (rows - r0).min(BLOCK);
            for q0 in (0..len.div_ceil(2)).step_by(BLOCK) {
                let mut block = [[0u32; BLOCK]; BLOCK];
                for (q, words) in block.iter_mut().enumerate().take(len.div_ceil(2) - q0) {
                    let k = 2 * (p0 + q0 + q);
                    let lo = row(t, k, i0 + r0, rn).unwrap_or_default();
                    match row(t, k + 1, i0 + r0, rn) {
                        Some(hi) => words_of_two_rows(lo, hi, &mut words[..rn]),
                        None => words.iter_mut().zip(lo).for_each(|(w, &x)| *w = bits(x)),
                    }
                }
                write_transposed(&block, &mut out[r0 * kc + q0..], kc, (len.div_ceil(2) - q0).min(BLOCK), rn);
            }
        }
    } else {
        for (r, words) in out.chunks_exact_mut(kc).enumerate().take(mc) {
            for (p, w) in words.iter_mut().enumerate() {
                let k = 2 * (p0 + p);
                *w = pair(at(a, i0 + r, k), at(a, i0 + r, k + 1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_hold_pairs_of_k_with_zeros_past_the_edges() {
        // a: 2 x 3, row-major; one panel of W rows, k pairs (0,1) and (2, pad).
        const W: usize = 12;
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let cols = [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0];
        let mut out = Vec::new();
        for a in [
            MatRef { ptr: a.as_ptr(), rows: 2, cols: 3, row_stride: 3, col_stride: 1 },
            MatRef { ptr: cols.as_ptr(), rows: 2, cols: 3, row_stride: 1, col_stride: 2 },
        ] {
            unsafe { pack_panels::<W>(transposed(a), 0, 2, 0, 2, &mut out) };
            assert_eq!(out.len(), 2 * W);
            assert_eq!(out[0], pair(1.0, 2.0));
            assert_eq!(out[1], pair(4.0, 5.0));
            assert_eq!(out[2], 0, "row 2 is past the matrix");
            assert_eq!(out[W], pair(3.0, 0.0), "k = 3 is past the matrix");
            assert_eq!(out[W + 1], pair(6.0, 0.0));
        }
        // The same matrix as b (3 x 2), read transposed through its strides, and the same values
        // stored column-major (contiguous rows of b) and through a stride that is neither.
        let spaced = [1.0f32, 0.0, 4.0, 0.0, 2.0, 0.0, 5.0, 0.0, 3.0, 0.0, 6.0, 0.0];
        for b in [
            MatRef { ptr: a.as_ptr(), rows: 3, cols: 2, row_stride: 1, col_stride: 3 },
            MatRef { ptr: cols.as_ptr(), rows: 3, cols: 2, row_stride: 2, col_stride: 1 },
            MatRef { ptr: spaced.as_ptr(), rows: 3, cols: 2, row_stride: 4, col_stride: 2 },
        ] {
            unsafe { pack_panels::<32>(b, 0, 2, 0, 2, &mut out) };
            assert_eq!(out.len(), 2 * 32);
            assert_eq!((out[0], out[1], out[2]), (pair(1.0, 2.0), pair(4.0, 5.0), 0));
            assert_eq!((out[32], out[33]), (pair(3.0, 0.0), pair(6.0, 0.0)));
        }
    }

    #[test]
    fn rows_hold_pairs_of_k_for_every_stride() {
        // a: 3 x 5 (k odd), row-major, column-major and spaced; packed from row 1, pairs 1..3 of
        // a tile padded to 4 pairs, 2 rows per panel.
        let a: Vec<f32> = (0..15).map(|x| x as f32).collect();
        let t: Vec<f32> = (0..15).map(|x| ((x % 3) * 5 + x / 3) as f32).collect();
        let spaced: Vec<f32> = a.iter().flat_map(|&x| [x, -1.0]).collect();
        let mut out = Vec::new();
        for m in [
            MatRef { ptr: a.as_ptr(), rows: 3, cols: 5, row_stride: 5, col_stride: 1 },
            MatRef { ptr: t.as_ptr(), rows: 3, cols: 5, row_stride: 1, col_stride: 3 },
            MatRef { ptr: spaced.as_ptr(), rows: 3, cols: 5, row_stride: 10, col_stride: 2 },
        ] {
            unsafe { pack_rows(m, 1, 2, 1, 4, 2, &mut out) };
            // Row 1 is 5..10: pairs (7, 8), (9, pad), then zeros; row 2 is 10..15.
            assert_eq!(out, [pair(7.0, 8.0), bits(9.0), 0, 0, pair(12.0, 13.0), bits(14.0), 0, 0]);
            // Rows past the matrix are zero (3 rows asked from row 1 with 2 per panel: 4 rows).
            unsafe { pack_rows(m, 1, 3, 0, 1, 2, &mut out) };
            assert_eq!(out, [pair(5.0, 6.0), pair(10.0, 11.0), 0, 0]);
        }
    }
}
