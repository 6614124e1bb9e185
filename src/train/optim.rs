//! AdamW with decoupled weight decay and two parameter groups.
//!
//! Burn 0.21 has no parameter groups, so [`GroupedAdamW`] picks the decay by the parameter's
//! rank: rank >= 2 (Linear weights, embeddings) is decayed, rank 1 (biases, LayerNorm weight and
//! bias) is not, as in GPT-2 and nanoGPT. With `decay_all` every parameter is decayed, as in the
//! spec's reference code.
//!
//! Decay order: Burn's AdamW applies the decay to the **pre-update** weight (PyTorch's
//! order): `w <- w * (1 - lr * wd) - lr * m_hat / (sqrt(v_hat) + eps)`.
//!
//! The update itself is [`FusedOps::adamw_update`]: one pass per parameter on ndarray, Burn's own
//! `AdamW::step` on the other backends (bit-identical to each other); the backend type chooses
//! which, at compile time. The state is Burn's `AdamWState`, so checkpoints are the same either way.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use anyhow::{bail, Result};
use burn::optim::{AdamW, AdamWState, AdaptiveMomentumState, LearningRate, SimpleOptimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorPrimitive};
use burngpt_ops::{AdamWStep, FusedOps};
use serde::{Deserialize, Serialize};

/// Which optimizer updates the weights (`optimizer.kind`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// AdamW on every parameter ([`GroupedAdamW`]).
    #[default]
    AdamW,
    /// Muon on the matrices inside the blocks, AdamW on the rest, each group at its own peak
    /// learning rate (`param_groups.rs`).
    Muon,
}

/// The optimizer and clipping; in a run's TOML, the `[optimizer]` section.
///
/// With `kind = "muon"` every group's learning rate follows the schedule in proportion:
/// `group_lr(step) = group_peak * schedule.lr_at(step) / lr`, so warmup, decay and
/// `schedule.min_lr` (a fraction `min_lr / lr` of each peak) apply to every group alike. With
/// `kind = "adamw"` the `muon_*` keys are ignored.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// `"adamw"` (the default) or `"muon"`.
    #[serde(default)]
    pub kind: OptimizerKind,
    /// Peak learning rate (reached at the end of warmup); with `kind = "muon"`, that of the AdamW
    /// group of norms and biases.
    pub lr: f64,
    /// AdamW first-moment decay.
    pub beta1: f64,
    /// AdamW second-moment decay.
    pub beta2: f64,
    /// AdamW epsilon, added to `sqrt(v_hat)`.
    pub eps: f64,
    /// Decoupled weight decay coefficient.
    pub weight_decay: f64,
    /// `false` (GPT-2 practice): decay matrices and embeddings only, not biases or LayerNorm.
    /// `true`: decay every parameter, as the spec's reference code does.
    pub decay_all: bool,
    /// Global gradient-norm clipping threshold; `0` disables clipping.
    pub grad_clip: f64,
    /// Muon's peak learning rate (default 0.02).
    #[serde(default = "default_muon_lr")]
    pub muon_lr: f64,
    /// Muon's momentum `beta` (default 0.95).
    #[serde(default = "default_muon_momentum")]
    pub muon_momentum: f64,
    /// Muon orthogonalises the Nesterov direction (default true).
    #[serde(default = "yes")]
    pub muon_nesterov: bool,
    /// Newton-Schulz iterations per Muon update (default 5).
    #[serde(default = "default_muon_ns_steps")]
    pub muon_ns_steps: usize,
    /// Muon's decoupled weight decay (default 0).
    #[serde(default)]
    pub muon_weight_decay: f64,
    /// With `kind = "muon"`: the peak learning rate of the embeddings `wte`, `wpe` (default `lr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_lr: Option<f64>,
    /// With `kind = "muon"`: the peak learning rate of the untied head `lm_head` (default `lr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_lr: Option<f64>,
}

fn default_muon_lr() -> f64 {
    0.02
}

fn default_muon_momentum() -> f64 {
    0.95
}

fn yes() -> bool {
    true
}

fn default_muon_ns_steps() -> usize {
    5
}

/// A learning rate: finite (as f32, as the backends compute) and > 0.
fn check_lr(key: &str, lr: f64) -> Result<()> {
    if !(lr > 0.0 && (lr as f32).is_finite()) {
        bail!("{key} = {lr} must be a finite number > 0");
    }
    Ok(())
}

