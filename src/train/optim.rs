//! AdamW with decoupled weight decay and two parameter groups.
//!
//! Burn 0.21 has no parameter groups, so [`GroupedAdamW`] holds two Burn `AdamW`s, one
//! with and one without decay, and picks by the parameter's rank: rank >= 2 (Linear
//! weights, embeddings) is decayed, rank 1 (biases, LayerNorm weight and bias) is not,
//! as in GPT-2 and nanoGPT. With `decay_all` every parameter is decayed, as in the spec's
//! reference code.
//!
//! Decay order: Burn's AdamW applies the decay to the **pre-update** weight (PyTorch's
//! order): `w <- w * (1 - lr * wd) - lr * m_hat / (sqrt(v_hat) + eps)`.
//!
//! On host float32 tensors (ndarray) the same update runs in one pass per parameter
//! ([`adamw_update`], bit-identical to Burn's); the state stays Burn's `AdamWState`, so
//! checkpoints are the same either way.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate, SimpleOptimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorPrimitive};

use super::adamw_fused::{adamw_update, AdamWStep};
use crate::backend::update_host_f32;

/// Every AdamW hyperparameter, written out (Burn's defaults are not PyTorch's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWSettings {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to `sqrt(v_hat)`.
    pub eps: f64,
    /// Decoupled weight decay coefficient.
    pub weight_decay: f64,
    /// Decay biases and LayerNorm parameters too.
    pub decay_all: bool,
}

/// AdamW with a decayed and a non-decayed parameter group.
#[derive(Clone)]
pub struct GroupedAdamW {
    decay: AdamW,
    no_decay: AdamW,
    settings: AdamWSettings,
}

impl GroupedAdamW {
    /// Builds both groups from `settings`.
    pub fn new(settings: &AdamWSettings) -> Self {
        let config = AdamWConfig::new()
            .with_beta_1(settings.beta1 as f32)
            .with_beta_2(settings.beta2 as f32)
            .with_epsilon(settings.eps as f32)
            .with_weight_decay(settings.weight_decay as f32)
            .with_cautious_weight_decay(false)
            .with_amsgrad(false)
            .with_grad_clipping(None);
        Self {
            decay: config.build(),
            no_decay: config.with_weight_decay(0.0).build(),
            settings: *settings,
        }
    }

    /// The optimizer over a whole module, state keyed by `ParamId`.
    pub fn into_adaptor<B: AutodiffBackend, M: AutodiffModule<B>>(
        self,
    ) -> OptimizerAdaptor<Self, M, B> {
        OptimizerAdaptor::from(self)
    }

    fn decayed<const D: usize>(&self) -> bool {
        self.settings.decay_all || D >= 2
    }

    fn group<const D: usize>(&self) -> &AdamW {
        if self.decayed::<D>() {
            &self.decay
        } else {
            &self.no_decay
        }
    }
}

impl<B: Backend> SimpleOptimizer<B> for GroupedAdamW {
    type State<const D: usize> = AdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor_in: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let s = &self.settings;
        let weight_decay = if self.decayed::<D>() { s.weight_decay as f32 } else { 0.0 };
        let primitive = |t: Tensor<B, D>| t.into_primitive().tensor();
        let tensor = |p| Tensor::<B, D>::from_primitive(TensorPrimitive::Float(p));
        // The moments are moved out of the state, so the update can overwrite them in place.
        let (time, m, v) = match state {
            Some(AdamWState { momentum }) => {
                (momentum.time, Some(primitive(momentum.moment_1)), Some(primitive(momentum.moment_2)))
            }
            None => (0, None, None),
        };
        let step = AdamWStep::new(s.beta1 as f32, s.beta2 as f32, s.eps as f32, weight_decay, lr, time + 1);
        let update = |w: &[f32], g: &[f32], m: &mut [f32], v: &mut [f32], out: &mut [f32]| {
            adamw_update(&step, w, g, m, v, out)
        };
        match update_host_f32(primitive(tensor_in), primitive(grad), m, v, update) {
            Ok([w, m, v]) => {
                let momentum = AdaptiveMomentumState::new(time + 1, tensor(m), tensor(v));
                (tensor(w), Some(AdamWState { momentum }))
            }
            // not a host float32 tensor: Burn's AdamW, with the inputs handed back
            Err((w, g, m, v)) => {
                let state = match (m, v) {
                    (Some(m), Some(v)) => {
                        Some(AdamWState { momentum: AdaptiveMomentumState::new(time, tensor(m), tensor(v)) })
                    }
                    _ => None,
                };
                SimpleOptimizer::<B>::step(self.group::<D>(), lr, tensor(w), tensor(g), state)
            }
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <AdamW as SimpleOptimizer<B>>::to_device(state, device)
    }
}
