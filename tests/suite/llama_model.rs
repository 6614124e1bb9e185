//! The Llama fixture through the model: logits and greedy continuation against `transformers`,
//! export round trips, and weight errors (the fixture: tests/fixtures/llama/make_fixture.py).

use std::path::Path;
use std::process::Command;

use burn::tensor::{Int, Tensor, TensorData};
use burngpt::generate::{generate, SamplingConfig};
use burngpt::hf;
use burngpt::model::{Gpt, GptConfig};
use burngpt::train::init_model;
use rand::SeedableRng;
use serde::Deserialize;
use serde_json::Value;

use super::llama::{fixture, fixture_config, with_config};

/// The backend this build evaluates on (`backend::Inference`), as in tests/suite/hf.rs.
type B = burngpt::backend::Inference;

#[derive(Deserialize)]
struct Expected {
    prompt: String,
    prompt_ids: Vec<u32>,
    logits_shape: Vec<usize>,
    logits: Vec<f64>,
    greedy_ids: Vec<u32>,
    greedy_text: String,
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(fixture().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json parses")
}

fn logits(model: &Gpt<B>, ids: &[u32]) -> Vec<f64> {
    let data = TensorData::new(ids.iter().map(|&i| i as i64).collect::<Vec<_>>(), [1, ids.len()]);
    let tokens = Tensor::<B, 2, Int>::from_data(data, &Default::default());
    model.forward(tokens).into_data().iter::<f64>().collect()
}

fn worst_difference(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Tolerance of the logits: both sides compute in f32 (unit roundoff 6e-8) in different orders;
/// dot products of at most 128 terms, two layers, |logits| < 6 (expected.json's max_abs_logit
/// is 5.8), so rounding differences stay near 1e-6. 1e-4 leaves a hundredfold margin, while a
/// wrong convention moves logits by far more (the rope_theta check below: over 1e-2).
const LOGIT_TOLERANCE: f64 = 1e-4;

#[test]
fn imported_llama_matches_transformers_logits_and_greedy_continuation() {
    let want = expected();
    let tokenizer = hf::load_tokenizer(&fixture()).expect("tokenizer.json");
    assert_eq!(tokenizer.encode(&want.prompt).expect("encode"), want.prompt_ids);
    let (config, model) = hf::load_model::<B>(&fixture(), &Default::default()).expect("import");
    assert_eq!(config, fixture_config());
    assert_eq!(want.logits_shape, vec![want.prompt_ids.len(), 300]);
    let worst = worst_difference(&logits(&model, &want.prompt_ids), &want.logits);
    assert!(worst < LOGIT_TOLERANCE, "logits differ from transformers by up to {worst}");

    let greedy = SamplingConfig { temperature: 1.0, top_k: None, top_p: None, greedy: true };
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    for use_cache in [true, false] {
        let (ids, _) = generate(&model, &want.prompt_ids, want.greedy_ids.len(), &greedy, &mut rng, use_cache, |_| Ok(()))
            .expect("generate");
        assert_eq!(ids[want.prompt_ids.len()..], want.greedy_ids, "greedy continuation (KV cache: {use_cache})");
    }

    // The test can tell RoPE bases apart: the same weights read with the default base 10000.
    let theta = with_config(|c| {
        c.insert("rope_parameters".into(), serde_json::json!({"rope_type": "default", "rope_theta": 10000.0}));
    });
    let (_, wrong) = hf::load_model::<B>(theta.path(), &Default::default()).expect("import");
    let off = worst_difference(&logits(&wrong, &want.prompt_ids), &want.logits);
    assert!(off > 1e-2, "rope_theta 10000 instead of 1000 moves the logits by only {off}");
}

/// `generate --hf` on the Llama directory prints what transformers continued (the one CLI run).
#[test]
fn generate_hf_continues_the_llama_fixture_as_transformers_does() {
    let want = expected();
    let dir = fixture();
    let args = ["generate", "--hf", dir.to_str().expect("utf-8"), "--prompt", &want.prompt, "--max-new-tokens", "20", "--greedy"];
    let out = Command::new(env!("CARGO_BIN_EXE_burngpt")).args(args).output().expect("the binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tokenizer = hf::load_tokenizer(&fixture()).expect("tokenizer.json");
    let continuation = tokenizer.decode(&want.greedy_ids).expect("decode");
    assert_eq!(continuation, want.greedy_text, "our tokenizer decodes as transformers' does");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{}{continuation}\n", want.prompt));
}

/// The safetensors tensors of `dir`, each as (shape, f32 bits).
fn tensor_bits(dir: &Path) -> Vec<(String, Vec<usize>, Vec<u32>)> {
    let files = hf::TensorFiles::open(dir).expect("safetensors");
    let tensors = files.parse().expect("parse");
    let names = tensors.names();
    names
        .into_iter()
        .map(|n| {
            let (shape, values) = tensors.get(&n).expect("tensor");
            (n, shape, values.iter().map(|v| v.to_bits()).collect())
        })
        .collect()
}

/// The keys that define a Llama architecture in config.json.
const ARCH_KEYS: [&str; 14] = [
    "architectures",
    "model_type",
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "num_hidden_layers",
    "vocab_size",
    "rms_norm_eps",
    "tie_word_embeddings",
    "max_position_embeddings",
    "hidden_act",
    "head_dim",
    "rope_parameters",
];

fn config_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).expect("config.json")).expect("json")
}

