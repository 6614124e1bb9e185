//! Hugging Face Llama import/export against a fixture made by `transformers`
//! (`tests/fixtures/llama/make_fixture.py`: a random 2-layer LlamaForCausalLM with grouped-query
//! attention, 4 query heads over 2 key/value heads, rope_theta 1000, an untied head, GPT-2's
//! fixture tokenizer; the logits of a prompt and the greedy continuation `transformers` computed).

use std::path::{Path, PathBuf};

use burngpt::hf;
use burngpt::model::{GeluKind, GptConfig, MlpKind, NormKind, PositionKind};
use serde::Deserialize;
use serde_json::Value;

pub(crate) fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama")
}

/// The fixture's architecture as make_fixture.py wrote it, in our keys.
pub(crate) fn fixture_config() -> GptConfig {
    GptConfig {
        vocab_size: Some(300),
        block_size: 64,
        d_model: 64,
        n_layers: 2,
        n_heads: 4,
        d_ff: 128,
        dropout: 0.0,
        bias: false,
        tie_embeddings: false,
        positions: PositionKind::Rope,
        gelu: GeluKind::Tanh,
        layer_norm_eps: 1e-5,
        layer_norm_bias: true,
        init_from: None,
        norm: NormKind::Rms,
        norm_affine: true,
        rope_theta: 1000.0,
        mlp: MlpKind::Swiglu,
        n_kv_heads: Some(2),
        qk_norm: false,
        logit_softcap: 0.0,
        zero_init_proj: false,
    }
}

/// A copy of the fixture directory whose config.json went through `edit`.
pub(crate) fn with_config(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(fixture()).expect("fixture dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
    }
    let path = dir.path().join("config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    edit(config.as_object_mut().expect("an object"));
    std::fs::write(&path, serde_json::to_string_pretty(&config).expect("json")).expect("write");
    dir
}

fn config_error(dir: &Path) -> String {
    format!("{:#}", hf::load_config(dir).expect_err("config.json must be refused"))
}

#[test]
fn the_fixture_config_maps_to_our_llama_shaped_architecture() {
    assert_eq!(hf::load_config(&fixture()).expect("config.json"), fixture_config());
    // transformers 4.x's spelling: rope_theta at the top level, no rope_parameters.
    let legacy = with_config(|c| {
        c.remove("rope_parameters");
        c.insert("rope_theta".into(), Value::from(500000.0));
        c.insert("rope_scaling".into(), Value::Null);
        c.remove("num_key_value_heads"); // absent: one key/value head per query head
        c.remove("head_dim");
    });
    let config = hf::load_config(legacy.path()).expect("a 4.x config.json");
    assert_eq!((config.rope_theta, config.kv_heads(), config.n_kv_heads), (500000.0, 4, None));
}

/// Each config.json value this crate cannot load is refused, naming the key and what is supported.
#[test]
fn config_refusals_name_the_config_json_key() {
    let cases: [(&str, Value, &str); 8] = [
        ("hidden_act", Value::from("gelu"), "hidden_act = \"gelu\" is not supported: expected \"silu\""),
        ("attention_bias", Value::from(true), "attention_bias = true is not supported: expected false or absent"),
        ("mlp_bias", Value::from(true), "mlp_bias = true is not supported: expected false or absent"),
        (
            "rope_scaling",
            serde_json::json!({"rope_type": "llama3", "factor": 8.0}),
            "rope_scaling = {\"factor\":8.0,\"rope_type\":\"llama3\"} is not supported: only the original RoPE",
        ),
        (
            "rope_parameters",
            serde_json::json!({"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0}),
            "rope_parameters.rope_type = \"llama3\" is not supported: only \"default\"",
        ),
        ("head_dim", Value::from(32), "head_dim = 32 is not supported: expected hidden_size / num_attention_heads = 16"),
        ("num_key_value_heads", Value::from(3), "num_key_value_heads = 3 must be > 0 and divide num_attention_heads = 4"),
        ("model_type", Value::from("mistral"), "model_type = \"mistral\" is not supported"),
    ];
    for (key, value, message) in cases {
        let dir = with_config(|c| {
            c.insert(key.to_string(), value);
        });
        let err = config_error(dir.path());
        assert!(err.contains("config.json: ") && err.contains(message), "{key}: {err}");
    }
}

#[derive(Deserialize)]
struct Half {
    shape: Vec<usize>,
    values: Vec<String>,
}

/// float16 and bfloat16 tensors (torch-written) read as the f32 values torch converts them to,
/// subnormals, signed zero and infinities included.
#[test]
fn half_precision_tensors_read_as_torch_converts_them() {
    let files = hf::TensorFiles::from_bytes(
        fixture().join("dtypes.safetensors"),
        std::fs::read(fixture().join("dtypes.safetensors")).expect("dtypes.safetensors"),
    );
    let tensors = files.parse().expect("safetensors");
    let want: std::collections::HashMap<String, Half> =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("dtypes.json")).expect("dtypes.json")).expect("json");
    for (name, half) in want {
        let (shape, values) = tensors.get(&name).expect("tensor");
        assert_eq!(shape, half.shape, "{name}");
        let expected: Vec<f32> = half.values.iter().map(|v| v.parse::<f64>().expect("a float") as f32).collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&values), bits(&expected), "{name}");
    }
}

