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

#[cfg(test)]
mod tests {
    use super::WarmupCosine;

    /// docs/numeric-reference.md, "Learning rate, warmup + cosine".
    #[test]
    fn learning_rate_table() {
        let s = WarmupCosine { lr_max: 3e-4, min_lr: 0.0, warmup_steps: 100, total_steps: 1000 };
        let table = [
            (0, 0.0),
            (50, 1.5e-4),
            (100, 3.0e-4),
            (150, 2.97721162951831e-4),
            (500, 1.76047226650040e-4),
            (900, 9.04610688211375e-6),
            (1000, 0.0),
            (1001, 0.0),
            (5000, 0.0),
        ];
        for (step, expected) in table {
            let lr = s.lr_at(step);
            assert!((lr - expected).abs() <= 1e-15, "lr_at({step}) = {lr}, expected {expected}");
        }
        // With a floor, the schedule ends on min_lr and stays there.
        let s = WarmupCosine { min_lr: 3e-5, ..s };
        assert_eq!(s.lr_at(1000), 3e-5);
        assert_eq!(s.lr_at(2000), 3e-5);
        // Halfway through the cosine: min + (max - min) / 2.
        assert!((s.lr_at(550) - (3e-5 + 0.5 * (3e-4 - 3e-5))).abs() < 1e-15);
    }
}
