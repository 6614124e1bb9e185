//! Derived seeds: every RNG of a run comes from the config's one seed.
//!
//! Each consumer gets its own stream, and per-step streams are derived from the step
//! number, so a step's randomness does not depend on what ran before it.

use rand::rngs::StdRng;
use rand::SeedableRng;

/// Independent random streams of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Parameter initialisation.
    Init = 1,
    /// Training batch selection.
    Batches = 2,
    /// Dropout masks (the backend's RNG).
    Dropout = 3,
    /// Validation batch selection.
    Eval = 4,
    /// Token sampling in generation.
    Sampling = 5,
}

/// A 64-bit seed for `stream` at `step`, from SplitMix64 mixing of the run seed.
pub fn derive(seed: u64, stream: Stream, step: u64) -> u64 {
    let mut z = seed
        ^ (stream as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ step.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded RNG for `stream` at `step`.
pub fn rng(seed: u64, stream: Stream, step: u64) -> StdRng {
    StdRng::seed_from_u64(derive(seed, stream, step))
}
