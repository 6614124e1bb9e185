//! What a training run needs in memory, estimated from its shape before anything is allocated
//! ([`super::memory_check`] compares it with the memory available).
//!
//! Every tensor is float32 (4 bytes). With `P` parameters and one micro-batch of `B` windows of
//! `T = block_size` tokens (`N = B T` positions), `d = d_model`, `f = d_ff`, `L = n_layers`,
//! `H = n_heads` and a vocabulary of `V`:
//!
//! - **parameters**: the weights `4P`, their gradients `4P` (`8P` with `grad_accum_steps > 1`:
//!   the running sum and the micro-batch's), AdamW's two moments `8P`;
//! - **activations** that the autodiff graph keeps for the backward pass, per block: its input
//!   (kept by ln_1), ln_1's output (by c_attn), q, k and v (`3Nd`, by the attention node), the
//!   attention output as c_proj reads it, the residual after attention (by ln_2) and ln_2's output
//!   (by c_fc): `8Nd`; c_fc's output (by GELU) and GELU's (by c_proj): `2Nf`, and a third `Nf` for
//!   the tanh GELU (its slope); ReLU² keeps two (the ReLU's output, the square's by c_proj), SwiGLU
//!   five (gate, its sigmoid, SiLU's output, the up projection, their product); QK-norm keeps the
//!   queries and keys it normalises, `2Nd` at most (grouped-query attention keeps `3Nd` for q, k
//!   and v too: the attention node holds the keys and values repeated per query head; RoPE keeps only
//!   its tables); the attention rows' max and sum, `2BHT`: the fused attention
//!   recomputes the `T x T` probabilities in its backward pass. With dropout, its masks and
//!   attention's explicit probabilities: `3BHT^2 + 5Nd` more per block, `2Nd` at the embeddings.
//!   After the blocks, ln_f's input and output, `2Nd`. Plus the backward pass's working memory:
//!   the gradients of one block's activations while those are still held, one block's worth
//!   again, and the residual stream's gradient beside them, `2Nd`;
//! - **logits** `NV`, once: the fused cross-entropy writes its gradient over them (ndarray's
//!   kernel); a backend that keeps the gradient apart holds them twice; a logit soft cap keeps its
//!   `tanh` too, one `NV` more;
//! - **overhead**: 96 MiB for the process itself (code, thread stacks, the allocator's caches, the
//!   tokenizer, data preparation, evaluation, the plots).
//!
//! Calibration against the peak resident memory of release runs on the ndarray backend (this
//! project's 2-core, 24 GiB machine, `RAYON_NUM_THREADS=2`, 2026-12-05; train runs under
//! `/usr/bin/time -v`, whose maximum resident set size is quoted; `bench` reports its `VmHWM` after
//! the training steps, `--new-tokens 2 --gen-repeats 1`). The same run's peak varied by up to 17%
//! from one run to the next on the small shapes (the allocator's per-thread caches, while other
//! work shared the machine), hence several figures and the 96 MiB overhead:
//!
//! | shape | estimate | measured (runs) | command |
//! | --- | ---: | ---: | --- |
//! | tiny.toml (V 65) | 105.8 MiB | 54.9, 55.8, 56.1 MiB | `burngpt --config configs/tiny.toml` |
//! | shakespeare_char.toml (V 65) | 140.1 MiB | 106.6-125.0 MiB (5) | `burngpt --config configs/shakespeare_char.toml --max-steps 300` |
//! | small.toml (V 2000) | 211.9 MiB | 184.3, 190.2 MiB | `burngpt --config configs/small.toml` (504 steps) |
//! | small.toml, batch 128 | 911.4 MiB | 864, 873, 896 MiB | `bench --config configs/small.toml --set training.batch_size=128 --steps 2 --warmup-steps 1` |
//! | shakespeare_char.toml, batch 256 | 786.8 MiB | 752, 762, 774 MiB | `bench --config configs/shakespeare_char.toml --set training.batch_size=256 --steps 2 --warmup-steps 1` |
//! | gpt2_124m.toml, V 50304, batch 4 | 5,330 MiB | 5,143, 5,144, 5,152 MiB | `bench --config configs/gpt2_124m.toml --vocab 50304 --steps 1 --warmup-steps 1` |
//!
//! So it over-estimates by 2-4% at the larger shapes (gpt2_124m's header: 5,217 MiB over 3 steps)
//! and by up to the overhead's slack on the smallest. The one-step GPT-2 runs of
//! docs/measurements.md at batch 24 and 28 (19,666 and 22,793 MiB: a single step allocates AdamW's
//! moments only at its end) are both 7% under this estimate less the moments (21,055 and 24,390
//! MiB); the whole estimates, 22,005 and 25,339 MiB, pass batch 24 (the largest batch that
//! docs/measurements.md finds a long run can afford on 24 GiB) and refuse batch 28, which one step
//! survives but a run, adding the moments' ~950 MiB, would not.
//!
//! These peaks were measured with the allocator returning freed memory to the system. Where the
//! machine has half as much again as the estimate, it now keeps that memory for the next step
//! ([`crate::host_memory::keep_freed_memory`]): GPT-2 124M's bench peaks at ~6,000 MiB then, not
//! ~5,100. Runs with less room return it as before, and the table holds for them.

