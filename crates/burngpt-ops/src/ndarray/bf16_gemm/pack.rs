//! Rounding to bfloat16 and packing the operands as the micro-kernel reads them: two consecutive
//! `k` of one row of A (or one column of B) in a 32-bit word, the even `k` in the low half (as
//! `vdpbf16ps` pairs them), zeros past the matrix's edge.

use super::amx::MR_AMX;
use super::{MatRef, KC, MR, NR};

/// `x` rounded to the nearest bfloat16 (ties to even), as its 16 bits. NaN stays NaN (quiet);
/// a value that rounds past the largest bfloat16 becomes infinity; subnormal results become zero
/// of the same sign (`vdpbf16ps` reads subnormal inputs as zero, so the two kernels agree).
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x0040) as u16;
    }
    // Round to nearest even on the 16 bits dropped: add 0x7fff plus the lowest kept bit.
    let rounded = (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16;
    if rounded & 0x7f80 == 0 {
        rounded & 0x8000
    } else {
        rounded
    }
}

/// The float32 value of a bfloat16 (exact).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// Two bfloat16 in one word: `lo` in bits 0-15, `hi` in 16-31.
fn pair(lo: f32, hi: f32) -> u32 {
    u32::from(to_bf16(lo)) | (u32::from(to_bf16(hi)) << 16)
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

/// Packs rows `i0..i0 + mc` of `a` over the `k` pairs `p0..p0 + kc` into `out`: for each panel of
/// [`MR`] rows, `kc x MR` words (`out[panel][p][r]`), rows past `mc` zero.
///
/// # Safety
/// `a` must be valid for its shape and strides.
pub unsafe fn pack_a(a: MatRef, i0: usize, mc: usize, p0: usize, kc: usize, out: &mut Vec<u32>) {
    debug_assert!(kc <= KC);
    let panels = mc.div_ceil(MR);
    out.clear();
    out.resize(panels * kc * MR, 0);
    for panel in 0..panels {
        let dst = &mut out[panel * kc * MR..][..kc * MR];
        let rows = MR.min(mc - panel * MR);
        for r in 0..rows {
            let i = i0 + panel * MR + r;
            for p in 0..kc {
                let k = 2 * (p0 + p);
                dst[p * MR + r] = pair(at(a, i, k), at(a, i, k + 1));
            }
        }
    }
}

/// Packs rows `i0..i0 + mc` of `a` over the `k` pairs `p0..p0 + kc` for AMX: for each panel of
/// [`MR_AMX`] rows, the rows one after another, `kc` words each (`out[panel][r][p]`: a tile loads 16
/// rows of 16 pairs with a stride of `kc` words), rows past `mc` zero.
///
/// # Safety
/// `a` must be valid for its shape and strides.
pub unsafe fn pack_a_rows(a: MatRef, i0: usize, mc: usize, p0: usize, kc: usize, out: &mut Vec<u32>) {
    debug_assert!(kc <= KC);
    let panels = mc.div_ceil(MR_AMX);
    out.clear();
    out.resize(panels * MR_AMX * kc, 0);
    for (r, row) in out.chunks_exact_mut(kc).enumerate().take(mc) {
        let i = i0 + r;
        for (p, word) in row.iter_mut().enumerate() {
            let k = 2 * (p0 + p);
            *word = pair(at(a, i, k), at(a, i, k + 1));
        }
    }
}

/// Packs columns `j0..j0 + nc` of `b` over the `k` pairs `p0..p0 + kc` into `out`: for each panel
/// of [`NR`] columns, `kc x NR` words (`out[panel][p][j]`), columns past `nc` zero.
///
/// # Safety
/// `b` must be valid for its shape and strides.
pub unsafe fn pack_b(b: MatRef, p0: usize, kc: usize, j0: usize, nc: usize, out: &mut Vec<u32>) {
    debug_assert!(kc <= KC);
    let panels = nc.div_ceil(NR);
    out.clear();
    out.resize(panels * kc * NR, 0);
    for panel in 0..panels {
        let dst = &mut out[panel * kc * NR..][..kc * NR];
        let cols = NR.min(nc - panel * NR);
        for p in 0..kc {
            let k = 2 * (p0 + p);
            for s in 0..cols {
                let j = j0 + panel * NR + s;
                dst[p * NR + s] = pair(at(b, k, j), at(b, k + 1, j));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_nearest_even() {
        // 1 + 2^-8 is halfway between the bfloat16 values 1 and 1 + 2^-7: ties go to the even one (1).
        assert_eq!(to_bf16(1.0 + 2f32.powi(-8)), 0x3f80);
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd last bit) and 1 + 2^-6: to 1 + 2^-6.
        assert_eq!(bf16_to_f32(to_bf16(1.0 + 3.0 * 2f32.powi(-8))), 1.0 + 2f32.powi(-6));
        // Just above the halfway point rounds up.
        assert_eq!(bf16_to_f32(to_bf16(1.0 + 2f32.powi(-8) + 2f32.powi(-20))), 1.0 + 2f32.powi(-7));
        assert_eq!(bf16_to_f32(to_bf16(-2.5)), -2.5, "exact values stay");
        // The largest float32 rounds past bfloat16's largest (0x7f7f) to infinity.
        assert_eq!(bf16_to_f32(to_bf16(f32::MAX)), f32::INFINITY);
        assert!(bf16_to_f32(to_bf16(f32::NAN)).is_nan());
        assert_eq!(to_bf16(-1e-39), 0x8000, "subnormals flush to signed zero");
        assert_eq!(bf16_to_f32(to_bf16(f32::MIN_POSITIVE)), f32::MIN_POSITIVE, "the smallest normal stays");
    }

    #[test]
    fn panels_hold_pairs_of_k_with_zeros_past_the_edges() {
        // a: 2 x 3, row-major; one panel of MR rows, k pairs (0,1) and (2, pad).
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let view = MatRef { ptr: a.as_ptr(), rows: 2, cols: 3, row_stride: 3, col_stride: 1 };
        let mut out = Vec::new();
        unsafe { pack_a(view, 0, 2, 0, 2, &mut out) };
        assert_eq!(out.len(), 2 * MR);
        assert_eq!(out[0], pair(1.0, 2.0));
        assert_eq!(out[1], pair(4.0, 5.0));
        assert_eq!(out[2], 0, "row 2 is past the matrix");
        assert_eq!(out[MR], pair(3.0, 0.0), "k = 3 is past the matrix");
        assert_eq!(out[MR + 1], pair(6.0, 0.0));
        // The same matrix as b (3 x 2), read transposed through its strides.
        let view = MatRef { ptr: a.as_ptr(), rows: 3, cols: 2, row_stride: 1, col_stride: 3 };
        unsafe { pack_b(view, 0, 2, 0, 2, &mut out) };
        assert_eq!(out.len(), 2 * NR);
        assert_eq!((out[0], out[1], out[2]), (pair(1.0, 2.0), pair(4.0, 5.0), 0));
        assert_eq!((out[NR], out[NR + 1]), (pair(3.0, 0.0), pair(6.0, 0.0)));
    }
}