/// A sharded copy (two files and model.safetensors.index.json) reads the same tensors.
#[test]
fn a_sharded_checkpoint_reads_as_the_single_file() {
    let single = hf::TensorFiles::open(&fixture()).expect("model.safetensors");
    let tensors = single.parse().expect("parse");
    let names: Vec<String> = tensors.names().into_iter().collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut weight_map = serde_json::Map::new();
    for (shard, part) in names.chunks(names.len().div_ceil(2)).enumerate() {
        let file = format!("model-0000{}-of-00002.safetensors", shard + 1);
        let chosen = part.iter().map(|n| {
            let (shape, values) = tensors.get(n).expect("tensor");
            weight_map.insert(n.clone(), Value::from(file.clone()));
            (n.clone(), shape, values)
        });
        let bytes = hf::serialize(chosen.collect()).expect("serialize");
        std::fs::write(dir.path().join(&file), bytes).expect("write shard");
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    std::fs::write(dir.path().join("model.safetensors.index.json"), index.to_string()).expect("write index");
    let sharded = hf::TensorFiles::open(dir.path()).expect("sharded");
    let read = sharded.parse().expect("parse shards");
    assert_eq!(read.names(), tensors.names());
    for name in &names {
        assert_eq!(read.get(name), tensors.get(name), "{name}");
    }
    // A shard outside the directory is refused.
    let index = serde_json::json!({"weight_map": {"lm_head.weight": "../model.safetensors"}});
    std::fs::write(dir.path().join("model.safetensors.index.json"), index.to_string()).expect("write index");
    let err = format!("{:#}", hf::TensorFiles::open(dir.path()).err().expect("refused"));
    assert!(err.contains("expected a file name in the same directory"), "{err}");
}

/// Export chooses Llama for a Llama-shaped run, GPT-2 for today's, and refuses a run neither
/// can express, naming the key.
#[test]
fn export_chooses_the_format_or_names_the_key() {
    assert_eq!(hf::export_format(&fixture_config()).expect("llama"), hf::HfFormat::Llama);
    let zero_init = GptConfig { zero_init_proj: true, ..fixture_config() };
    assert_eq!(hf::export_format(&zero_init).expect("an init only"), hf::HfFormat::Llama);
    let gpt2 = GptConfig {
        bias: true,
        positions: PositionKind::Learned,
        norm: NormKind::Layer,
        mlp: MlpKind::Gelu,
        n_kv_heads: None,
        ..fixture_config()
    };
    assert_eq!(hf::export_format(&gpt2).expect("gpt-2"), hf::HfFormat::Gpt2);
    for (config, key) in [
        (GptConfig { qk_norm: true, ..fixture_config() }, "model.qk_norm = true"),
        (GptConfig { logit_softcap: 15.0, ..fixture_config() }, "model.logit_softcap = 15"),
        (GptConfig { mlp: MlpKind::Relu2, ..fixture_config() }, "model.mlp = \"relu2\""),
        (GptConfig { norm_affine: false, ..fixture_config() }, "model.norm_affine = false"),
        (GptConfig { bias: true, ..fixture_config() }, "model.bias = true"),
    ] {
        let err = format!("{:#}", hf::export_format(&config).expect_err("neither format"));
        assert!(err.contains("neither as LlamaForCausalLM") && err.contains(key), "{key}: {err}");
    }
}

/// `init_from` a Llama directory fills the new architecture keys; a key that does not change a
/// Llama model (`gelu`) may be written with any value, one that does must agree; a GPT-2
/// directory leaves `n_kv_heads` out, as before.
#[test]
fn init_from_fills_the_llama_keys_and_checks_the_written_ones() {
    let resolve = |dir: &Path, extra: &str| {
        let text = format!("[model]\ninit_from = \"{}\"\n{extra}\n[data]\npath = \"x\"\n", dir.display());
        let mut table: toml::Table = toml::from_str(&text).expect("toml");
        hf::resolve_init_from(&mut table, Path::new("run.toml")).map(|()| table["model"].clone())
    };
    let model = resolve(&fixture(), "gelu = \"exact\"").expect("resolves");
    // vocab_size comes from the tokenizer later, as for any run.
    let config: GptConfig = model.clone().try_into().expect("a [model] section");
    assert_eq!(config, GptConfig { vocab_size: None, gelu: GeluKind::Exact, init_from: Some(fixture()), ..fixture_config() });
    let err = format!("{:#}", resolve(&fixture(), "n_kv_heads = 4").expect_err("4 != 2"));
    assert!(err.contains("model.n_kv_heads = 4 but model.init_from") && err.contains("says 2"), "{err}");
    let err = format!("{:#}", resolve(&fixture(), "norm = \"layer\"").expect_err("layer != rms"));
    assert!(err.contains("model.norm = \"layer\" but model.init_from"), "{err}");
    let gpt2 = fixture().with_file_name("hf_gpt2");
    let model = resolve(&gpt2, "n_kv_heads = 4").expect("n_kv_heads = n_heads agrees with GPT-2's 4 heads");
    assert_eq!(model.get("norm").and_then(|v| v.as_str()), Some("layer"));
    assert!(resolve(&gpt2, "").expect("resolves").get("n_kv_heads").is_none(), "GPT-2 leaves n_kv_heads out");
}
