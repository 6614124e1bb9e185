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

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, AdamWState, SimpleOptimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use burn::optim::LearningRate;

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
    decay_all: bool,
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
            decay_all: settings.decay_all,
        }
    }

    /// The optimizer over a whole module, state keyed by `ParamId`.
    pub fn into_adaptor<B: AutodiffBackend, M: AutodiffModule<B>>(
        self,
    ) -> OptimizerAdaptor<Self, M, B> {
        OptimizerAdaptor::from(self)
    }

    fn group<const D: usize>(&self) -> &AdamW {
        if self.decay_all || D >= 2 {
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
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        SimpleOptimizer::<B>::step(self.group::<D>(), lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <AdamW as SimpleOptimizer<B>>::to_device(state, device)
    }
}
