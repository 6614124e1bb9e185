//! The hand-written learner: the spec's five-step training step.

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::ElementConversion;
use burn::tensor::backend::Backend;
use burngpt_ops::FusedAutodiffBackend;
use burn::tensor::Tensor;

use super::all_reduce::all_reduce_grads;
use super::clip::clip_global_norm;
use super::loss::cross_entropy;
use super::optim::OptimizerConfig;
use super::optimizer::RunOptimizer;
use super::schedule::Schedule;
use crate::data::Batch;
use crate::dist::{Collective, Single};
use crate::model::{gpt2_init_values, replace_params, Gpt, GptConfig};

/// The four configured pieces of the learner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnerConfig {
    /// The optimizer (AdamW, or Muon with AdamW), its parameter groups and the global
    /// gradient-norm threshold (`grad_clip`, `0` disables clipping).
    pub optimizer: OptimizerConfig,
    /// Learning rate at every step.
    pub schedule: Schedule,
}

/// What one training step reports. Values stay on the device until read, so a step
/// that is not logged costs no host synchronisation.
#[derive(Debug, Clone)]
pub struct StepOutput<B: Backend> {
    /// Mean cross-entropy of the batch, `[1]`.
    pub loss: Tensor<B, 1>,
    /// Global gradient norm before clipping, `[1]`.
    pub grad_norm: Tensor<B, 1>,
    /// Learning rate used for the update.
    pub lr: f64,
    /// Seconds spent exchanging gradients with the other ranks (0 on one process).
    pub reduce_secs: f64,
}

impl<B: Backend> StepOutput<B> {
    /// The loss as a number (a device synchronisation).
    pub fn loss(&self) -> f64 {
        self.loss.clone().into_scalar().elem::<f64>()
    }

    /// The pre-clip gradient norm as a number (a device synchronisation).
    pub fn grad_norm(&self) -> f64 {
        self.grad_norm.clone().into_scalar().elem::<f64>()
    }
}

/// A model, its optimizer and the schedule that drives them.
pub struct Learner<B: FusedAutodiffBackend> {
    /// The model being trained.
    pub model: Gpt<B>,
    optim: RunOptimizer<B>,
    schedule: Schedule,
    grad_clip: f64,
}

/// Builds a model whose initial weights depend only on `config` and `seed`, identical on every
/// backend: the values are drawn on the host ([`gpt2_init_values`]) and then uploaded.
pub fn init_model<B: Backend>(config: &GptConfig, seed: u64, device: &B::Device) -> Gpt<B> {
    let (model, errors) =
        replace_params(config.init::<B>(device), |path, shape| Ok(gpt2_init_values(config, seed, path, shape)));
    debug_assert!(errors.is_empty(), "host initialisation cannot fail: {errors:?}");
    model
}

impl<B: FusedAutodiffBackend> Learner<B> {
    /// Wraps `model` with a fresh optimizer.
    pub fn new(model: Gpt<B>, config: &LearnerConfig) -> Self {
        Self {
            model,
            optim: RunOptimizer::new(&config.optimizer),
            schedule: config.schedule,
            grad_clip: config.optimizer.grad_clip,
        }
    }

    /// The optimizer's state (AdamW moments and step counts, Muon's momentum buffers, keyed by
    /// `ParamId`) as bytes.
    pub fn optimizer_bytes(&self) -> anyhow::Result<Vec<u8>> {
        self.optim.record_bytes()
    }

    /// Restores the optimizer's state saved by [`Learner::optimizer_bytes`]. The model must
    /// have been loaded from the same checkpoint: the state is keyed by its `ParamId`s.
    pub fn load_optimizer(&mut self, path: &std::path::Path, device: &B::Device) -> anyhow::Result<()> {
        self.optim.load(path, device)
    }

    /// One optimizer step (numbered from 1), as the spec's five steps. `micro_batches`
    /// (one, or `grad_accum_steps` of equal size) together form the step's batch.
    pub fn train_step(&mut self, step: usize, micro_batches: Vec<Batch<B>>) -> StepOutput<B::InnerBackend> {
        self.train_step_across(step, micro_batches, &Single, &mut false)
    }

    /// [`Learner::train_step`] on one of `comm.size()` processes, each holding an equal share of
    /// the step's windows: between backward and clipping, the gradients and the loss become their
    /// mean over the ranks (the same bits on every rank, so every rank applies the same update).
    /// `stop` goes in as this rank's stop request and comes out as whether any rank asked.
    pub fn train_step_across(
        &mut self,
        step: usize,
        micro_batches: Vec<Batch<B>>,
        comm: &dyn Collective,
        stop: &mut bool,
    ) -> StepOutput<B::InnerBackend> {
        let lr = self.schedule.lr_at(step);
        // 1.-3. forward, loss, backward: gradients of the mean loss over every token
        let (grads, mut loss) = forward_backward(&self.model, micro_batches);
        // 3b. data parallel: the mean over the ranks of the gradients and the loss
        let started = std::time::Instant::now();
        let grads = if comm.size() > 1 {
            let mut scalars = [loss.clone().into_scalar().elem::<f32>(), if *stop { 1.0 } else { 0.0 }];
            let grads = all_reduce_grads(&self.model, grads, &mut scalars, comm);
            loss = Tensor::from_floats([scalars[0] / comm.size() as f32], &loss.device());
            *stop = scalars[1] > 0.0;
            grads
        } else {
            grads
        };
        let reduce_secs = if comm.size() > 1 { started.elapsed().as_secs_f64() } else { 0.0 };
        // 4. clip: one global L2 norm over all gradients, measured before clipping
        let (grads, grad_norm) = clip_global_norm(&self.model, grads, self.grad_clip);
        // 5. update: AdamW (or Muon on the block matrices) at this step's learning rate
        self.model = self.optim.step(lr, self.model.clone(), grads);

        StepOutput { loss, grad_norm, lr, reduce_secs }
    }
}

/// Steps 1 to 3 of the training step over `k` equal micro-batches: each loss is the mean
/// over its tokens divided by `k`, so the summed gradients are those of the mean over all
/// `k * batch * seq_len` tokens, exactly as for one batch of `k` times the size.
///
/// Returns the gradients and the mean loss (`[1]`).
pub fn forward_backward<B: FusedAutodiffBackend>(
    model: &Gpt<B>,
    micro_batches: Vec<Batch<B>>,
) -> (GradientsParams, Tensor<B::InnerBackend, 1>) {
    let k = micro_batches.len();
    let mut accumulated: Option<(GradientsAccumulator<Gpt<B>>, Tensor<B::InnerBackend, 1>)> = None;
    let mut single = None;
    for batch in micro_batches {
        // 1. forward: [batch, seq_len] -> [batch, seq_len, vocab_size]
        let logits = model.forward(batch.inputs);
        // 2. loss: mean cross-entropy over the micro-batch's positions, scaled by 1/k
        let loss = cross_entropy(logits, batch.targets).div_scalar(k as f64);
        // 3. backward: gradients of every parameter, keyed by ParamId
        let grads = GradientsParams::from_grads(loss.backward(), model);
        let loss = loss.inner();
        if k == 1 {
            single = Some((grads, loss));
            break;
        }
        let (acc, sum) = accumulated.get_or_insert_with(|| (GradientsAccumulator::new(), loss.zeros_like()));
        acc.accumulate(model, grads);
        *sum = sum.clone() + loss;
    }
    match (single, accumulated) {
        (Some(out), _) => out,
        (None, Some((mut acc, sum))) => (acc.grads(), sum),
        (None, None) => panic!("a training step needs at least one micro-batch"),
    }
}
