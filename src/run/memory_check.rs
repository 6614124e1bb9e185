//! The memory check: a run's estimate ([`super::memory`]) against the memory available, before the
//! model is built; a refusal names the key that makes the run large and what it costs.

use anyhow::{bail, Result};

use super::config::RunConfig;
use super::memory::{estimate, MemoryEstimate, RunShape, OVERHEAD_BYTES};
use super::monitor::group;
use crate::data::TokenizerKind;
use crate::host_memory::{human_bytes, keep_freed_memory, room_to_keep_freed, MemoryCheck, SKIP_FLAG};

/// The three parts of an estimate that a size can make large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Weights, gradients and AdamW's moments.
    Parameters,
    /// Activations kept for the backward pass and its working memory.
    Activations,
    /// The logits.
    Logits,
}

/// The largest part of `e` and its bytes.
pub fn largest(e: &MemoryEstimate) -> (Part, u128) {
    [(Part::Parameters, e.parameters()), (Part::Activations, e.activations()), (Part::Logits, e.logits)]
        .into_iter()
        .fold((Part::Parameters, 0), |best, part| if part.1 > best.1 { part } else { best })
}

/// The sizes an estimate grows with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeKey {
    /// The vocabulary (named by where it comes from).
    Vocab,
    /// `model.block_size`.
    BlockSize,
    /// `model.d_model`.
    DModel,
    /// `model.n_layers`.
    NLayers,
    /// `model.d_ff`.
    DFf,
    /// `training.batch_size`.
    BatchSize,
}

impl SizeKey {
    const ALL: [SizeKey; 6] = [Self::Vocab, Self::BlockSize, Self::DModel, Self::NLayers, Self::DFf, Self::BatchSize];

    fn field(self, shape: &mut RunShape) -> &mut usize {
        match self {
            Self::Vocab => &mut shape.vocab_size,
            Self::BlockSize => &mut shape.model.block_size,
            Self::DModel => &mut shape.model.d_model,
            Self::NLayers => &mut shape.model.n_layers,
            Self::DFf => &mut shape.model.d_ff,
            Self::BatchSize => &mut shape.batch_size,
        }
    }
}

/// The size that makes `shape` large: the one whose reduction to 1 shrinks the estimate most.
pub fn driving_key(shape: &RunShape) -> SizeKey {
    let shrunk = |key: SizeKey| {
        let mut small = shape.clone();
        *key.field(&mut small) = 1;
        estimate(&small).total()
    };
    SizeKey::ALL.into_iter().min_by_key(|&key| shrunk(key)).unwrap_or(SizeKey::DModel)
}

/// How the keys read in a message: the config's own names, with the vocabulary named by where
/// it comes from (`data.vocab_size = 2000`, `--vocab 50304`, `the tokenizer's vocabulary`).
fn describe(key: SizeKey, shape: &RunShape, vocab_name: &str) -> String {
    match key {
        SizeKey::Vocab => format!("{vocab_name} = {}", shape.vocab_size),
        SizeKey::BlockSize => format!("model.block_size = {}", shape.model.block_size),
        SizeKey::DModel => format!("model.d_model = {}", shape.model.d_model),
        SizeKey::NLayers => format!("model.n_layers = {}", shape.model.n_layers),
        SizeKey::DFf => format!("model.d_ff = {}", shape.model.d_ff),
        SizeKey::BatchSize => format!("training.batch_size = {}", shape.batch_size),
    }
}

/// Estimates `shape` and refuses it when it needs more than the memory where training runs
/// (divided among `ranks_here` processes on this machine). `vocab_name` names the vocabulary's
/// source in the message.
pub fn check_shape(shape: &RunShape, vocab_name: &str, memory: &MemoryCheck, ranks_here: usize) -> Result<MemoryEstimate> {
    let e = estimate(shape);
    let share = memory.per_process(ranks_here);
    if !share.refuses_training(e.total()) {
        return Ok(e);
    }
    let (part, bytes) = largest(&e);
    let what = match part {
        Part::Parameters => format!("the {} parameters, their gradients and AdamW's two moments", group_u128(e.params)),
        Part::Activations => format!(
            "the activations that one micro-batch ({} windows of {} tokens) keeps for the backward pass",
            shape.batch_size, shape.model.block_size
        ),
        Part::Logits => format!(
            "the logits of one micro-batch ({} positions x {} tokens)",
            group_u128((shape.batch_size as u128).saturating_mul(shape.model.block_size as u128)),
            shape.vocab_size
        ),
    };
    // A size is to blame only when its part outweighs the process's fixed share.
    let cause = if bytes >= e.overhead {
        format!("{}: {what} need {}; ", describe(driving_key(shape), shape, vocab_name), human_bytes(bytes))
    } else {
        String::new()
    };
    bail!(
        "{cause}the run needs ~{} in all and {} is available{}. Choose smaller sizes, or pass {SKIP_FLAG} to try \
         anyway (the estimate counts the parameters, gradients and AdamW's moments in float32, the activations and \
         logits of one micro-batch, and {} for the process; README, \"Memory\")",
        human_bytes(e.total()),
        human_bytes(u128::from(share.training.unwrap_or(0))),
        if ranks_here > 1 { format!(" to each of the {ranks_here} processes on this machine") } else { String::new() },
        human_bytes(OVERHEAD_BYTES),
    )
}

