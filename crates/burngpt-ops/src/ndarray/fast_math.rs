//! Branch-free float32 `exp` and `erf` that the compiler vectorises (and GELU, SiLU's sigmoid from them).
//!
//! glibc's `expf` and libm's `erf` are scalar calls, one element at a time, and a training step
//! of the spec's model takes about 16M exponentials and 8M error functions. These are
//! straight-line code (no calls, no branches), so loops over them vectorise:
//! - `exp`: Cephes' `expf` (range reduction by `ln 2` in two parts, degree-6 polynomial),
//!   scaled by `2^n` in two steps so that subnormal results stay right. Within 0.96 ulp of the
//!   f64 `exp` over [-110, 90] (tested below); `-inf -> 0`, `inf -> inf`,
//!   `NaN -> NaN`, `x > 88.73 -> inf`, `x < -103.98 -> 0`.
//! - `erf`: the rational approximation TensorFlow and Eigen use for float32 (`x p(x^2) / q(x^2)`,
//!   `x` clamped to [-4, 4]); absolute error below 5e-7.
//!
//! f64 keeps the exact library functions.

use core::f64::consts::{FRAC_1_SQRT_2, PI};

/// Element kernels with a fast float32 form.
pub(crate) trait FastMath: Copy {
    /// `e^x`.
    fn exp_fast(self) -> Self;
    /// `x Phi(x)` with `Phi(x) = (1 + erf(x / sqrt 2)) / 2` (GELU, erf form).
    fn gelu(self) -> Self;
    /// `Phi(x) + x phi(x)`, the derivative of [`FastMath::gelu`], `phi(x) = exp(-x^2 / 2) / sqrt(2 pi)`.
    fn gelu_slope(self) -> Self;
    /// `sigmoid(x) = 1 / (1 + e^-x)`: 0 (not NaN) where `e^-x` overflows.
    fn sigmoid(self) -> Self;
}

impl FastMath for f32 {
    #[inline(always)]
    fn exp_fast(self) -> f32 {
        exp_f32(self)
    }

    #[inline(always)]
    fn gelu(self) -> f32 {
        self * 0.5 * (1.0 + erf_f32(self * FRAC_1_SQRT_2 as f32))
    }

    #[inline(always)]
    fn gelu_slope(self) -> f32 {
        let pdf = exp_f32(-0.5 * self * self) * (1.0 / (2.0 * PI).sqrt()) as f32;
        0.5 * (1.0 + erf_f32(self * FRAC_1_SQRT_2 as f32)) + self * pdf
    }

    #[inline(always)]
    fn sigmoid(self) -> f32 {
        1.0 / (1.0 + exp_f32(-self))
    }
}

impl FastMath for f64 {
    #[inline(always)]
    fn exp_fast(self) -> f64 {
        self.exp()
    }

    #[inline(always)]
    fn gelu(self) -> f64 {
        self * 0.5 * (1.0 + libm::erf(self * FRAC_1_SQRT_2))
    }

    #[inline(always)]
    fn gelu_slope(self) -> f64 {
        let pdf = (-0.5 * self * self).exp() / (2.0 * PI).sqrt();
        0.5 * (1.0 + libm::erf(self * FRAC_1_SQRT_2)) + self * pdf
    }

    #[inline(always)]
    fn sigmoid(self) -> f64 {
        1.0 / (1.0 + (-self).exp())
    }
}

#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    // NaN passes through `clamp` and every step below.
    let xc = x.clamp(-104.0, 89.0);
    let k = xc * core::f32::consts::LOG2_E + MAGIC;
    let n = k - MAGIC; // round(x / ln 2)
    let r = xc - n * 0.693_145_75 - n * 1.428_606_8e-6; // x - n ln 2, |r| <= ln 2 / 2
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5.000_000_1e-1;
    let e = p * r * r + r + 1.0; // e^r
    // n from k's low mantissa bits; 2^n as two normal powers of two (n in [-150, 129])
    let n = (k.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let n1 = n >> 1;
    let scale = |m: i32| f32::from_bits(((m + 127) as u32) << 23);
    e * scale(n1) * scale(n - n1)
}

#[inline(always)]
fn erf_f32(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = -2.726_142_3e-10_f32;
    let p = p * x2 + 2.770_681_4e-8;
    let p = p * x2 - 2.101_024e-6;
    let p = p * x2 - 5.692_506_4e-5;
    let p = p * x2 - 7.349_906_3e-4;
    let p = p * x2 - 2.954_599_8e-3;
    let p = p * x2 - 1.609_603_3e-2;
    let q = -1.456_607_2e-5_f32;
    let q = q * x2 - 2.133_740_6e-4;
    let q = q * x2 - 1.682_827e-3;
    let q = q * x2 - 7.373_329e-3;
    let q = q * x2 - 1.426_473_9e-2;
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::FastMath;

    /// Distance of `got` from the exact value `want` in units of float32 spacing at `want`.
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        if w == 0.0 || !w.is_finite() {
            return if got == w { 0.0 } else { f64::INFINITY };
        }
        let spacing = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
        (got as f64 - want).abs() / spacing
    }

    #[test]
    fn exp_is_within_one_ulp_of_f64_over_its_range_and_exact_at_special_values() {
        for i in 0..400_000 {
            let x = -110.0 + i as f32 * 0.0005; // [-110, 90)
            let want = (x as f64).exp();
            assert!(ulps(x.exp_fast(), want) <= 1.0, "exp({x}) = {}, f64 {want}", x.exp_fast());
        }
        let special = [f32::NEG_INFINITY, f32::INFINITY, 0.0, 88.8, -104.0];
        let got: Vec<f32> = special.iter().map(|x| x.exp_fast()).collect();
        assert_eq!(got, vec![0.0, f32::INFINITY, 1.0, f32::INFINITY, 0.0]);
        assert!(f32::NAN.exp_fast().is_nan());
    }
}
