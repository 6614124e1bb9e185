//! The forward passes: examples padded into batches, and each ending's loss read back.

use std::ops::Range;

use anyhow::{anyhow, Result};
use burn::tensor::{Int, Tensor, TensorData};
use burngpt_ops::FusedOps;

use super::render::Rendered;
use super::score::{ending_loss, EndingLoss, Scored};
use crate::model::Gpt;

/// Consecutive examples grouped into forward passes: each group's 4 x examples rows, padded to
/// its longest row, hold at most `max_positions` tokens (a group holds at least one example).
/// The grouping depends on the examples only, so a batch scores the same on any rank.
pub fn example_batches(examples: &[Rendered], max_positions: usize) -> Vec<Range<usize>> {
    let mut batches = Vec::new();
    let (mut start, mut longest) = (0, 0);
    for (i, example) in examples.iter().enumerate() {
        let len = example.candidates.iter().map(|c| c.tokens.len()).max().unwrap_or(0);
        let wider = longest.max(len);
        if i > start && 4 * (i + 1 - start) * wider > max_positions {
            batches.push(start..i);
            (start, longest) = (i, len);
        } else {
            longest = wider;
        }
    }
    if start < examples.len() {
        batches.push(start..examples.len());
    }
    batches
}

/// Scores `examples` in one forward pass of `model` (built with a `block_size` at least their
/// longest row, as [`super::render_examples`] cuts them). Rows are right-padded: under causal
/// attention a row's logits do not depend on what follows it.
pub fn score_batch<B: FusedOps>(model: &Gpt<B>, examples: &[Rendered], device: &B::Device) -> Result<Vec<Scored>> {
    let rows: Vec<_> = examples.iter().flat_map(|e| e.candidates.iter()).collect();
    let width = rows.iter().map(|c| c.tokens.len()).max().unwrap_or(0);
    if rows.is_empty() || width == 0 {
        return Ok(Vec::new());
    }
    let mut inputs = vec![0i64; rows.len() * width];
    let mut targets = vec![0i64; rows.len() * width];
    for (r, row) in rows.iter().enumerate() {
        for (i, &id) in row.tokens.iter().enumerate() {
            inputs[r * width + i] = id as i64;
            if i > 0 {
                targets[r * width + i - 1] = id as i64;
            }
        }
    }
    let n = rows.len() * width;
    let inputs = Tensor::<B, 2, Int>::from_data(TensorData::new(inputs, [rows.len(), width]), device);
    let targets = Tensor::<B, 2, Int>::from_data(TensorData::new(targets, [n, 1]), device);
    let logits = model.forward(inputs); // [rows, width, vocab_size]
    let vocab_size = logits.dims()[2];
    // The loss of every position's next token: -log_softmax(logits)[target].
    let losses = burngpt_ops::log_softmax(logits.reshape([n, vocab_size]), 1).gather(1, targets).neg();
    let losses: Vec<f32> = losses
        .into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|e| anyhow!("cannot read the HellaSwag losses back from the device: {e:?}"))?;
    let ending = |r: usize| -> EndingLoss {
        let row = rows[r];
        ending_loss(&losses[r * width..r * width + row.tokens.len() - 1], row.ending_start)
    };
    Ok(examples
        .iter()
        .enumerate()
        .map(|(e, example)| {
            let four = [ending(4 * e), ending(4 * e + 1), ending(4 * e + 2), ending(4 * e + 3)];
            Scored::new(example.ind, example.label, &four)
        })
        .collect())
}

/// Scores every example, `max_positions` tokens per forward pass at most ([`example_batches`]);
/// `done(n)` after each pass with the examples it scored.
pub fn score_examples<B: FusedOps>(
    model: &Gpt<B>,
    examples: &[Rendered],
    max_positions: usize,
    device: &B::Device,
    mut done: impl FnMut(usize),
) -> Result<Vec<Scored>> {
    let mut scored = Vec::with_capacity(examples.len());
    for range in example_batches(examples, max_positions) {
        let n = range.len();
        scored.extend(score_batch(model, &examples[range], device)?);
        done(n);
    }
    Ok(scored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hellaswag::Candidate;

    fn example(len: usize) -> Rendered {
        let c = Candidate { tokens: vec![1; len], ending_start: 1 };
        Rendered { ind: 0, label: 0, candidates: [c.clone(), c.clone(), c.clone(), c] }
    }

    #[test]
    fn batches_hold_at_most_max_positions_padded_tokens() {
        // Lengths 3, 5, 2, 10, 1 with 40 positions: [3, 5] pads to 4 x 2 x 5 = 40; adding 2 would
        // be 60. [2] then 10 -> 4 x 2 x 10 = 80 > 40, so [2]; [10] alone is 40; [1] alone.
        let examples: Vec<_> = [3, 5, 2, 10, 1].into_iter().map(example).collect();
        assert_eq!(example_batches(&examples, 40), vec![0..2, 2..3, 3..4, 4..5]);
        // An example wider than the budget still gets a batch of its own.
        assert_eq!(example_batches(&examples, 8), vec![0..1, 1..2, 2..3, 3..4, 4..5]);
        assert_eq!(example_batches(&examples, 1000), vec![0..5]);
        assert!(example_batches(&[], 40).is_empty());
    }
}
