//! The optimizer `optimizer.kind` chose, behind one interface for the learner: step, save, load.

use std::path::Path;

use anyhow::Result;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, LearningRate, Optimizer};
use burngpt_ops::FusedAutodiffBackend;

use super::muon_adamw::MuonAdamW;
use super::optim::{GroupedAdamW, OptimizerConfig, OptimizerKind};
use crate::checkpoint::{load_record, record_bytes};
use crate::model::Gpt;

/// AdamW on every parameter, or Muon on the block matrices with AdamW on the rest.
#[derive(Clone)]
pub enum RunOptimizer<B: FusedAutodiffBackend> {
    /// `kind = "adamw"`: Burn's adaptor over [`GroupedAdamW`], as before Muon existed (the same
    /// updates, the same `optim.mpk`).
    AdamW(OptimizerAdaptor<GroupedAdamW, Gpt<B>, B>),
    /// `kind = "muon"`.
    Muon(Box<MuonAdamW<B>>),
}

impl<B: FusedAutodiffBackend> RunOptimizer<B> {
    /// The optimizer of `settings.kind`, with no state yet.
    pub fn new(settings: &OptimizerConfig) -> Self {
        match settings.kind {
            OptimizerKind::AdamW => Self::AdamW(GroupedAdamW::new(settings).into_adaptor()),
            OptimizerKind::Muon => Self::Muon(Box::new(MuonAdamW::new(settings))),
        }
    }

    /// Updates `model` with `grads` at the schedule's rate `lr`.
    pub fn step(&mut self, lr: LearningRate, model: Gpt<B>, grads: GradientsParams) -> Gpt<B> {
        match self {
            Self::AdamW(optim) => optim.step(lr, model, grads),
            Self::Muon(optim) => optim.step(lr, model, grads),
        }
    }

    /// The state (moments, momentum buffers and step counts, keyed by `ParamId`) as bytes.
    pub fn record_bytes(&self) -> Result<Vec<u8>> {
        match self {
            Self::AdamW(optim) => record_bytes::<B, _>(optim.to_record()),
            Self::Muon(optim) => record_bytes::<B, _>(optim.to_record()),
        }
    }

    /// Restores the state that [`RunOptimizer::record_bytes`] wrote to `path`, as the same kind.
    pub fn load(&mut self, path: &Path, device: &B::Device) -> Result<()> {
        match self {
            Self::AdamW(optim) => *optim = optim.clone().load_record(load_record::<B, _>(path, device)?),
            Self::Muon(optim) => optim.load_record(load_record::<B, _>(path, device)?),
        }
        Ok(())
    }
}
