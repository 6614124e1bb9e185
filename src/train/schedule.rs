//! Linear warmup followed by cosine decay.

use std::f64::consts::PI;

/// The learning-rate schedule of the spec: `lr_max * t / warmup_steps` during warmup, then
/// `min_lr + (lr_max - min_lr) * (1 + cos(pi * (t - t_w) / (T - t_w))) / 2`, held at
/// `min_lr` from `total_steps` on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmupCosine {
    /// Peak learning rate, reached at the end of warmup.
    pub lr_max: f64,
    /// Final learning rate.
    pub min_lr: f64,
    /// Steps of linear warmup (`t_w`).
    pub warmup_steps: usize,
    /// Step at which the cosine reaches `min_lr` (`T`).
    pub total_steps: usize,
}

impl WarmupCosine {
    /// The learning rate used by optimizer step `step` (steps are numbered from 1 in
    /// training, so step 0's rate of 0 is never used to update).
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr_max * step as f64 / self.warmup_steps as f64;
        }
        if step >= self.total_steps {
            return self.min_lr;
        }
        let progress =
            (step - self.warmup_steps) as f64 / (self.total_steps - self.warmup_steps) as f64;
        let cosine = 0.5 * (1.0 + (PI * progress).cos());
        self.min_lr + (self.lr_max - self.min_lr) * cosine
    }
}
