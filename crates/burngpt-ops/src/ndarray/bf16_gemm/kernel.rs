//! The micro-kernel: one [`MR`] x [`NR`] tile of `A B` from packed panels, on AVX-512 BF16 where the
//! CPU has it, else in float32 arithmetic giving the same numbers.

use std::sync::OnceLock;

use super::{MR, NR};

/// Whether the CPU has AVX-512 F and BF16 (checked once).
pub fn has_avx512_bf16() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> bool {
    std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bf16")
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> bool {
    false
}

/// `tile = a_panel b_panel` over `kc` pairs: `a_panel[p][r]`, `b_panel[p][j]` packed words, `tile`
/// row-major `MR x NR`. `simd` (which needs [`has_avx512_bf16`]) picks `vdpbf16ps`.
pub fn tile(a_panel: &[u32], b_panel: &[u32], kc: usize, tile: &mut [f32; MR * NR], simd: bool) {
    assert!(a_panel.len() >= kc * MR && b_panel.len() >= kc * NR);
    #[cfg(target_arch = "x86_64")]
    if simd && has_avx512_bf16() {
        // Safety: the CPU has the features (checked), and the panels hold `kc` pairs (asserted).
        unsafe { avx512::tile(a_panel.as_ptr(), b_panel.as_ptr(), kc, tile) };
        return;
    }
    let _ = simd;
    portable(a_panel, b_panel, kc, tile);
}

/// The float32 path, in `vdpbf16ps`'s order: for each pair, the high (odd `k`) product is added
/// first, then the low one, each addition rounded once (the products are exact).
fn portable(a_panel: &[u32], b_panel: &[u32], kc: usize, tile: &mut [f32; MR * NR]) {
    tile.fill(0.0);
    let lo = |w: u32| f32::from_bits(w << 16);
    let hi = |w: u32| f32::from_bits(w & 0xffff_0000);
    for p in 0..kc {
        let b = &b_panel[p * NR..(p + 1) * NR];
        for r in 0..MR {
            let a = a_panel[p * MR + r];
            let (a_hi, a_lo) = (hi(a), lo(a));
            let row = &mut tile[r * NR..(r + 1) * NR];
            for (acc, &w) in row.iter_mut().zip(b) {
                *acc += a_hi * hi(w);
                *acc += a_lo * lo(w);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{MR, NR};

    /// `vdpbf16ps` tile: 24 accumulators (12 rows x two 16-lane vectors), one broadcast word of A
    /// per row and pair, two vectors of B per pair.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and BF16; `a` must hold `kc * MR` words and `b` `kc * NR`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn tile(a: *const u32, b: *const u32, kc: usize, tile: &mut [f32; MR * NR]) {
        const { assert!(MR == 12 && NR == 32) };
        let mut acc = [_mm512_setzero_ps(); 2 * MR];
        for p in 0..kc {
            let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(p * NR).cast()));
            let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(p * NR + 16).cast()));
            let a_row = a.add(p * MR);
            for r in 0..MR {
                let w: __m512bh = std::mem::transmute(_mm512_set1_epi32(*a_row.add(r) as i32));
                acc[2 * r] = _mm512_dpbf16_ps(acc[2 * r], w, b0);
                acc[2 * r + 1] = _mm512_dpbf16_ps(acc[2 * r + 1], w, b1);
            }
        }
        for r in 0..MR {
            _mm512_storeu_ps(tile.as_mut_ptr().add(r * NR), acc[2 * r]);
            _mm512_storeu_ps(tile.as_mut_ptr().add(r * NR + 16), acc[2 * r + 1]);
        }
    }
}
