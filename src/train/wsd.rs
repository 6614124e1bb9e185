//! Warmup, then a constant learning rate, then a linear decay: the warmup-stable-decay
//! ("trapezoidal") schedule of modded-nanogpt and nanochat.

/// `lr_max * t / warmup_steps` during warmup; `lr_max` until `decay_start`; then linearly down to
/// `min_lr`, reached at `total_steps` and held from there on.
///
/// `decay_start = max(warmup_steps, total_steps - round(decay_fraction * total_steps))`
/// ([`WarmupStableDecay::new`]): the decay takes the last `decay_fraction` of the steps, rounded
/// to whole steps (half away from zero), and never starts inside the warmup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmupStableDecay {
    /// Peak learning rate, reached at the end of warmup and held until the decay.
    pub lr_max: f64,
    /// Final learning rate.
    pub min_lr: f64,
    /// Steps of linear warmup.
    pub warmup_steps: usize,
    /// First step of the decay (its rate is still `lr_max`).
    pub decay_start: usize,
    /// Step at which the decay reaches `min_lr`.
    pub total_steps: usize,
}

impl WarmupStableDecay {
    /// The schedule of a run of `total_steps` whose last `decay_fraction` (in [0, 1]) decays.
    pub fn new(lr_max: f64, min_lr: f64, warmup_steps: usize, total_steps: usize, decay_fraction: f64) -> Self {
        let decay_steps = (decay_fraction * total_steps as f64).round() as usize;
        let decay_start = total_steps.saturating_sub(decay_steps).max(warmup_steps);
        Self { lr_max, min_lr, warmup_steps, decay_start, total_steps }
    }

    /// The learning rate used by optimizer step `step` (numbered from 1, as the cosine's).
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr_max * step as f64 / self.warmup_steps as f64;
        }
        if step >= self.total_steps {
            return self.min_lr;
        }
        if step <= self.decay_start {
            return self.lr_max;
        }
        // decay_start < step < total_steps, so the span is at least 2.
        let progress = (step - self.decay_start) as f64 / (self.total_steps - self.decay_start) as f64;
        self.lr_max - (self.lr_max - self.min_lr) * progress
    }
}

#[cfg(test)]
mod tests {
    use super::WarmupStableDecay;

    fn check(s: &WarmupStableDecay, table: &[(usize, f64)]) {
        for &(step, expected) in table {
            let lr = s.lr_at(step);
            assert!((lr - expected).abs() <= 1e-15, "lr_at({step}) = {lr}, expected {expected}");
        }
    }

    /// lr 1e-3, min 1e-4, 100 warmup steps of 1000, the last 20% decaying: decay_start =
    /// 1000 - round(0.2 * 1000) = 800. Warmup: 1e-3 * t / 100. Decay: 1e-3 - 9e-4 * (t - 800) / 200,
    /// so t = 900: 1e-3 - 9e-4 / 2 = 5.5e-4; t = 950: 1e-3 - 9e-4 * 0.75 = 3.25e-4; t = 999:
    /// 1e-3 - 9e-4 * 199 / 200 = 1.045e-4; from t = 1000 on: min_lr.
    #[test]
    fn learning_rate_table() {
        let s = WarmupStableDecay::new(1e-3, 1e-4, 100, 1000, 0.2);
        assert_eq!(s.decay_start, 800);
        check(
            &s,
            &[
                (0, 0.0),
                (1, 1e-5),
                (50, 5e-4),
                (100, 1e-3),
                (500, 1e-3),
                (799, 1e-3),
                (800, 1e-3),
                (900, 5.5e-4),
                (950, 3.25e-4),
                (999, 1.045e-4),
                (1000, 1e-4),
                (1001, 1e-4),
                (5000, 1e-4),
            ],
        );
        // At every step the rate is within [min_lr, lr_max] after warmup, and never rises.
        for t in 100..1000 {
            assert!(s.lr_at(t + 1) <= s.lr_at(t), "rises at {t}");
        }
    }

    /// 10 steps, 25% decaying: round(2.5) = 3 (half away from zero), decay_start = 7; the decay
    /// runs 7 -> 10 in thirds: t = 8: 6e-4 - 6e-4 / 3 = 4e-4, t = 9: 6e-4 - 2 * 6e-4 / 3 = 2e-4.
    #[test]
    fn the_decay_length_is_rounded_to_whole_steps() {
        let s = WarmupStableDecay::new(6e-4, 0.0, 2, 10, 0.25);
        assert_eq!(s.decay_start, 7);
        check(&s, &[(1, 3e-4), (2, 6e-4), (6, 6e-4), (7, 6e-4), (8, 4e-4), (9, 2e-4), (10, 0.0)]);
    }

    /// decay_fraction 1 would start the decay at step 0: it starts when the warmup ends, so with
    /// warmup 2 of 10 the decay spans 8 steps and t = 6 is halfway: 1e-3 - (1e-3 - 2e-4) / 2 = 6e-4.
    /// decay_fraction 0: constant to the end, min_lr only from step `total_steps` on.
    #[test]
    fn the_extreme_fractions() {
        let all = WarmupStableDecay::new(1e-3, 2e-4, 2, 10, 1.0);
        assert_eq!(all.decay_start, 2);
        check(&all, &[(1, 5e-4), (2, 1e-3), (6, 6e-4), (10, 2e-4)]);
        let none = WarmupStableDecay::new(1e-3, 2e-4, 2, 10, 0.0);
        assert_eq!(none.decay_start, 10);
        check(&none, &[(2, 1e-3), (9, 1e-3), (10, 2e-4)]);
    }
}
