//! A model's parameters as a Burn record: bytes to save, and loading that checks every shape.

use std::path::Path;

use anyhow::{bail, Result};
use burn::module::Module;
use burn::tensor::backend::Backend;

use super::config::GptConfig;
use super::gpt::Gpt;
use super::params::named_params;
use crate::checkpoint::{load_record, record_bytes};
use crate::run_dir::MODEL_FILE;

/// Builds the model of `config` and loads `dir/model.mpk` into it, checking every tensor's
/// shape (Burn's loader does not).
pub fn load_model<B: Backend>(config: &GptConfig, dir: &Path, device: &B::Device) -> Result<Gpt<B>> {
    let fresh = config.init::<B>(device);
    let expected = named_params::<B, _>(&fresh);
    let path = dir.join(MODEL_FILE);
    let model = fresh.load_record(load_record::<B, _>(&path, device)?);
    for (want, got) in expected.iter().zip(named_params::<B, _>(&model)) {
        if want.shape != got.shape {
            bail!(
                "{}: tensor {} has shape {:?} but the run's config needs {:?} (a record from another architecture?)",
                path.display(),
                want.name,
                got.shape,
                want.shape
            );
        }
    }
    Ok(model)
}

/// Serializes a model's record.
pub fn model_bytes<B: Backend>(model: Gpt<B>) -> Result<Vec<u8>> {
    record_bytes::<B, _>(model.into_record())
}