/// [`check_shape`] for a training run: its micro-batch is `training.batch_size` divided among
/// `ranks` processes, `ranks_here` of them on this machine. The vocabulary is `vocab` (the
/// tokenizer's) when known, else the config's (`model.vocab_size`, or a BPE `data.vocab_size`),
/// else 1: the smallest possible, as the estimate grows with it.
pub fn check_run_memory(
    config: &RunConfig,
    vocab: Option<usize>,
    (ranks, ranks_here): (usize, usize),
    memory: &MemoryCheck,
) -> Result<MemoryEstimate> {
    let data = &config.data;
    let (written, name) = match (config.model.vocab_size, data.tokenizer, &data.tokenizer_file, data.vocab_size) {
        (Some(v), ..) => (Some(v), "model.vocab_size"),
        (None, TokenizerKind::Bpe, None, Some(v)) => (Some(v), "data.vocab_size"),
        _ => (None, "the tokenizer's vocabulary"),
    };
    let t = &config.training;
    let shape = RunShape {
        model: config.model.clone(),
        vocab_size: vocab.or(written).unwrap_or(1),
        batch_size: (t.batch_size / ranks.max(1)).max(1),
        grad_accum_steps: t.grad_accum_steps,
        logits_in_place: memory.logits_in_place,
    };
    check_shape(&shape, name, memory, ranks_here)
}

/// Lets the allocator keep the memory a step frees for the next ([`keep_freed_memory`]) when
/// host memory, shared among `ranks_here` processes on this machine, holds half as much again as
/// the estimate `e` ([`room_to_keep_freed`]); says whether it does. Tighter runs return freed
/// memory to the system as before, so the estimate still says what fits.
pub fn keep_freed_memory_if_room(e: &MemoryEstimate, memory: &MemoryCheck, ranks_here: usize) -> bool {
    room_to_keep_freed(e.total(), memory.per_process(ranks_here).host) && keep_freed_memory()
}

/// The start-up line: `Memory: ~193.8 MiB estimated (parameters and AdamW 16.0 MiB, ...), 21.9 GiB
/// available`.
pub fn memory_line(e: &MemoryEstimate, memory: &MemoryCheck) -> String {
    let available = match (memory.training, memory.enforce) {
        (None, _) => "memory available unknown (not checked)".to_string(),
        (Some(a), true) => format!("{} available", human_bytes(a.into())),
        (Some(a), false) => format!("{} available (not checked: {SKIP_FLAG})", human_bytes(a.into())),
    };
    format!(
        "Memory: ~{} estimated (parameters, gradients and AdamW {}, activations {}, logits {}, process {}), {available}",
        human_bytes(e.total()),
        human_bytes(e.parameters()),
        human_bytes(e.activations()),
        human_bytes(e.logits),
        human_bytes(e.overhead),
    )
}

