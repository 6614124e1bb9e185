//! The model's modern components against PyTorch / transformers: tests/fixtures/components/
//! reference.json, written by make_fixture.py beside it (Hugging Face Llama's RMSNorm, rotary
//! embedding, MLP, `repeat_kv` and eager attention; ReLU², QK-norm and the soft cap in a few lines
//! of torch), and the KV cache against the whole-sequence forward with every component on.
//!
//! Tolerances: burngpt computes in float32 here (the references in float64, or float32 where
//! Llama's code does). An RMSNorm or rotary output is a few roundings of values below 8 (2^-24
//! relative each, < 1e-6), and the rotary tables differ from Llama's by Llama's float32 angles
//! (`position * inv_freq` rounded: <= 8 * 2^-24 = 5e-7 rad at these positions), times |x| < 5:
//! < 3e-6; both are checked at 1e-5. An MLP or attention output sums <= 24 products of float32
//! values whose magnitudes add up to < 50: <= 24 * 2^-24 * 50 = 7e-5 absolute at worst, checked at
//! 1e-4; the two-layer GPTs' logits stack a few such sums and norms, checked at 2e-4.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use burngpt::model::{
    named_params, replace_params, CausalSelfAttentionConfig, Gpt, GptConfig, GeluKind, KvCache, MlpConfig, MlpKind,
    NormConfig, NormKind, PositionKind, RopeConfig,
};
use serde_json::Value;

use crate::common::{assert_close, values};

type B = burngpt::backend::Inference;

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/components/reference.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).expect("reference.json is JSON")
    })
}

/// `{"shape": [..], "data": [..]}` as (shape, float32 values, float64 values).
fn array(v: &Value) -> (Vec<usize>, Vec<f32>, Vec<f64>) {
    let shape: Vec<usize> = v["shape"].as_array().expect("shape").iter().map(|d| d.as_u64().expect("dim") as usize).collect();
    let data: Vec<f64> = v["data"].as_array().expect("data").iter().map(|x| x.as_f64().expect("number")).collect();
    (shape, data.iter().map(|&x| x as f32).collect(), data)
}

fn tensor<const D: usize>(v: &Value) -> Tensor<B, D> {
    let (shape, data, _) = array(v);
    Tensor::from_data(TensorData::new(data, shape), &Default::default())
}

fn expected(v: &Value) -> Vec<f64> {
    array(v).2
}

/// `module` with every parameter taken from `weights` (by its dotted path), each shape checked;
/// a parameter the fixture lacks fails the test.
fn with_weights<M: Module<B>>(module: M, weights: &[(&str, &Value)]) -> M {
    let (module, errors) = replace_params(module, |path, shape| {
        let (_, value) = weights.iter().find(|(name, _)| *name == path).ok_or(format!("no fixture weight for {path}"))?;
        let (want, data, _) = array(value);
        if want != shape {
            return Err(format!("{path}: fixture shape {want:?}, module shape {shape:?}"));
        }
        Ok(data)
    });
    assert!(errors.is_empty(), "{errors:?}");
    module
}

#[test]
fn rms_norm_equals_llama_rms_norm_with_and_without_gamma() {
    let case = &fixture()["rms_norm"];
    let eps = case["eps"].as_f64().expect("eps");
    for (affine, key) in [(true, "affine"), (false, "plain")] {
        let norm = NormConfig::new(8, NormKind::Rms, eps, affine, true).init::<B>(&Default::default());
        let names: Vec<String> = named_params::<B, _>(&norm).into_iter().map(|p| p.name).collect();
        assert_eq!(names, if affine { vec!["gamma".to_string()] } else { vec![] }, "RMSNorm has no beta");
        let norm = with_weights(norm, &[("gamma", &case["gamma"])]);
        let y = norm.forward(tensor::<3>(&case["x"]));
        assert_close(&format!("rms_norm {key}"), &values(y), &expected(&case[key]), 1e-5);
    }
}

#[test]
fn rope_equals_llama_rotary_embedding_at_an_offset() {
    let case = &fixture()["rope"];
    let theta = case["theta"].as_f64().expect("theta");
    let start = case["start"].as_u64().expect("start") as usize;
    let rope = RopeConfig::new(16, 8, theta).init::<B>(&Default::default());
    for (input, output) in [("q", "q_rot"), ("k", "k_rot")] {
        let y = rope.apply(tensor::<4>(&case[input]), start);
        assert_close(&format!("rope {input}"), &values(y), &expected(&case[output]), 1e-5);
    }
}

#[test]
fn swiglu_and_relu2_mlps_equal_the_references() {
    for (kind, key) in [(MlpKind::Swiglu, "swiglu"), (MlpKind::Relu2, "relu2")] {
        let case = &fixture()[key];
        let d_ff = case["d_ff"].as_u64().expect("d_ff") as usize;
        let mlp = MlpConfig::new(8, d_ff, kind, false, 0.0, GeluKind::Exact, 0.02).init::<B>(&Default::default());
        let mlp = with_weights(mlp, &[("c_fc.weight", &case["c_fc"]), ("c_proj.weight", &case["c_proj"])]);
        let y = mlp.forward(tensor::<3>(&case["x"]));
        assert_close(key, &values(y), &expected(&case["y"]), 1e-4);
    }
}

