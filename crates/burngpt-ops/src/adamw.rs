//! The scalars of one AdamW step.

/// One AdamW step's hyperparameters, shared by every implementation of
/// [`FusedOps::adamw_update`](crate::FusedOps::adamw_update) (each derives its scalars as Burn
/// 0.21's `AdamW` does).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWStep {
    pub(crate) beta1: f32,
    pub(crate) beta2: f32,
    pub(crate) eps: f32,
    pub(crate) weight_decay: f32,
    /// The step number, 1 for the first update.
    pub(crate) time: usize,
    pub(crate) lr: f64,
}

impl AdamWStep {
    /// Step `time` (1 for the first update) at learning rate `lr`.
    ///
    /// # Panics
    /// If `time` is 0.
    pub fn new(beta1: f32, beta2: f32, eps: f32, weight_decay: f32, lr: f64, time: usize) -> Self {
        assert!(time >= 1, "AdamW steps count from 1");
        Self { beta1, beta2, eps, weight_decay, time, lr }
    }

    /// The step number (1 for the first update).
    pub fn time(&self) -> usize {
        self.time
    }
}