use crate::model::{GeluKind, GptConfig, MlpKind};

/// Bytes of a float32.
const F32: u128 = 4;

/// The process besides its tensors (see the module's documentation).
pub const OVERHEAD_BYTES: u128 = 96 << 20;

/// The sizes of a run that its memory depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct RunShape {
    /// The architecture (its `vocab_size` is not read: see the next field).
    pub model: GptConfig,
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Windows per micro-batch (on one process: `training.batch_size` divided among the ranks).
    pub batch_size: usize,
    /// `training.grad_accum_steps`.
    pub grad_accum_steps: usize,
    /// The backend's cross-entropy writes its gradient over the logits (ndarray).
    pub logits_in_place: bool,
}

/// The estimate, in bytes, term by term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Parameters of the model.
    pub params: u128,
    /// The weights.
    pub weights: u128,
    /// Their gradients (twice with gradient accumulation).
    pub gradients: u128,
    /// AdamW's two moments.
    pub optimizer: u128,
    /// What one micro-batch keeps for the backward pass, logits aside.
    pub activations: u128,
    /// The backward pass's working memory (one block's activations and the residual stream's
    /// gradient).
    pub backward: u128,
    /// The logits of one micro-batch (twice where their gradient is a separate tensor).
    pub logits: u128,
    /// The process itself.
    pub overhead: u128,
}

impl MemoryEstimate {
    /// Everything (saturating: absurd shapes give `u128::MAX`, never a wrapped small number).
    pub fn total(&self) -> u128 {
        sum(&[self.parameters(), self.activations(), self.logits, self.overhead])
    }

    /// Weights, gradients and optimizer moments.
    pub fn parameters(&self) -> u128 {
        sum(&[self.weights, self.gradients, self.optimizer])
    }

    /// Activations and the backward pass's working memory.
    pub fn activations(&self) -> u128 {
        sum(&[self.activations, self.backward])
    }
}

