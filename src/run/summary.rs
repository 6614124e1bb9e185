//! What a finished run measured, and its closing lines.

use super::monitor::group;

/// What a finished run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    /// Optimizer steps taken.
    pub steps: usize,
    /// Validation loss before the first step.
    pub initial_val_loss: f64,
    /// Loss of the last training batch.
    pub final_train_loss: f64,
    /// Validation loss after the last step.
    pub final_val_loss: f64,
    /// Wall time of the training loop, seconds.
    pub wall_secs: f64,
    /// Training tokens per second over the whole loop (evaluations included).
    pub tokens_per_sec: f64,
    /// Stopped before the last step, by a [`super::StopHandle`] request (Ctrl-C) or
    /// `stop_at_step`; a checkpoint was saved.
    pub interrupted: bool,
}

impl TrainSummary {
    /// Prints the closing lines: the steps (`steps_run` of them in this process), time, speed and
    /// losses; with several processes (`ranks`), the time spent in the gradients' all-reduce
    /// (`reduce_secs` in all).
    pub fn print(&self, steps_run: usize, ranks: usize, reduce_secs: f64) {
        let (step, wall_secs) = (self.steps, self.wall_secs);
        let (final_train_loss, final_val_loss) = (self.final_train_loss, self.final_val_loss);
        crate::outln!("{}", "-".repeat(60));
        crate::outln!(
            "Done: {step} steps ({steps_run} in this process, {wall_secs:.1}s, {} tok/s) | train loss {final_train_loss:.4} | val loss {final_val_loss:.4} | val ppl {:.2}",
            group(self.tokens_per_sec as usize),
            final_val_loss.exp()
        );
        if ranks > 1 && steps_run > 0 {
            crate::outln!(
                "Gradient all-reduce across {ranks} processes: {:.2} ms per step ({:.1}% of the time)",
                1e3 * reduce_secs / steps_run as f64,
                100.0 * reduce_secs / wall_secs
            );
        }
    }
}
