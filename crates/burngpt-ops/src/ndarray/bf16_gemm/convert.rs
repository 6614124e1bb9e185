//! Rounding float32 to bfloat16 and pairing the results in 32-bit words: one value at a time, and
//! whole rows at a time with AVX-512 BF16's `vcvtne2ps2bf16` (32 values per instruction) where the
//! CPU has it. Both give the same bits: round to nearest even, NaN kept quiet, zero or subnormal
//! inputs read as zero of the same sign (the instruction's rule, which `vdpbf16ps` and AMX share).

use std::sync::OnceLock;

/// `x` rounded to the nearest bfloat16 (ties to even), as its 16 bits. NaN stays NaN (quiet);
/// a value that rounds past the largest bfloat16 becomes infinity; zero and subnormal inputs
/// become zero of the same sign.
pub fn to_bf16(x: f32) -> u16 {
    bits(x) as u16
}

/// The float32 value of a bfloat16 (exact).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// [`to_bf16`] in the low half of a word, without branches (so that loops of it vectorise).
#[inline(always)]
pub(super) fn bits(x: f32) -> u32 {
    let bits = x.to_bits();
    // Round to nearest even on the 16 bits dropped: add 0x7fff plus the lowest kept bit.
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
    let nan = (bits & 0x7fff_ffff) > 0x7f80_0000;
    let zero = bits & 0x7f80_0000 == 0;
    if nan {
        (bits >> 16) | 0x0040
    } else if zero {
        (bits >> 16) & 0x8000
    } else {
        rounded
    }
}

/// Two bfloat16 in one word: `lo` in bits 0-15, `hi` in 16-31.
#[inline(always)]
pub(super) fn pair(lo: f32, hi: f32) -> u32 {
    bits(lo) | (bits(hi) << 16)
}

/// Whether the CPU has AVX-512 F, BW and BF16 (checked once).
fn simd() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    #[cfg(target_arch = "x86_64")]
    return *HAS.get_or_init(|| {
        super::kernel::has_avx512_bf16() && std::arch::is_x86_feature_detected!("avx512bw")
    });
    #[cfg(not(target_arch = "x86_64"))]
    return *HAS.get_or_init(|| false);
}

/// `words[q] = pair(xs[2q], xs[2q + 1])`, the last word `bits(x)` alone when `xs` is odd: the
/// values in order, two to a word.
///
/// # Panics
/// When `words.len() != xs.len().div_ceil(2)`.
pub(super) fn words_of_row(xs: &[f32], words: &mut [u32]) {
    assert_eq!(words.len(), xs.len().div_ceil(2), "words_of_row: lengths");
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if simd() {
        // Safety: the CPU has the features (checked); the lengths are asserted.
        done = unsafe { avx512::words_of_row(xs, words) };
    }
    let (pairs, last) = xs[done..].split_at((xs.len() - done) / 2 * 2);
    for (w, xy) in words[done / 2..].iter_mut().zip(pairs.chunks_exact(2)) {
        *w = pair(xy[0], xy[1]);
    }
    if let [x] = last {
        words[xs.len() / 2] = bits(*x);
    }
}

