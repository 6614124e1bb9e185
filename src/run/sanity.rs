//! When a run has diverged: the losses a checkpoint may be saved with.
//!
//! An untrained model scores about `ln(vocab_size)` (it guesses uniformly). A checkpoint is kept
//! only when its validation loss is finite and at most
//! - `ln(vocab_size) + 1`: no worse than one nat per token beyond guessing uniformly, and
//! - `max(2 x best, best + 1)`, where `best` is the lowest validation loss the run has measured
//!   (the loss before its first step included): a run that was better and lost more than half of
//!   what it learned (or a whole nat, for losses below 1) is diverging, not fluctuating.
//!
//! The loss of each training batch, noisier, only stops the run far beyond any spike that
//! recovers: above [`DIVERGED_FACTOR`]` x ln(vocab_size)`. Either way the run stops before saving
//! anything from the diverged model, so every checkpoint it keeps passes these rules.

use anyhow::{bail, Result};

/// A training batch's loss above this many times `ln(vocab_size)` stops the run.
pub const DIVERGED_FACTOR: f64 = 10.0;

/// Nats per token beyond uniform guessing (and beyond the best, for small losses) that a
/// checkpoint's validation loss may reach.
const MARGIN_NATS: f64 = 1.0;

/// The highest validation loss a checkpoint may be saved with, given the vocabulary and the best
/// validation loss measured so far (`f64::INFINITY` before any).
pub fn validation_limit(vocab_size: usize, best: f64) -> f64 {
    let uniform = (vocab_size as f64).ln() + MARGIN_NATS;
    let relative = (2.0 * best).max(best + MARGIN_NATS);
    uniform.min(relative)
}

/// Stops the run, before anything is saved from it, when a loss is NaN, infinite or above its
/// limit: the validation limit ([`validation_limit`]) for `"validation"`, else
/// [`DIVERGED_FACTOR`]` x ln(vocab_size)`.
pub fn ensure_sane(which: &str, loss: f64, step: usize, last_saved: Option<usize>, vocab_size: usize, best: f64) -> Result<()> {
    let ln_vocab = (vocab_size as f64).ln();
    let (limit, rule) = if which == "validation" {
        let limit = validation_limit(vocab_size, best);
        let rule = if limit < ln_vocab + MARGIN_NATS {
            format!("the run's best validation loss {best:.4} allows at most {limit:.4}")
        } else {
            format!("above ln(vocab_size) + {MARGIN_NATS} = {limit:.2}, worse than an untrained model")
        };
        (limit, rule)
    } else {
        let limit = DIVERGED_FACTOR * ln_vocab;
        (limit, format!("above {DIVERGED_FACTOR} x ln(vocab_size) = {limit:.1}"))
    };
    if loss <= limit {
        return Ok(());
    }
    let kept = match last_saved {
        Some(s) => format!("the last checkpoint (step {s}) was saved before it and is kept"),
        None => "no checkpoint was saved".to_string(),
    };
    bail!("the {which} loss became {loss} at step {step} ({rule}): training diverged; {kept}; lower optimizer.lr or check the data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_uniform_guessing_plus_a_nat_until_the_run_has_learned() {
        // 65 characters: ln 65 = 4.1744, so an untrained model may be saved up to 5.1744.
        assert!((validation_limit(65, f64::INFINITY) - 5.174_387).abs() < 1e-5);
        assert!((validation_limit(65, 4.2) - 5.174_387).abs() < 1e-5, "2 x 4.2 = 8.4 is looser");
        // Best 1.47 (nanoGPT's char model): 2 x 1.47 = 2.94.
        assert!((validation_limit(65, 1.47) - 2.94).abs() < 1e-12);
        // Best 0.3: 0.3 + 1 = 1.3 (twice would be 0.6, tighter than noise allows).
        assert!((validation_limit(65, 0.3) - 1.3).abs() < 1e-12);
        // GPT-2's 50,257 tokens: ln = 10.8249, an untrained model's 10.9-11.0 passes.
        assert!((validation_limit(50257, f64::INFINITY) - 11.824_9).abs() < 1e-4);
    }

    #[test]
    fn the_probes_diverged_checkpoint_is_refused_and_fluctuations_pass() {
        // The probe's lr = 3 run kept a checkpoint scoring 28.0 on 65 characters.
        let err = ensure_sane("validation", 28.0, 70, Some(60), 65, 4.18).expect_err("28 is diverged").to_string();
        assert!(err.contains("training diverged") && err.contains("step 60"), "{err}");
        ensure_sane("validation", 2.9, 70, Some(60), 65, 1.47).expect("within twice the best");
        assert!(ensure_sane("validation", 3.0, 70, Some(60), 65, 1.47).is_err(), "more than twice the best");
        assert!(ensure_sane("validation", f64::NAN, 70, None, 65, 1.47).is_err());
        // A training batch is judged by the loose limit only: 10 x ln 65 = 41.7.
        ensure_sane("training", 28.0, 70, None, 65, 1.47).expect("a batch may spike");
        assert!(ensure_sane("training", 42.0, 70, None, 65, 1.47).is_err());
    }
}
