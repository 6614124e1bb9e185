//! From per-token losses to predictions and accuracies: pure arithmetic.

use serde::Serialize;

/// The cross-entropy of one ending's tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EndingLoss {
    /// Summed over the ending's scored tokens (nats).
    pub sum: f64,
    /// How many tokens were scored.
    pub tokens: usize,
}

impl EndingLoss {
    /// Per token: what `acc_norm` compares.
    pub fn mean(&self) -> f64 {
        self.sum / self.tokens as f64
    }
}

/// The loss of the ending of a row whose first ending token is at `ending_start`, from
/// `target_losses[i]`, the loss of predicting token `i + 1` from tokens `0..=i` (one fewer than
/// the row's tokens). Token 0 has no prediction, so an ending starting there loses its first token.
pub fn ending_loss(target_losses: &[f32], ending_start: usize) -> EndingLoss {
    let first = ending_start.max(1) - 1;
    let scored = target_losses.get(first..).unwrap_or(&[]);
    EndingLoss { sum: scored.iter().map(|&l| l as f64).sum(), tokens: scored.len() }
}

/// The endings with the smallest summed loss (`pred`) and the smallest loss per token
/// (`pred_norm`); on a tie the first, as torch's `argmin`.
pub fn predict(losses: &[EndingLoss; 4]) -> (usize, usize) {
    let argmin = |key: fn(&EndingLoss) -> f64| {
        (1..4).fold(0, |best, k| if key(&losses[k]) < key(&losses[best]) { k } else { best })
    };
    (argmin(|l| l.sum), argmin(EndingLoss::mean))
}

/// One scored example, as `--out` writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// The dataset's `ind` (or position).
    pub ind: u64,
    /// The right ending.
    pub label: usize,
    /// The ending with the smallest summed loss.
    pub pred: usize,
    /// The ending with the smallest loss per token.
    pub pred_norm: usize,
    /// The four summed losses.
    pub losses: [f64; 4],
}

impl Scored {
    /// Scores an example from its four ending losses.
    pub fn new(ind: u64, label: usize, losses: &[EndingLoss; 4]) -> Self {
        let (pred, pred_norm) = predict(losses);
        Self { ind, label, pred, pred_norm, losses: losses.map(|l| l.sum) }
    }
}

/// Right answers out of the examples scored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Examples scored.
    pub examples: usize,
    /// Right by the summed loss.
    pub correct: usize,
    /// Right by the loss per token.
    pub correct_norm: usize,
}

impl Summary {
    /// Counts the right predictions of `scored`.
    pub fn of(scored: &[Scored]) -> Self {
        Self {
            examples: scored.len(),
            correct: scored.iter().filter(|s| s.pred == s.label).count(),
            correct_norm: scored.iter().filter(|s| s.pred_norm == s.label).count(),
        }
    }

    /// Fraction right by the summed loss.
    pub fn acc(&self) -> f64 {
        self.correct as f64 / self.examples.max(1) as f64
    }

    /// Fraction right by the loss per token.
    pub fn acc_norm(&self) -> f64 {
        self.correct_norm as f64 / self.examples.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_loss_sums_the_targets_of_the_ending_only() {
        // Row [c0 c1 c2 e0 e1]: targets c1 c2 e0 e1 with losses 9, 9, 1.5, 0.25; the ending starts
        // at 3, so targets 2 and 3 (e0 predicted from c2, e1 from e0): 1.5 + 0.25 = 1.75 over 2.
        let l = ending_loss(&[9.0, 9.0, 1.5, 0.25], 3);
        assert_eq!(l, EndingLoss { sum: 1.75, tokens: 2 });
        assert_eq!(l.mean(), 0.875);
        // The ending at position 0 (truncated into it): its first token is not predicted.
        assert_eq!(ending_loss(&[2.0, 3.0], 0), EndingLoss { sum: 5.0, tokens: 2 });
        assert_eq!(ending_loss(&[2.0, 3.0], 1), EndingLoss { sum: 5.0, tokens: 2 });
    }

    #[test]
    fn acc_and_acc_norm_can_disagree() {
        // Sums 6, 4, 5, 9 over 3, 1, 5, 9 tokens: means 2, 4, 1, 1. The smallest sum is ending 1;
        // the smallest mean is 1.0, first at ending 2 (ending 3 ties it later and loses).
        let l = |sum, tokens| EndingLoss { sum, tokens };
        let losses = [l(6.0, 3), l(4.0, 1), l(5.0, 5), l(9.0, 9)];
        assert_eq!(predict(&losses), (1, 2));
        let scored = [Scored::new(0, 1, &losses), Scored::new(1, 2, &losses), Scored::new(2, 0, &losses)];
        assert_eq!(scored[0].losses, [6.0, 4.0, 5.0, 9.0]);
        let summary = Summary::of(&scored);
        assert_eq!((summary.examples, summary.correct, summary.correct_norm), (3, 1, 1));
        assert!((summary.acc() - 1.0 / 3.0).abs() < 1e-15);
        // Ties go to the first, as torch.argmin.
        assert_eq!(predict(&[l(1.0, 1); 4]), (0, 0));
    }
}