/// The memory a run of `shape` needs at its peak, the end of a micro-batch's forward pass (see
/// the module's documentation for each term and the calibration).
pub fn estimate(s: &RunShape) -> MemoryEstimate {
    let m = &s.model;
    let [v, t, d, f, l, h, b] = [s.vocab_size, m.block_size, m.d_model, m.d_ff, m.n_layers, m.n_heads, s.batch_size].map(|x| x as u128);
    let n = prod(&[b, t]);
    let params = m.param_count(s.vocab_size);
    let floats = |count: u128| prod(&[F32, count]);
    let mlp = match m.mlp {
        MlpKind::Gelu if m.gelu == GeluKind::Tanh => 3,
        MlpKind::Gelu | MlpKind::Relu2 => 2,
        MlpKind::Swiglu => 5,
    };
    let qk_norm = if m.qk_norm { 2 } else { 0 };
    let mut block = sum(&[prod(&[8 + qk_norm, n, d]), prod(&[mlp, n, f]), prod(&[2, b, h, t])]);
    let mut outside = prod(&[2, n, d]);
    if m.dropout > 0.0 {
        block = sum(&[block, prod(&[3, b, h, t, t]), prod(&[5, n, d])]);
        outside = sum(&[outside, prod(&[2, n, d])]);
    }
    MemoryEstimate {
        params,
        weights: floats(params),
        gradients: floats(prod(&[if s.grad_accum_steps > 1 { 2 } else { 1 }, params])),
        optimizer: floats(prod(&[2, params])),
        activations: floats(sum(&[prod(&[l, block]), outside])),
        backward: floats(sum(&[block, prod(&[2, n, d])])),
        logits: floats(prod(&[(if s.logits_in_place { 1 } else { 2 }) + u128::from(m.logit_softcap > 0.0), n, v])),
        overhead: OVERHEAD_BYTES,
    }
}

/// `factors` multiplied, saturating at `u128::MAX`.
fn prod(factors: &[u128]) -> u128 {
    factors.iter().fold(1, |acc, &x| acc.saturating_mul(x))
}

