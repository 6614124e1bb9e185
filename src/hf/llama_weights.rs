//! `model.safetensors` in `LlamaForCausalLM`'s names and layouts, to and from a [`Gpt`].
//!
//! Llama's projections are `nn.Linear` weights, `[d_out, d_in]`; Burn's `Linear` stores
//! `[d_in, d_out]`. Our fused projections are Llama's side by side: `c_attn` is
//! `[q_proj^T | k_proj^T | v_proj^T]` (`[d_model, (n_heads + 2 n_kv_heads) * head_dim]`), the
//! SwiGLU `c_fc` is `[gate_proj^T | up_proj^T]` (`[d_model, 2 d_ff]`); `o_proj`, `down_proj` and
//! `lm_head` are transposed; the embedding and the RMSNorm weights (`gamma`) are copied. RoPE
//! uses Hugging Face's rotate-half pairing, so q/k need no permutation.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use burn::tensor::backend::Backend;

use super::tensor_file::{NamedTensor, Tensors};
use crate::model::{named_values, replace_params, Gpt, GptConfig};

/// Where one of our parameters lives in a Llama checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum LlamaSource {
    /// Stored as is (the embedding, norm weights).
    Same(String),
    /// Our `[d_in, d_out]` weight is the transposes of these `[rows, d_in]` `nn.Linear`
    /// weights side by side, in this order (their rows add up to `d_out`).
    Linear(Vec<(String, usize)>),
}

/// The Llama tensors behind our parameter `path` for the architecture `gpt`; an error for a
/// parameter Llama does not have.
pub fn llama_source(path: &str, gpt: &GptConfig) -> Result<LlamaSource, String> {
    let head_dim = gpt.d_model / gpt.n_heads;
    let linear = |parts: &[(&str, usize)]| LlamaSource::Linear(parts.iter().map(|&(n, r)| (n.to_string(), r)).collect());
    Ok(match path {
        "wte.weight" => LlamaSource::Same("model.embed_tokens.weight".to_string()),
        "ln_f.gamma" => LlamaSource::Same("model.norm.weight".to_string()),
        "lm_head.weight" => linear(&[("lm_head.weight", gpt.vocab_size.unwrap_or(0))]),
        _ => {
            let layer = path.strip_prefix("h.").and_then(|rest| rest.split_once('.'));
            let Some((n, param)) = layer.filter(|(n, _)| n.parse::<usize>().is_ok()) else {
                return Err(format!("parameter {path} has no LlamaForCausalLM equivalent"));
            };
            let p = |name: &str| format!("model.layers.{n}.{name}.weight");
            match param {
                "ln_1.gamma" => LlamaSource::Same(p("input_layernorm")),
                "ln_2.gamma" => LlamaSource::Same(p("post_attention_layernorm")),
                "attn.c_attn.weight" => {
                    let kv_rows = gpt.kv_heads() * head_dim;
                    linear(&[
                        (&p("self_attn.q_proj"), gpt.n_heads * head_dim),
                        (&p("self_attn.k_proj"), kv_rows),
                        (&p("self_attn.v_proj"), kv_rows),
                    ])
                }
                "attn.c_proj.weight" => linear(&[(&p("self_attn.o_proj"), gpt.d_model)]),
                "mlp.c_fc.weight" => linear(&[(&p("mlp.gate_proj"), gpt.d_ff), (&p("mlp.up_proj"), gpt.d_ff)]),
                "mlp.c_proj.weight" => linear(&[(&p("mlp.down_proj"), gpt.d_model)]),
                _ => return Err(format!("parameter {path} has no LlamaForCausalLM equivalent")),
            }
        }
    })
}

/// `[d_in, sum rows]`, row-major: the transposes of the `[rows_i, d_in]` `parts` side by side.
pub fn gather_columns(parts: &[(&[f32], usize)], d_in: usize) -> Vec<f32> {
    let d_out: usize = parts.iter().map(|(_, rows)| rows).sum();
    let mut out = vec![0.0; d_in * d_out];
    let mut offset = 0;
    for &(values, rows) in parts {
        for c in 0..rows {
            for r in 0..d_in {
                out[r * d_out + offset + c] = values[c * d_in + r];
            }
        }
        offset += rows;
    }
    out
}

