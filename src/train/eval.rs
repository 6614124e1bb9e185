//! Validation loss on the inference backend.

use burn::prelude::ElementConversion;
use burngpt_ops::FusedOps;

use super::loss::cross_entropy;
use crate::data::Batch;
use crate::model::Gpt;

/// Mean cross-entropy of `model` over `batches` (use `model.valid()`: no autodiff, no dropout).
pub fn evaluate<B: FusedOps>(model: &Gpt<B>, batches: impl IntoIterator<Item = Batch<B>>) -> f64 {
    let mut total = 0.0;
    let mut count = 0usize;
    for batch in batches {
        let loss = cross_entropy(model.forward(batch.inputs), batch.targets);
        total += loss.into_scalar().elem::<f64>();
        count += 1;
    }
    if count == 0 {
        f64::NAN
    } else {
        total / count as f64
    }
}