#[test]
fn the_imported_fixture_exports_the_same_tensors_and_architecture() {
    let (config, model) = hf::load_model::<B>(&fixture(), &Default::default()).expect("import");
    let tokenizer = hf::load_tokenizer(&fixture()).expect("tokenizer.json");
    let out = tempfile::tempdir().expect("tempdir");
    hf::export(&model, &config, Some(&tokenizer), out.path()).expect("export");
    assert_eq!(tensor_bits(out.path()), tensor_bits(&fixture()), "model.safetensors, bit for bit");
    let (ours, theirs) = (config_json(out.path()), config_json(&fixture()));
    for key in ARCH_KEYS {
        assert_eq!(ours.get(key), theirs.get(key), "config.json key {key}");
    }
    assert_eq!(ours["rope_theta"], Value::from(1000.0), "transformers 4.x's key too");
    assert_eq!((&ours["bos_token_id"], &ours["eos_token_id"]), (&Value::from(0), &Value::from(0)), "<|endoftext|>");
    assert_eq!(ours["torch_dtype"], Value::from("float32"));
    assert_eq!(hf::load_config(out.path()).expect("reimport"), config);
    assert!(out.path().join("tokenizer.json").is_file());
}

/// A tied Llama-shaped model (no lm_head tensor) and an untied one without grouped-query
/// attention survive export then import with identical logits.
#[test]
fn llama_shaped_models_round_trip_through_export() {
    for (tie, n_kv_heads) in [(true, Some(1)), (false, None)] {
        let config = GptConfig { tie_embeddings: tie, n_kv_heads, vocab_size: Some(70), block_size: 16, ..fixture_config() };
        let model: Gpt<B> = init_model(&config, 7, &Default::default());
        let dir = tempfile::tempdir().expect("tempdir");
        hf::export(&model, &config, None, dir.path()).expect("export");
        assert_eq!(hf::export_format(&config).expect("format"), hf::HfFormat::Llama);
        assert_eq!(tensor_bits(dir.path()).iter().any(|(n, _, _)| n == "lm_head.weight"), !tie, "tie = {tie}");
        let (back_config, back) = hf::load_model::<B>(dir.path(), &Default::default()).expect("import");
        assert_eq!(back_config, config);
        // The weights come back bit for bit: exporting the import writes the same tensors.
        let again = tempfile::tempdir().expect("tempdir");
        hf::export(&back, &back_config, None, again.path()).expect("export the import");
        assert_eq!(tensor_bits(again.path()), tensor_bits(dir.path()), "tie_embeddings = {tie}");
        // Same weights, same operations: the logits agree to rounding. Not bit for bit on every
        // backend: wgpu's autotuned matmul may pick another kernel (another summation order) on a
        // later call, as CI's lavapipe run did. f32 dot products of <= 128 terms of initial weights
        // (std 0.02), |logits| << 1: rounding differences of a few ulps, far below 1e-5, while a wrong tie or head layout moves them by ~1e-1.
        let ids = [1, 5, 9, 33, 69, 0, 12];
        let worst = worst_difference(&logits(&back, &ids), &logits(&model, &ids));
        assert!(worst <= 1e-5, "tie_embeddings = {tie}: logits differ by {worst}");
    }
}

#[test]
fn export_refuses_a_qk_norm_run_and_writes_nothing() {
    let config = GptConfig { qk_norm: true, vocab_size: Some(70), ..fixture_config() };
    let model: Gpt<B> = init_model(&config, 1, &Default::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let err = format!("{:#}", hf::export(&model, &config, None, dir.path()).expect_err("qk_norm"));
    assert!(err.contains("model.qk_norm = true cannot be exported as LlamaForCausalLM"), "{err}");
    assert!(!dir.path().join("model.safetensors").exists(), "nothing is written when refused");
}

/// A copy of the fixture whose model.safetensors holds `edit`'s tensors (from the original's).
fn with_tensors(edit: impl FnOnce(&mut Vec<hf::NamedTensor>)) -> tempfile::TempDir {
    let dir = with_config(|_| {});
    let files = hf::TensorFiles::open(&fixture()).expect("safetensors");
    let tensors = files.parse().expect("parse");
    let mut all: Vec<hf::NamedTensor> =
        tensors.names().into_iter().map(|n| tensors.get(&n).map(|(s, v)| (n, s, v)).expect("tensor")).collect();
    edit(&mut all);
    std::fs::write(dir.path().join("model.safetensors"), hf::serialize(all).expect("serialize")).expect("write");
    dir
}

fn import_error(dir: &Path) -> String {
    format!("{:#}", hf::load_model::<B>(dir, &Default::default()).map(|_| ()).expect_err("import must fail"))
}

#[test]
fn weight_errors_name_the_tensor() {
    let k = "model.layers.1.self_attn.k_proj.weight";
    let short = with_tensors(|all| {
        let (_, shape, values) = all.iter_mut().find(|(n, _, _)| n == k).expect("k_proj");
        shape[0] = 16;
        values.truncate(16 * 64);
    });
    let err = import_error(short.path());
    assert!(err.contains(&format!("tensor {k} has shape [16, 64], the model needs [32, 64]")), "{err}");
    let missing = with_tensors(|all| all.retain(|(n, _, _)| n != "model.norm.weight"));
    assert!(import_error(missing.path()).contains("tensor model.norm.weight is missing"));
    let bias = with_tensors(|all| all.push(("model.layers.0.self_attn.q_proj.bias".into(), vec![64], vec![0.0; 64])));
    let err = import_error(bias.path());
    assert!(err.contains("tensor model.layers.0.self_attn.q_proj.bias is not used by the model"), "{err}");
}
