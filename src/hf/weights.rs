//! `model.safetensors` in `GPT2LMHeadModel`'s layout, to and from a [`Gpt`].
//!
//! Our parameter paths already use GPT-2's names, so the mapping is mechanical:
//! `wte.weight` -> `transformer.wte.weight`, LayerNorm `gamma`/`beta` -> `weight`/`bias`,
//! and `lm_head.weight` (untied only) is transposed, since Burn's `Linear` stores
//! `[in, out]` (like GPT-2's `Conv1D`) while Hugging Face's `lm_head` is an `nn.Linear`
//! storing `[out, in]`. Every `Conv1D` weight (`c_attn`, `c_proj`, `c_fc`) is copied as is.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use burn::tensor::backend::Backend;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

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
pub fn hf_tensors<B: Backend>(model: &Gpt<B>) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    named_values(model)
        .into_iter()
        .map(|(param, values)| match (hf_name(&param.name), param.shape.as_slice()) {
            ((name, true), &[rows, cols]) => (name, vec![cols, rows], transpose(&values, rows, cols)),
            ((name, _), _) => (name, param.shape.clone(), values),
        })
        .collect()
}

/// The transpose of a row-major `rows x cols` matrix.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols).flat_map(|c| (0..rows).map(move |r| values[r * cols + c])).collect()
}

/// The bytes of a `model.safetensors` file holding `model`.
pub fn to_safetensors<B: Backend>(model: &Gpt<B>) -> Result<Vec<u8>> {
    let tensors = hf_tensors(model);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, shape, values)| (name, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data).map(|view| (name.clone(), view)).map_err(|e| anyhow!("{name}: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| anyhow!("cannot serialize safetensors: {e}"))
}

/// Loads every parameter of `model` from the safetensors `bytes` (read from `source`).
/// A missing tensor, a wrong shape or a non-float32 dtype is an error naming the tensor.
pub fn load_safetensors<B: Backend>(model: Gpt<B>, bytes: &[u8], source: &Path) -> Result<Gpt<B>> {
    let file = SafeTensors::deserialize(bytes).with_context(|| format!("{}: not a safetensors file", source.display()))?;
    let (model, errors) = replace_params(model, |path, shape| {
        let (name, transposed) = hf_name(path);
        read(&file, &name, shape, transposed)
    });
    if let Some(first) = errors.first() {
        bail!("{}: {first}{}", source.display(), more(errors.len()));
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
fn read(file: &SafeTensors, name: &str, expected: &[usize], transposed: bool) -> Result<Vec<f32>, String> {
    // The original GPT-2 checkpoints name their tensors without the `transformer.` prefix.
    let view = file
        .tensor(name)
        .or_else(|e| name.strip_prefix("transformer.").map_or(Err(e), |short| file.tensor(short)))
        .map_err(|_| format!("tensor {name} is missing"))?;
    let mut want = expected.to_vec();
    if transposed {
        want.reverse();
    }
    if view.shape() != want.as_slice() {
        return Err(format!("tensor {name} has shape {:?}, the model needs {want:?}", view.shape()));
    }
    if view.dtype() != Dtype::F32 {
        return Err(format!("tensor {name} has dtype {:?}, expected F32", view.dtype()));
    }
    let values: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok(match (transposed, want.as_slice()) {
        (true, &[rows, cols]) => transpose(&values, rows, cols),
        _ => values,
    })
}