#[test]
fn qk_norm_grouped_query_attention_equals_llama_eager_attention() {
    for key in ["attention", "attention_rope"] {
        let case = &fixture()[key];
        let n = |k: &str| case[k].as_u64().expect(k) as usize;
        let (d_model, n_heads, n_kv_heads) = (n("d_model"), n("n_heads"), n("n_kv_heads"));
        let rope = case["rope_theta"].as_f64().map(|theta| RopeConfig::new(16, d_model / n_heads, theta));
        let attn = CausalSelfAttentionConfig::new(d_model, n_heads, n_kv_heads, false, 0.0, 0.02, true, 1e-5)
            .with_rope(rope)
            .init::<B>(&Default::default());
        let attn = with_weights(attn, &[("c_attn.weight", &case["c_attn"]), ("c_proj.weight", &case["c_proj"])]);
        let y = attn.forward(tensor::<3>(&case["x"]));
        assert_close(key, &values(y), &expected(&case["y"]), 1e-4);
    }
}

/// The fixture GPT's architecture and the model with its weights.
fn fixture_gpt(key: &str) -> (GptConfig, Gpt<B>) {
    let case = &fixture()[key];
    let c = &case["config"];
    let n = |k: &str| c[k].as_u64().expect(k) as usize;
    let config = GptConfig {
        vocab_size: Some(n("vocab_size")),
        block_size: n("block_size"),
        d_model: n("d_model"),
        n_layers: n("n_layers"),
        n_heads: n("n_heads"),
        d_ff: n("d_ff"),
        dropout: 0.0,
        bias: false,
        tie_embeddings: c["tie_embeddings"].as_bool().expect("tie"),
        positions: PositionKind::Rope,
        gelu: GeluKind::Exact,
        layer_norm_eps: c["layer_norm_eps"].as_f64().expect("eps"),
        layer_norm_bias: false,
        norm: NormKind::Rms,
        norm_affine: c["norm_affine"].as_bool().expect("norm_affine"),
        rope_theta: c["rope_theta"].as_f64().expect("theta"),
        mlp: serde_json::from_value(c["mlp"].clone()).expect("mlp kind"),
        n_kv_heads: Some(n("n_kv_heads")),
        qk_norm: true,
        logit_softcap: c["logit_softcap"].as_f64().expect("cap"),
        zero_init_proj: false,
        init_from: None,
    };
    config.validate().expect("valid");
    let weights: Vec<(&str, &Value)> = case["weights"].as_object().expect("weights").iter().map(|(k, v)| (k.as_str(), v)).collect();
    let model = config.init::<B>(&Default::default());
    let ours: BTreeSet<String> = named_params::<B, _>(&model).into_iter().map(|p| p.name).collect();
    let theirs: BTreeSet<String> = weights.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(ours, theirs, "{key}: parameter names");
    assert_eq!(config.param_count(n("vocab_size")), model.num_params() as u128, "{key}: param_count");
    (config, with_weights(model, &weights))
}

fn fixture_tokens(key: &str) -> Tensor<B, 2, Int> {
    let (shape, _, data) = array(&fixture()[key]["tokens"]);
    Tensor::from_data(TensorData::new(data.iter().map(|&x| x as i64).collect::<Vec<_>>(), [shape[0], shape[1]]), &Default::default())
}

#[test]
fn small_gpts_with_every_component_equal_the_torch_forward() {
    for key in ["gpt_swiglu", "gpt_relu2"] {
        let (_, model) = fixture_gpt(key);
        let logits = model.forward(fixture_tokens(key));
        assert_close(key, &values(logits), &expected(&fixture()[key]["logits"]), 2e-4);
    }
}

/// Token by token, and in chunks of 3, 1 and 2, through the KV cache: the same logits as the
/// whole sequence at once (rotary keys cached at their positions, n_kv_heads heads cached).
/// Both sides compute the same sums in float32, in other groupings: 1e-5.
#[test]
fn kv_cache_equals_the_whole_sequence_with_every_component_on() {
    for key in ["gpt_swiglu", "gpt_relu2"] {
        let (_, model) = fixture_gpt(key);
        let tokens = fixture_tokens(key);
        let [batch, seq] = tokens.dims();
        let whole = values(model.forward(tokens.clone()));
        for chunks in [vec![1; seq], vec![3, 1, 2]] {
            let mut cache = KvCache::new();
            let mut start = 0;
            let mut parts = Vec::new();
            for len in chunks {
                parts.push(model.forward_cached(tokens.clone().slice([0..batch, start..start + len]), &mut cache));
                start += len;
            }
            assert_eq!(cache.len(), seq);
            let cached = values(Tensor::cat(parts, 1));
            assert_close(&format!("{key} cached"), &cached, &whole, 1e-5);
        }
    }
}
