//! The scalars of one AdamW step.

/// One AdamW step's hyperparameters and the scalars Burn 0.21's `AdamW` derives from them (in
/// float32, as Burn computes them), shared by every implementation of
/// [`FusedOps::adamw_update`](crate::FusedOps::adamw_update).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWStep {
    pub(crate) beta1: f32,
    pub(crate) beta2: f32,
    pub(crate) eps: f32,
    pub(crate) weight_decay: f32,
    /// The step number, 1 for the first update.
    pub(crate) time: usize,
    pub(crate) lr_f64: f64,
    pub(crate) lr: f32,
    /// `1 - beta1`, `1 - beta2`.
    pub(crate) factor1: f32,
    pub(crate) factor2: f32,
    /// `1 - beta^t`.
    pub(crate) correction1: f32,
    pub(crate) correction2: f32,
    /// `1 - lr * weight_decay` (`None` when the decay is 0: the weight is not multiplied).
    pub(crate) keep: Option<f32>,
}

impl AdamWStep {
    /// Step `time` (1 for the first update) at learning rate `lr`.
    ///
    /// # Panics
    /// If `time` is 0.
    pub fn new(beta1: f32, beta2: f32, eps: f32, weight_decay: f32, lr: f64, time: usize) -> Self {
        assert!(time >= 1, "AdamW steps count from 1");
        let decay_rate = lr * weight_decay as f64;
        Self {
            beta1,
            beta2,
            eps,
            weight_decay,
            time,
            lr_f64: lr,
            lr: lr as f32,
            factor1: 1.0 - beta1,
            factor2: 1.0 - beta2,
            correction1: 1.0 - beta1.powi(time as i32),
            correction2: 1.0 - beta2.powi(time as i32),
            keep: (decay_rate != 0.0).then_some((1.0 - decay_rate) as f32),
        }
    }

    /// The step number (1 for the first update).
    pub fn time(&self) -> usize {
        self.time
    }
}