impl OptimizerConfig {
    /// Rejects impossible values, naming the `optimizer.` key.
    pub fn validate(&self) -> Result<()> {
        check_lr("optimizer.lr", self.lr)?;
        for (key, beta) in [("optimizer.beta1", self.beta1), ("optimizer.beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                bail!("{key} = {beta} must be in [0, 1)");
            }
        }
        if !(self.eps > 0.0 && (self.eps as f32).is_finite()) {
            bail!("optimizer.eps = {} must be a finite number > 0", self.eps);
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            bail!("optimizer.weight_decay = {} must be a finite number >= 0", self.weight_decay);
        }
        if !(self.grad_clip >= 0.0 && self.grad_clip.is_finite()) {
            bail!("optimizer.grad_clip = {} must be a finite number >= 0 (0 disables clipping)", self.grad_clip);
        }
        self.validate_muon()
    }

    /// The `muon_*` keys (checked whatever the kind: a bad value is a mistake either way), and
    /// `embedding_lr` / `head_lr`, which only the Muon run has.
    fn validate_muon(&self) -> Result<()> {
        check_lr("optimizer.muon_lr", self.muon_lr)?;
        if !(0.0..1.0).contains(&self.muon_momentum) {
            bail!("optimizer.muon_momentum = {} must be in [0, 1)", self.muon_momentum);
        }
        if self.muon_ns_steps == 0 {
            bail!("optimizer.muon_ns_steps must be > 0 (Newton-Schulz iterations; Keller Jordan's Muon uses 5)");
        }
        if !(self.muon_weight_decay >= 0.0 && self.muon_weight_decay.is_finite()) {
            bail!("optimizer.muon_weight_decay = {} must be a finite number >= 0", self.muon_weight_decay);
        }
        for (key, lr) in [("optimizer.embedding_lr", self.embedding_lr), ("optimizer.head_lr", self.head_lr)] {
            let Some(lr) = lr else { continue };
            if self.kind != OptimizerKind::Muon {
                bail!("{key} applies only with optimizer.kind = \"muon\" (with \"adamw\" every parameter follows optimizer.lr): remove it");
            }
            check_lr(key, lr)?;
        }
        Ok(())
    }
}

/// AdamW with a decayed and a non-decayed parameter group.
#[derive(Clone, Debug)]
pub struct GroupedAdamW {
    settings: OptimizerConfig,
}

impl GroupedAdamW {
    /// Both groups from `settings` (its `lr` and `grad_clip` are the schedule's and the learner's).
    pub fn new(settings: &OptimizerConfig) -> Self {
        Self { settings: *settings }
    }

    /// The optimizer over a whole module, state keyed by `ParamId`.
    pub fn into_adaptor<B: AutodiffBackend<InnerBackend: FusedOps>, M: AutodiffModule<B>>(
        self,
    ) -> OptimizerAdaptor<Self, M, B> {
        OptimizerAdaptor::from(self)
    }

    fn decayed<const D: usize>(&self) -> bool {
        self.settings.decay_all || D >= 2
    }
}

impl<B: FusedOps> SimpleOptimizer<B> for GroupedAdamW {
    type State<const D: usize> = AdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let s = &self.settings;
        let weight_decay = if self.decayed::<D>() { s.weight_decay as f32 } else { 0.0 };
        let primitive = |t: Tensor<B, D>| t.into_primitive().tensor();
        let tensor_of = |p| Tensor::<B, D>::from_primitive(TensorPrimitive::Float(p));
        // The moments are moved out of the state, so the update can overwrite them in place.
        let (time, m, v) = match state {
            Some(AdamWState { momentum }) => {
                (momentum.time, Some(primitive(momentum.moment_1)), Some(primitive(momentum.moment_2)))
            }
            None => (0, None, None),
        };
        let step = AdamWStep::new(s.beta1 as f32, s.beta2 as f32, s.eps as f32, weight_decay, lr, time + 1);
        let [w, m, v] = B::adamw_update(primitive(tensor), primitive(grad), m, v, &step);
        let momentum = AdaptiveMomentumState::new(time + 1, tensor_of(m), tensor_of(v));
        (tensor_of(w), Some(AdamWState { momentum }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <AdamW as SimpleOptimizer<B>>::to_device(state, device)
    }
}