/// The inverse of [`gather_columns`]: our `[d_in, d_out]` weight cut into `[rows_i, d_in]` parts.
pub fn split_columns(values: &[f32], d_in: usize, rows: &[usize]) -> Vec<Vec<f32>> {
    let d_out: usize = rows.iter().sum();
    let mut offset = 0;
    rows.iter()
        .map(|&n| {
            let part = (0..n).flat_map(|c| (0..d_in).map(move |r| values[r * d_out + offset + c])).collect();
            offset += n;
            part
        })
        .collect()
}

/// The values of the parameter shaped `expected` (Burn's layout) from `source`'s tensors,
/// read by `lookup` as (shape, values); errors name the tensor and both shapes.
pub fn llama_values(
    source: &LlamaSource,
    expected: &[usize],
    mut lookup: impl FnMut(&str) -> Result<(Vec<usize>, Vec<f32>), String>,
) -> Result<Vec<f32>, String> {
    match (source, expected) {
        (LlamaSource::Same(name), _) => {
            let (shape, values) = lookup(name)?;
            if shape != expected {
                return Err(format!("tensor {name} has shape {shape:?}, the model needs {expected:?}"));
            }
            Ok(values)
        }
        (LlamaSource::Linear(parts), &[d_in, d_out]) if parts.iter().map(|(_, r)| r).sum::<usize>() == d_out => {
            let mut read = Vec::with_capacity(parts.len());
            for (name, rows) in parts {
                let (shape, values) = lookup(name)?;
                if shape != [*rows, d_in] {
                    return Err(format!("tensor {name} has shape {shape:?}, the model needs {:?}", [*rows, d_in]));
                }
                read.push((values, *rows));
            }
            let views: Vec<(&[f32], usize)> = read.iter().map(|(v, r)| (v.as_slice(), *r)).collect();
            Ok(gather_columns(&views, d_in))
        }
        (LlamaSource::Linear(parts), _) => {
            let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
            Err(format!("{names:?}: the model's parameter has shape {expected:?}, which does not match the config"))
        }
    }
}

/// Every parameter of `model` (architecture `gpt`) as Llama tensors `(name, shape, values)`.
pub fn llama_tensors<B: Backend>(model: &Gpt<B>, gpt: &GptConfig) -> Result<Vec<NamedTensor>> {
    let mut out = Vec::new();
    for (param, values) in named_values(model) {
        match (llama_source(&param.name, gpt).map_err(anyhow::Error::msg)?, param.shape.as_slice()) {
            (LlamaSource::Same(name), _) => out.push((name, param.shape.clone(), values)),
            (LlamaSource::Linear(parts), &[d_in, _]) => {
                let rows: Vec<usize> = parts.iter().map(|(_, r)| *r).collect();
                for ((name, rows), part) in parts.into_iter().zip(split_columns(&values, d_in, &rows)) {
                    out.push((name, vec![rows, d_in], part));
                }
            }
            (LlamaSource::Linear(_), shape) => bail!("parameter {} has shape {shape:?}, expected a matrix", param.name),
        }
    }
    Ok(out)
}