/// `n` with thousands separators (saturated counts stay readable).
fn group_u128(n: u128) -> String {
    usize::try_from(n).map(group).unwrap_or_else(|_| format!("{n:e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GptConfig;

    /// configs/tiny.toml's shape: vocabulary 65, block 32, d_model 64, 2 layers of 4 heads,
    /// d_ff 256, batch 16.
    fn tiny() -> RunShape {
        let model: GptConfig = toml::from_str(
            "block_size = 32\nd_model = 64\nn_layers = 2\nn_heads = 4\nd_ff = 256\ndropout = 0.0\nbias = true\n\
             tie_embeddings = true\npositions = \"learned\"\ngelu = \"tanh\"\nlayer_norm_eps = 1e-5",
        )
        .expect("a [model] section");
        RunShape { model, vocab_size: 65, batch_size: 16, grad_accum_steps: 1, logits_in_place: true }
    }

    fn with(edit: impl FnOnce(&mut RunShape)) -> RunShape {
        let mut shape = tiny();
        edit(&mut shape);
        shape
    }

    const ENFORCED: MemoryCheck = MemoryCheck { enforce: true, host: None, training: Some(24 << 30), logits_in_place: true };

    /// Each of the sizes that was OOM-killed or aborted on tiny.toml is named as the cause, with
    /// the part of the estimate it inflates.
    #[test]
    fn the_absurd_sizes_are_named() {
        for (shape, key, needles) in [
            (with(|s| s.model.d_model = 100_000), SizeKey::DModel, ["model.d_model = 100000", "parameters"]),
            (with(|s| s.model.block_size = 1_000_000_000), SizeKey::BlockSize, ["model.block_size = 1000000000", "activations"]),
            (with(|s| s.model.d_ff = 1_000_000_000), SizeKey::DFf, ["model.d_ff = 1000000000", "activations"]),
            (with(|s| s.model.n_layers = 100_000), SizeKey::NLayers, ["model.n_layers = 100000", "activations"]),
            (with(|s| s.batch_size = 200_000), SizeKey::BatchSize, ["training.batch_size = 200000", "activations"]),
            (with(|s| s.vocab_size = 1_000_000_000), SizeKey::Vocab, ["data.vocab_size = 1000000000", "logits"]),
        ] {
            assert_eq!(driving_key(&shape), key, "{shape:?}");
            let err = check_shape(&shape, "data.vocab_size", &ENFORCED, 1).expect_err("too large").to_string();
            for needle in needles.iter().chain(&["24.0 GiB is available", SKIP_FLAG]) {
                assert!(err.contains(needle), "{needle:?} not in {err}");
            }
        }
    }

    /// tiny.toml at batch 200,000: N = 200,000 x 32 = 6.4M positions, a block keeping
    /// 8 x 64 + 3 x 256 = 1,280 floats per position, 2 blocks + 2 x 64 outside, plus one block
    /// and 2 x 64 for the backward pass: (3 x 1,280 + 256) x 6.4M = 26.214G floats, and the row
    /// statistics, 2 x 4 heads x 32 x 200,000 = 51.2M per block, 3 blocks: 153.6M floats. In all
    /// 26.368G floats x 4 = 105,472,000,000 bytes = 98.2 GiB.
    #[test]
    fn the_message_gives_the_part_and_the_total() {
        let err = check_shape(&with(|s| s.batch_size = 200_000), "v", &ENFORCED, 1).expect_err("too large").to_string();
        assert!(err.contains("one micro-batch (200000 windows of 32 tokens) keeps for the backward pass need 98.2 GiB"), "{err}");
        // Two processes on this machine share its memory.
        // At batch 30,000 a process needs 98.2 x 3/20 = 14.7 GiB (and the logits), more than 24 / 2.
        let err = check_shape(&with(|s| s.batch_size = 30_000), "v", &ENFORCED, 2).expect_err("14.7 GiB > 12").to_string();
        assert!(err.contains("12.0 GiB is available to each of the 2 processes"), "{err}");
    }

    /// Below the process's own 96 MiB no size is blamed: the message gives the total alone. tiny:
    /// 16 bytes x 106,304 parameters = 1,700,864, activations (2 x 659,456 + 65,536) and the
    /// backward's 659,456 + 65,536 floats = 8,437,760 bytes, logits 512 x 65 x 4 = 133,120, and
    /// 100,663,296: 110,935,040 bytes = 105.8 MiB.
    #[test]
    fn a_small_run_on_a_smaller_machine_blames_no_size() {
        let memory = MemoryCheck { training: Some(50 << 20), ..ENFORCED };
        let err = check_shape(&tiny(), "v", &memory, 1).expect_err("105.8 MiB > 50 MiB").to_string();
        assert!(err.starts_with("the run needs ~105.8 MiB in all and 50.0 MiB is available"), "{err}");
    }

    #[test]
    fn what_fits_or_is_not_checked_passes() {
        let e = check_shape(&tiny(), "v", &ENFORCED, 1).expect("tiny fits");
        assert!(memory_line(&e, &ENFORCED).ends_with("), 24.0 GiB available"), "{}", memory_line(&e, &ENFORCED));
        let huge = with(|s| s.model.d_model = 100_000);
        let unchecked = MemoryCheck { enforce: false, ..ENFORCED };
        let e = check_shape(&huge, "v", &unchecked, 1).expect("not enforced");
        assert!(memory_line(&e, &unchecked).ends_with(&format!("(not checked: {SKIP_FLAG})")));
        let unknown = MemoryCheck { training: None, ..ENFORCED };
        assert!(check_shape(&huge, "v", &unknown, 1).is_ok(), "unknown memory refuses nothing");
    }
}
