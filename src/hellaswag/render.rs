//! An example as the model reads it: four token rows, context then ending, cut to the model's
//! `block_size` from the left.

use anyhow::{bail, Context, Result};

use super::example::Example;
use crate::data::Tokenizer;

/// One ending appended to the context, as fed to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Context then ending tokens, at most `block_size` of them.
    pub tokens: Vec<u32>,
    /// Index in `tokens` of the first ending token (0 when truncation cut into the ending).
    pub ending_start: usize,
}

impl Candidate {
    /// The ending's tokens the model predicts: those after position 0 (a first token has no
    /// prediction).
    pub fn scored_tokens(&self) -> usize {
        self.tokens.len().saturating_sub(self.ending_start.max(1))
    }
}

/// An example's four candidates and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The dataset's `ind` (or position).
    pub ind: u64,
    /// Index of the right ending.
    pub label: usize,
    /// One candidate per ending.
    pub candidates: [Candidate; 4],
}

/// `context` then `ending`; where they hold more than `block_size` tokens, the last
/// `block_size` are kept, and the ending's tokens that remain are still the ending's.
pub fn render(context: &[u32], ending: &[u32], block_size: usize) -> Candidate {
    let total = context.len() + ending.len();
    let cut = total.saturating_sub(block_size);
    let tokens: Vec<u32> = context.iter().chain(ending).skip(cut).copied().collect();
    Candidate { tokens, ending_start: context.len().saturating_sub(cut) }
}

/// Tokenizes every example as llm.c does: `encode(ctx)` then `encode(" " + ending)` for each
/// ending, cut to `block_size`. `source` names the file in errors.
pub fn render_examples(examples: &[Example], tokenizer: &Tokenizer, block_size: usize, source: &str) -> Result<Vec<Rendered>> {
    examples
        .iter()
        .map(|example| {
            let at = || format!("{source}:{}", example.line);
            let context = tokenizer.encode(&example.ctx).with_context(|| format!("{}: \"ctx\" cannot be encoded", at()))?;
            let mut candidates = Vec::with_capacity(4);
            for (k, ending) in example.endings.iter().enumerate() {
                let ids = tokenizer
                    .encode(&format!(" {ending}"))
                    .with_context(|| format!("{}: ending {k} cannot be encoded", at()))?;
                let candidate = render(&context, &ids, block_size);
                if candidate.scored_tokens() == 0 {
                    bail!(
                        "{}: ending {k} leaves no token to score ({} context and {} ending tokens, block_size {block_size})",
                        at(),
                        context.len(),
                        ids.len()
                    );
                }
                candidates.push(candidate);
            }
            let candidates: [Candidate; 4] = candidates.try_into().map_err(|_| anyhow::anyhow!("four endings"))?;
            Ok(Rendered { ind: example.ind, label: example.label, candidates })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_rows_are_context_then_ending() {
        let c = render(&[1, 2, 3], &[7, 8], 8);
        assert_eq!(c, Candidate { tokens: vec![1, 2, 3, 7, 8], ending_start: 3 });
        // Targets 7 and 8 are predicted (from 3 and 7).
        assert_eq!(c.scored_tokens(), 2);
    }

    #[test]
    fn long_rows_keep_the_last_block_size_tokens() {
        // 5 + 3 = 8 tokens, block 6: the first two context tokens go.
        let c = render(&[1, 2, 3, 4, 5], &[7, 8, 9], 6);
        assert_eq!(c, Candidate { tokens: vec![3, 4, 5, 7, 8, 9], ending_start: 3 });
        assert_eq!(c.scored_tokens(), 3);
        // An ending longer than the block: the context is gone and the first kept ending token
        // has no prediction, so 3 of the 4 kept ending tokens are scored.
        let c = render(&[1, 2], &[6, 7, 8, 9, 10, 11], 4);
        assert_eq!(c, Candidate { tokens: vec![8, 9, 10, 11], ending_start: 0 });
        assert_eq!(c.scored_tokens(), 3);
        // Exactly a block: nothing cut.
        assert_eq!(render(&[1, 2], &[3, 4], 4), Candidate { tokens: vec![1, 2, 3, 4], ending_start: 2 });
    }

    #[test]
    fn an_ending_without_context_scores_all_but_its_first_token() {
        assert_eq!(render(&[], &[5, 6], 4).scored_tokens(), 1);
        assert_eq!(render(&[], &[5], 4).scored_tokens(), 0);
    }
}