/// Loads every parameter of `model` (architecture `gpt`, as the checkpoint's `config.json`
/// describes it) from `tensors` (read from `source`). A missing tensor, a wrong shape, or a
/// tensor the model does not use (a bias, say) is an error naming the tensor.
pub fn load_llama<B: Backend>(model: Gpt<B>, gpt: &GptConfig, tensors: &Tensors, source: &str) -> Result<Gpt<B>> {
    let mut used = BTreeSet::new();
    let (model, errors) = replace_params(model, |path, shape| {
        let from = llama_source(path, gpt)?;
        llama_values(&from, shape, |name| {
            used.insert(name.to_string());
            tensors.get(name)
        })
    });
    if let Some(first) = errors.first() {
        let more = if errors.len() > 1 { format!(" (and {} more tensor errors)", errors.len() - 1) } else { String::new() };
        bail!("{source}: {first}{more}");
    }
    // Older checkpoints keep RoPE's inverse frequencies; a tied head may also be saved.
    let ignorable = |name: &str| name.ends_with("rotary_emb.inv_freq") || (gpt.tie_embeddings && name == "lm_head.weight");
    if let Some(extra) = tensors.names().into_iter().find(|n| !used.contains(n) && !ignorable(n)) {
        bail!("{source}: tensor {extra} is not used by the model that config.json describes");
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// q = [[1, 2], [3, 4]] ([2 rows, d_in 2]) and k = [[5, 6]] ([1, 2]): side by side,
    /// transposed, [[1, 3, 5], [2, 4, 6]] ([d_in 2, 3]).
    #[test]
    fn linear_weights_go_side_by_side_transposed_and_split_back() {
        let (q, k) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0]);
        let gathered = gather_columns(&[(&q, 2), (&k, 1)], 2);
        assert_eq!(gathered, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        assert_eq!(split_columns(&gathered, 2, &[2, 1]), vec![q.to_vec(), k.to_vec()]);
    }

    fn llama_shaped() -> GptConfig {
        let text = "block_size = 8\nd_model = 64\nn_layers = 2\nn_heads = 4\nn_kv_heads = 2\nd_ff = 96\n\
                    dropout = 0.0\nbias = false\ntie_embeddings = false\npositions = \"rope\"\ngelu = \"tanh\"\n\
                    layer_norm_eps = 1e-5\nnorm = \"rms\"\nmlp = \"swiglu\"\nvocab_size = 50\n";
        toml::from_str(text).expect("a [model] section")
    }

    /// The contract's names: head_dim 16, so q_proj has 4 * 16 rows and k/v 2 * 16.
    #[test]
    fn our_names_map_to_llama_names_and_rows() {
        let gpt = llama_shaped();
        let source = |p: &str| llama_source(p, &gpt);
        assert_eq!(source("wte.weight"), Ok(LlamaSource::Same("model.embed_tokens.weight".into())));
        assert_eq!(source("h.1.ln_2.gamma"), Ok(LlamaSource::Same("model.layers.1.post_attention_layernorm.weight".into())));
        let qkv = ["q_proj", "k_proj", "v_proj"].map(|n| format!("model.layers.0.self_attn.{n}.weight"));
        let want = LlamaSource::Linear(vec![(qkv[0].clone(), 64), (qkv[1].clone(), 32), (qkv[2].clone(), 32)]);
        assert_eq!(source("h.0.attn.c_attn.weight"), Ok(want));
        let mlp = ["gate_proj", "up_proj"].map(|n| (format!("model.layers.1.mlp.{n}.weight"), 96));
        assert_eq!(source("h.1.mlp.c_fc.weight"), Ok(LlamaSource::Linear(mlp.to_vec())));
        assert_eq!(source("lm_head.weight"), Ok(LlamaSource::Linear(vec![("lm_head.weight".into(), 50)])));
        assert!(source("h.0.ln_1.beta").is_err_and(|e| e.contains("h.0.ln_1.beta has no LlamaForCausalLM")));
        assert!(source("wpe.weight").is_err());
    }

    /// A k_proj with the rows of a query projection is refused, naming it and both shapes.
    #[test]
    fn a_wrong_shape_names_the_tensor_and_both_shapes() {
        let gpt = llama_shaped();
        let source = llama_source("h.0.attn.c_attn.weight", &gpt).expect("c_attn");
        let err = llama_values(&source, &[64, 128], |name| {
            let rows = if name.contains("v_proj") { 32 } else { 64 };
            Ok((vec![rows, 64], vec![0.0; rows * 64]))
        });
        assert_eq!(err, Err("tensor model.layers.0.self_attn.k_proj.weight has shape [64, 64], the model needs [32, 64]".into()));
    }
}
