//! The learning-rate schedules: linear warmup followed by cosine decay ([`WarmupCosine`]) or by
//! a constant rate and a linear decay ([`WarmupStableDecay`]); the `[schedule]` section that
//! chooses one.

use std::f64::consts::PI;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::wsd::WarmupStableDecay;

/// Which schedule follows the warmup (`schedule.kind`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// Cosine decay from `optimizer.lr` to `min_lr` over the steps after warmup ([`WarmupCosine`]).
    #[default]
    Cosine,
    /// Warmup-stable-decay: `optimizer.lr` until the last `decay_fraction` of the steps, then
    /// linearly down to `min_lr` ([`WarmupStableDecay`]).
    Wsd,
}

/// Linear warmup to `optimizer.lr`, then the decay `kind` names down to `min_lr`; the
/// `[schedule]` section. Neither `kind` nor `decay_fraction` may change on resume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Steps of linear warmup from 0 to `optimizer.lr`.
    pub warmup_steps: usize,
    /// Learning rate at the end of the decay (and after it).
    pub min_lr: f64,
    /// `"cosine"` (the default) or `"wsd"`.
    #[serde(default)]
    pub kind: ScheduleKind,
    /// With `kind = "wsd"`: the fraction of the total steps, at the end, that decays (default
    /// 0.2; in [0, 1]). Ignored by `"cosine"`.
    #[serde(default = "default_decay_fraction")]
    pub decay_fraction: f64,
}

/// The last 20% of the steps decay.
fn default_decay_fraction() -> f64 {
    0.2
}

impl ScheduleConfig {
    /// Rejects impossible values for a peak rate of `lr` (`optimizer.lr`), naming the key.
    pub fn validate(&self, lr: f64) -> Result<()> {
        if !(self.min_lr >= 0.0 && self.min_lr <= lr) {
            bail!("schedule.min_lr = {} must be in [0, optimizer.lr = {lr}]", self.min_lr);
        }
        if !(0.0..=1.0).contains(&self.decay_fraction) {
            bail!("schedule.decay_fraction = {} must be in [0, 1] (the fraction of the steps that decays)", self.decay_fraction);
        }
        Ok(())
    }

    /// The schedule of a run of `total_steps` peaking at `lr`.
    pub fn schedule(&self, lr: f64, total_steps: usize) -> Schedule {
        match self.kind {
            ScheduleKind::Cosine => Schedule::Cosine(WarmupCosine {
                lr_max: lr,
                min_lr: self.min_lr,
                warmup_steps: self.warmup_steps,
                total_steps,
            }),
            ScheduleKind::Wsd => Schedule::Wsd(WarmupStableDecay::new(
                lr,
                self.min_lr,
                self.warmup_steps,
                total_steps,
                self.decay_fraction,
            )),
        }
    }
}

/// The learning rate at every step, of whichever kind the config chose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// Warmup then cosine decay.
    Cosine(WarmupCosine),
    /// Warmup, constant, then linear decay.
    Wsd(WarmupStableDecay),
}

impl Schedule {
    /// The learning rate used by optimizer step `step` (numbered from 1).
    pub fn lr_at(&self, step: usize) -> f64 {
        match self {
            Self::Cosine(s) => s.lr_at(step),
            Self::Wsd(s) => s.lr_at(step),
        }
    }
}

impl From<WarmupCosine> for Schedule {
    fn from(s: WarmupCosine) -> Self {
        Self::Cosine(s)
    }
}

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
    use super::{ScheduleConfig, ScheduleKind, WarmupCosine};

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

    /// The config builds the kind it names; a fraction outside [0, 1] is refused, naming the key.
    #[test]
    fn the_config_chooses_the_schedule() {
        let mut c = ScheduleConfig { warmup_steps: 100, min_lr: 0.0, kind: ScheduleKind::Cosine, decay_fraction: 0.2 };
        // Cosine at 550 of 1000 (warmup 100): halfway, 3e-4 / 2; WSD: still the peak.
        assert!((c.schedule(3e-4, 1000).lr_at(550) - 1.5e-4).abs() < 1e-15);
        c.kind = ScheduleKind::Wsd;
        assert_eq!(c.schedule(3e-4, 1000).lr_at(550), 3e-4);
        for bad in [-0.1, 1.5, f64::NAN] {
            c.decay_fraction = bad;
            let err = c.validate(3e-4).expect_err("out of range").to_string();
            assert!(err.contains("schedule.decay_fraction"), "{err}");
        }
        c.decay_fraction = 1.0;
        c.validate(3e-4).expect("1 is allowed");
        let err = ScheduleConfig { min_lr: 1e-3, ..c }.validate(3e-4).expect_err("min above peak").to_string();
        assert!(err.contains("schedule.min_lr"), "{err}");
    }
}