/// `words[s] = pair(lo[s], hi[s])`: two rows interleaved.
///
/// # Panics
/// When the three lengths differ.
pub(super) fn words_of_two_rows(lo: &[f32], hi: &[f32], words: &mut [u32]) {
    assert!(lo.len() == words.len() && hi.len() == words.len(), "words_of_two_rows: lengths");
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if simd() {
        // Safety: the CPU has the features (checked); the lengths are asserted.
        done = unsafe { avx512::words_of_two_rows(lo, hi, words) };
    }
    for ((w, &x), &y) in words[done..].iter_mut().zip(&lo[done..]).zip(&hi[done..]) {
        *w = pair(x, y);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// [`super::words_of_row`] over the longest prefix of 32 values; returns its length.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and BF16; `words` must hold `xs.len() / 2` words.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn words_of_row(xs: &[f32], words: &mut [u32]) -> usize {
        let n = xs.len() / 32 * 32;
        for c in (0..n).step_by(32) {
            let lo = _mm512_loadu_ps(xs.as_ptr().add(c));
            let hi = _mm512_loadu_ps(xs.as_ptr().add(c + 16));
            // Lanes 0-15 from `lo`, 16-31 from `hi`: the 32 values in order.
            let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
            _mm512_storeu_si512(words.as_mut_ptr().add(c / 2).cast(), v);
        }
        n
    }

    /// [`super::words_of_two_rows`] over the longest prefix of 16 columns; returns its length.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW and BF16; the three slices must have the same length.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub unsafe fn words_of_two_rows(lo: &[f32], hi: &[f32], words: &mut [u32]) -> usize {
        // Lane 2s takes lo[s] (lane s of the conversion), lane 2s + 1 takes hi[s] (lane 16 + s).
        let order: [i16; 32] = std::array::from_fn(|i| ((i % 2) * 16 + i / 2) as i16);
        let order = _mm512_loadu_si512(order.as_ptr().cast());
        let n = words.len() / 16 * 16;
        for c in (0..n).step_by(16) {
            let l = _mm512_loadu_ps(lo.as_ptr().add(c));
            let h = _mm512_loadu_ps(hi.as_ptr().add(c));
            let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(h, l));
            _mm512_storeu_si512(words.as_mut_ptr().add(c).cast(), _mm512_permutexvar_epi16(order, v));
        }
        n
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
        assert_eq!(bf16_to_f32(to_bf16(f32::NEG_INFINITY)), f32::NEG_INFINITY);
        assert!(bf16_to_f32(to_bf16(f32::NAN)).is_nan());
        // A NaN whose payload sits in the dropped bits stays NaN (not infinity).
        assert!(bf16_to_f32(to_bf16(f32::from_bits(0x7f80_0001))).is_nan());
        assert_eq!(to_bf16(-1e-39), 0x8000, "subnormals read as signed zero");
        // The largest subnormal would round up to the smallest normal; it is read as zero.
        assert_eq!(to_bf16(f32::from_bits(0x007f_ffff)), 0);
        assert_eq!(bf16_to_f32(to_bf16(f32::MIN_POSITIVE)), f32::MIN_POSITIVE, "the smallest normal stays");
    }

    /// Bit patterns that cover every case: random words, and the edges of each rule.
    fn awkward_values(n: usize) -> Vec<f32> {
        let edges = [
            0, 0x8000_0000, 1, 0x8000_0001, 0x007f_ffff, 0x807f_ffff, 0x0080_0000, 0x0080_8000, 0x3f80_8000,
            0x3f81_8000, 0x3f80_7fff, 0x7f7f_ffff, 0xff7f_ffff, 0x7f80_0000, 0xff80_0000, 0x7f80_0001, 0x7fc0_0000,
            0xffff_ffff, 0x7f80_8000,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u32
        };
        (0..n).map(|i| f32::from_bits(if i % 3 == 0 { edges[(i / 3) % edges.len()] } else { next() })).collect()
    }

    #[test]
    fn rows_convert_as_the_scalar_rounding_does() {
        // On a CPU with AVX-512 BF16 this compares `vcvtne2ps2bf16` with `bits`; elsewhere the
        // scalar loops with the definition.
        let xs = awkward_values(4096 + 37);
        for len in [0usize, 1, 31, 32, 33, 64, 95, 4096 + 37] {
            let mut words = vec![0u32; len.div_ceil(2)];
            words_of_row(&xs[..len], &mut words);
            for (q, &w) in words.iter().enumerate() {
                let hi = xs.get(2 * q + 1).filter(|_| 2 * q + 1 < len).map_or(0, |&y| bits(y) << 16);
                assert_eq!(w, bits(xs[2 * q]) | hi, "len {len}, word {q}: {:#x}", xs[2 * q].to_bits());
            }
            let (lo, hi) = (&xs[..len], &xs[xs.len() - len..]);
            let mut words = vec![0u32; len];
            words_of_two_rows(lo, hi, &mut words);
            for (s, &w) in words.iter().enumerate() {
                assert_eq!(w, pair(lo[s], hi[s]), "len {len}, column {s}");
            }
        }
    }
}
