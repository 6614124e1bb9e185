//! `model.safetensors` in `GPT2LMHeadModel`'s layout, to and from a [`Gpt`].
//!
//! Our parameter paths already use GPT-2's names, so the mapping is mechanical:
//! `wte.weight` -> `transformer.wte.weight`, LayerNorm `gamma`/`beta` -> `weight`/`bias`,
//! and `lm_head.weight` (untied only) is transposed, since Burn's `Linear` stores
//! `[in, out]` (like GPT-2's `Conv1D`) while Hugging Face's `lm_head` is an `nn.Linear`
//! storing `[out, in]`. Every `Conv1D` weight (`c_attn`, `c_proj`, `c_fc`) is copied as is.

use std::path::Path;

use anyhow::{bail, Result};
use burn::tensor::backend::Backend;

use super::tensor_file::{serialize, to_f32, transpose, NamedTensor, Tensors};
use crate::model::{named_values, replace_params, Gpt};

/// The Hugging Face name of one of our parameter paths, and whether it is stored transposed.
pub fn hf_name(path: &str) -> (String, bool) {
    if path == "lm_head.weight" {
        return (path.to_string(), true);
    }
    let renamed = match path.rsplit_once('.') {
        Some((module, "gamma")) => format!("{module}.weight"),
        Some((module, "beta")) => format!("{module}.bias"),
        _ => path.to_string(),
    };
    (format!("transformer.{renamed}"), false)
}

/// Every parameter of `model` as `(hf_name, shape, values)` in GPT-2's layout.
pub fn hf_tensors<B: Backend>(model: &Gpt<B>) -> Vec<NamedTensor> {
    named_values(model)
        .into_iter()
        .map(|(param, values)| match (hf_name(&param.name), param.shape.as_slice()) {
            ((name, true), &[rows, cols]) => (name, vec![cols, rows], transpose(&values, rows, cols)),
            ((name, _), _) => (name, param.shape.clone(), values),
        })
        .collect()
}

/// The bytes of a GPT-2 `model.safetensors` file holding `model`.
pub fn to_safetensors<B: Backend>(model: &Gpt<B>) -> Result<Vec<u8>> {
    serialize(hf_tensors(model))
}

/// Loads every parameter of `model` from the safetensors `bytes` (read from `source`).
/// A missing tensor, a wrong shape or a non-float dtype is an error naming the tensor.
pub fn load_safetensors<B: Backend>(model: Gpt<B>, bytes: &[u8], source: &Path) -> Result<Gpt<B>> {
    load_gpt2(model, &Tensors::from_bytes(source, bytes)?, &source.display().to_string())
}

/// Loads every parameter of `model` from GPT-2's `tensors` (read from `source`).
pub fn load_gpt2<B: Backend>(model: Gpt<B>, tensors: &Tensors, source: &str) -> Result<Gpt<B>> {
    let (model, errors) = replace_params(model, |path, shape| {
        let (name, transposed) = hf_name(path);
        read(tensors, &name, shape, transposed)
    });
    if let Some(first) = errors.first() {
        bail!("{source}: {first}{}", more(errors.len()));
    }
    Ok(model)
}

fn more(errors: usize) -> String {
    if errors > 1 {
        format!(" (and {} more tensor errors)", errors - 1)
    } else {
        String::new()
    }
}

/// The values of tensor `name` in Burn's layout for a parameter of shape `expected`
/// (`transposed`: the file stores the 2-D transpose, as `nn.Linear` does).
fn read(tensors: &Tensors, name: &str, expected: &[usize], transposed: bool) -> Result<Vec<f32>, String> {
    // The original GPT-2 checkpoints name their tensors without the `transformer.` prefix.
    let view = tensors
        .view(name)
        .or_else(|| name.strip_prefix("transformer.").and_then(|short| tensors.view(short)))
        .ok_or_else(|| format!("tensor {name} is missing"))?;
    let mut want = expected.to_vec();
    if transposed {
        want.reverse();
    }
    if view.shape() != want.as_slice() {
        return Err(format!("tensor {name} has shape {:?}, the model needs {want:?}", view.shape()));
    }
    let values = to_f32(name, &view)?;
    Ok(match (transposed, want.as_slice()) {
        (true, &[rows, cols]) => transpose(&values, rows, cols),
        _ => values,
    })
}