/// `terms` added, saturating at `u128::MAX`.
fn sum(terms: &[u128]) -> u128 {
    terms.iter().fold(0, |acc, &x| acc.saturating_add(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MlpKind, NormKind, PositionKind};

    /// 10 tokens, block 4, d_model 8, 2 layers of 2 heads, d_ff 32, batch 3: biases everywhere,
    /// tied embeddings, learned positions, exact GELU, no dropout, logits in place.
    fn small() -> RunShape {
        let model = GptConfig {
            vocab_size: None,
            block_size: 4,
            d_model: 8,
            n_layers: 2,
            n_heads: 2,
            d_ff: 32,
            dropout: 0.0,
            bias: true,
            tie_embeddings: true,
            positions: PositionKind::Learned,
            gelu: GeluKind::Exact,
            layer_norm_eps: 1e-5,
            layer_norm_bias: true,
            init_from: None,
            norm: NormKind::Layer,
            norm_affine: true,
            rope_theta: 10000.0,
            mlp: MlpKind::Gelu,
            n_kv_heads: None,
            qk_norm: false,
            logit_softcap: 0.0,
            zero_init_proj: false,
        };
        RunShape { model, vocab_size: 10, batch_size: 3, grad_accum_steps: 1, logits_in_place: true }
    }

    fn with(edit: impl FnOnce(&mut RunShape)) -> RunShape {
        let mut shape = small();
        edit(&mut shape);
        shape
    }

    #[test]
    fn a_small_shape_by_hand() {
        let e = estimate(&small());
        // Parameters: wte 10 x 8 = 80, wpe 4 x 8 = 32, ln_f 8 + 8 = 16; per block ln_1 and ln_2
        // 16 each, c_attn 8 x 24 + 24 = 216, attn.c_proj 8 x 8 + 8 = 72, c_fc 8 x 32 + 32 = 288,
        // mlp.c_proj 32 x 8 + 8 = 264: 872, twice = 1,744. In all 1,872.
        assert_eq!(e.params, 1872);
        // 4 bytes each for the weights and the gradients, 8 for the two moments.
        assert_eq!((e.weights, e.gradients, e.optimizer), (7488, 7488, 14_976));
        // N = 3 x 4 = 12 positions. A block keeps 8 N d = 768, 2 N f = 768 and the row
        // statistics 2 B H T = 48: 1,584 floats; two blocks and ln_f's 2 N d = 192: 3,360 floats.
        assert_eq!(e.activations, 4 * 3360);
        // One block's 1,584 and the residual stream's gradient, 2 N d = 192.
        assert_eq!(e.backward, 4 * 1776);
        // N V = 120 floats.
        assert_eq!(e.logits, 480);
        // 29,952 + 13,440 + 7,104 + 480 + 96 MiB (100,663,296).
        assert_eq!(e.total(), 100_714_272);
    }

    #[test]
    fn the_variants_add_what_they_keep() {
        let base = estimate(&small());
        // Tanh GELU: one more N f = 384 floats per block, two blocks (and the backward's one).
        let tanh = estimate(&with(|s| s.model.gelu = GeluKind::Tanh));
        assert_eq!(tanh.activations - base.activations, 4 * 2 * 384);
        assert_eq!(tanh.backward - base.backward, 4 * 384);
        // Dropout: 3 B H T^2 = 288 and 5 N d = 480 per block, 2 N d = 192 outside.
        let dropout = estimate(&with(|s| s.model.dropout = 0.1));
        assert_eq!(dropout.activations - base.activations, 4 * (2 * (288 + 480) + 192));
        // A separate logits gradient doubles the logits; accumulation doubles the gradients.
        assert_eq!(estimate(&with(|s| s.logits_in_place = false)).logits, 960);
        assert_eq!(estimate(&with(|s| s.grad_accum_steps = 4)).gradients, 2 * 7488);
    }

    #[test]
    fn the_estimate_grows_with_every_size() {
        let base = estimate(&small()).total();
        let grown = [
            ("vocab", with(|s| s.vocab_size = 20)),
            ("block", with(|s| s.model.block_size = 8)),
            ("d_model", with(|s| s.model.d_model = 16)),
            ("layers", with(|s| s.model.n_layers = 3)),
            ("heads", with(|s| s.model.n_heads = 4)),
            ("d_ff", with(|s| s.model.d_ff = 64)),
            ("batch", with(|s| s.batch_size = 6)),
        ];
        for (name, shape) in grown {
            assert!(estimate(&shape).total() > base, "{name}");
        }
    }

    /// The sizes that were OOM-killed or aborted on tiny.toml's shape: no overflow, each far
    /// beyond 24 GiB; the largest possible inputs saturate instead of wrapping.
    #[test]
    fn absurd_sizes_saturate_instead_of_overflowing() {
        let tiny = |edit: fn(&mut RunShape)| {
            with(|s| {
                (s.model.block_size, s.model.d_model, s.model.d_ff, s.vocab_size, s.batch_size) = (32, 64, 256, 65, 16);
                edit(s);
            })
        };
        for shape in [
            tiny(|s| s.model.d_model = 100_000),
            tiny(|s| s.model.block_size = 1_000_000_000),
            tiny(|s| s.model.d_ff = 1_000_000_000),
            tiny(|s| s.model.n_layers = 100_000),
            tiny(|s| s.batch_size = 200_000),
            tiny(|s| s.vocab_size = 1_000_000_000),
        ] {
            assert!(estimate(&shape).total() > 24 << 30, "{shape:?}");
        }
        let huge = with(|s| {
            let m = &mut s.model;
            (m.block_size, m.d_model, m.n_layers, m.n_heads, m.d_ff, m.dropout) = (usize::MAX, usize::MAX, usize::MAX, usize::MAX, usize::MAX, 0.5);
            (s.vocab_size, s.batch_size, s.grad_accum_steps) = (usize::MAX, usize::MAX, usize::MAX);
        });
        assert_eq!(estimate(&huge).total(), u128::MAX);
        let logits = with(|s| (s.batch_size, s.model.block_size, s.vocab_size) = (usize::MAX, usize::MAX, usize::MAX));
        assert_eq!(estimate(&logits).logits, u128::MAX, "N V = (2^64 - 1)^3 is over 2^128");
    }
}
