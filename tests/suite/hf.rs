//! Hugging Face GPT-2 import/export against a fixture made by `transformers`
//! (`tests/fixtures/hf_gpt2/make_fixture.py`: a random 2-layer GPT2LMHeadModel, a 300-token
//! byte-level BPE, a prompt, and the logits and greedy continuation `transformers` computed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::tensor::{Int, Tensor, TensorData};
use burngpt::generate::{generate, SamplingConfig};
use burngpt::hf;
use burngpt::model::{GeluKind, Gpt, GptConfig, MlpKind, NormKind, PositionKind};
use burngpt::train::init_model;
use rand::SeedableRng;
use serde::Deserialize;

/// The backend this build trains and evaluates on (`backend::Inference`): ndarray by default, wgpu
/// in CI's lavapipe job, so these tests exercise the GPU code path there.
type B = burngpt::backend::Inference;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf_gpt2")
}

#[derive(Deserialize)]
struct Expected {
    prompt: String,
    prompt_ids: Vec<u32>,
    logits_shape: Vec<usize>,
    logits: Vec<f64>,
    greedy_ids: Vec<u32>,
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

#[test]
fn imported_fixture_matches_transformers() {
    let want = expected();
    let tokenizer = hf::load_tokenizer(&fixture()).expect("tokenizer.json");
    assert_eq!(tokenizer.encode(&want.prompt).expect("encode"), want.prompt_ids, "tokenizer.json ids");
    // The same tokenizer from vocab.json + merges.txt (GPT-2's original files).
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["vocab.json", "merges.txt"] {
        std::fs::copy(fixture().join(f), dir.path().join(f)).expect("copy");
    }
    let classic = hf::load_tokenizer(dir.path()).expect("vocab.json + merges.txt");
    assert_eq!(classic.encode(&want.prompt).expect("encode"), want.prompt_ids, "vocab.json + merges.txt ids");

    let (config, model) = hf::load_model::<B>(&fixture(), &Default::default()).expect("import");
    assert_eq!((config.vocab_size, config.d_model, config.n_layers, config.block_size), (Some(300), 32, 2, 64));
    assert_eq!(config.gelu, GeluKind::Tanh, "gelu_new is the tanh approximation");
    let got = logits(&model, &want.prompt_ids);
    assert_eq!(vec![Some(want.prompt_ids.len()), config.vocab_size], want.logits_shape.iter().map(|&n| Some(n)).collect::<Vec<_>>());
    let worst = got.iter().zip(&want.logits).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-4, "logits differ from transformers by up to {worst}");

    let greedy = SamplingConfig { temperature: 1.0, top_k: None, top_p: None, greedy: true };
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    for use_cache in [true, false] {
        let (ids, _) = generate(&model, &want.prompt_ids, want.greedy_ids.len(), &greedy, &mut rng, use_cache, |_| Ok(()))
            .expect("generate");
        assert_eq!(ids[want.prompt_ids.len()..], want.greedy_ids, "greedy continuation (KV cache: {use_cache})");
    }
}

fn local_config(tie: bool) -> GptConfig {
    GptConfig {
        vocab_size: Some(70),
        block_size: 16,
        d_model: 24,
        n_layers: 2,
        n_heads: 3,
        d_ff: 40,
        dropout: 0.0,
        bias: true,
        tie_embeddings: tie,
        positions: PositionKind::Learned,
        gelu: GeluKind::Exact,
        layer_norm_eps: 1e-5,
        layer_norm_bias: true,
        init_from: None,
        norm: NormKind::Layer,
        norm_affine: true,
        rope_theta: 10000.0,
        mlp: MlpKind::Gelu,
        n_kv_heads: None,
        qk_norm: false,
        logit_softcap: 0.0,
        zero_init_proj: false,
    }
}

#[test]
fn export_then_import_gives_identical_logits() {
    for tie in [true, false] {
        let config = local_config(tie);
        let model: Gpt<B> = init_model(&config, 7, &Default::default());
        let dir = tempfile::tempdir().expect("tempdir");
        hf::export(&model, &config, None, dir.path()).expect("export");
        let (back_config, back) = hf::load_model::<B>(dir.path(), &Default::default()).expect("import");
        assert_eq!(back_config, config);
        let ids = [1, 5, 9, 33, 69, 0, 12];
        assert_eq!(logits(&back, &ids), logits(&model, &ids), "tie_embeddings = {tie}");
    }
}

#[test]
fn export_refuses_what_gpt2_cannot_express() {
    let dir = tempfile::tempdir().expect("tempdir");
    let no_bias = GptConfig { bias: false, ..local_config(true) };
    let model: Gpt<B> = init_model(&no_bias, 1, &Default::default());
    let err = format!("{:#}", hf::export(&model, &no_bias, None, dir.path()).expect_err("no biases"));
    assert!(err.contains("model.bias = false"), "{err}");
    let sinus = GptConfig { positions: PositionKind::Sinusoidal, ..local_config(true) };
    let model: Gpt<B> = init_model(&sinus, 1, &Default::default());
    let err = format!("{:#}", hf::export(&model, &sinus, None, dir.path()).expect_err("sinusoidal"));
    assert!(err.contains("model.positions"), "{err}");
    assert!(!dir.path().join("model.safetensors").exists(), "nothing is written when refused");
}

/// A copy of the fixture directory with `edit` applied to it.
fn edited_fixture(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(fixture()).expect("fixture dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
    }
    edit(dir.path());
    dir
}

fn import_error(dir: &Path) -> String {
    format!("{:#}", hf::load_model::<B>(dir, &Default::default()).map(|_| ()).expect_err("import must fail"))
}

#[test]
fn import_errors_name_the_file_and_tensor() {
    let missing = edited_fixture(|d| std::fs::remove_file(d.join("model.safetensors")).expect("rm"));
    assert!(import_error(missing.path()).contains("model.safetensors is missing"));

    let relu = edited_fixture(|d| {
        let path = d.join("config.json");
        let text = std::fs::read_to_string(&path).expect("read").replace("\"gelu_new\"", "\"relu\"");
        std::fs::write(path, text).expect("write");
    });
    let err = import_error(relu.path());
    assert!(err.contains("activation_function = \"relu\" is not supported"), "{err}");

    // One tensor with the wrong shape: wpe cut from 64 to 63 rows.
    let short = edited_fixture(|d| {
        let model: Gpt<B> = hf::load_model::<B>(&fixture(), &Default::default()).expect("import").1;
        let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = hf::hf_tensors(&model)
            .into_iter()
            .map(|(name, mut shape, mut values)| {
                if name == "transformer.wpe.weight" {
                    shape[0] -= 1;
                    values.truncate(shape[0] * shape[1]);
                }
                (name, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
            })
            .collect();
        let views = tensors.iter().map(|(n, s, b)| {
            (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).expect("view"))
        });
        let bytes = safetensors::serialize(views, None).expect("serialize");
        std::fs::write(d.join("model.safetensors"), bytes).expect("write");
    });
    let err = import_error(short.path());
    assert!(err.contains("transformer.wpe.weight has shape [63, 32], the model needs [64, 32]"), "{err}");
}

fn burngpt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burngpt"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn finetuning_from_the_fixture_lowers_the_loss_and_generate_hf_samples() {
    let out = tempfile::tempdir().expect("tempdir");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = out.path().join("finetune.toml");
    let text = format!(
        "[model]\ninit_from = \"{}\"\n\n[data]\npath = \"{}\"\ntokenizer = \"bpe\"\ntrain_fraction = 0.9\n\n\
         [optimizer]\nlr = 3e-3\nbeta1 = 0.9\nbeta2 = 0.99\neps = 1e-8\nweight_decay = 0.0\ndecay_all = false\ngrad_clip = 1.0\n\n\
         [schedule]\nwarmup_steps = 5\nmin_lr = 3e-4\n\n\
         [training]\nbatch_size = 8\nmax_steps = 40\ngrad_accum_steps = 1\nlog_every = 5\neval_every = 40\neval_batches = 4\n\
         checkpoint_every = 40\nkeep_last = 1\nseed = 3\nout_dir = \"{}\"\nrun_name = \"ft\"\n",
        fixture().display(),
        root.join("data/tinyshakespeare.txt").display(),
        out.path().display()
    );
    std::fs::write(&config, text).expect("write config");
    let run = burngpt(&["--config", config.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "finetuning failed: {}\n{stdout}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("Initial weights:") && stdout.contains("Vocabulary size: 300"), "{stdout}");
    let val = |marker: &str| -> f64 {
        let rest = &stdout[stdout.find(marker).unwrap_or_else(|| panic!("{marker} in {stdout}")) + marker.len()..];
        rest.trim_start().split_whitespace().next().and_then(|t| t.parse().ok()).expect("number")
    };
    let (first, last) = (val("Step 0/40 | Val loss:"), val("Step 40/40 | Val loss:"));
    // The fixture's weights are random (initializer_range 0.3), so the starting loss is far
    // above ln(300) = 5.7; 40 steps on Shakespeare must bring it down substantially.
    assert!(last < first - 0.5, "val loss {first} -> {last}");

    let gen = burngpt(&["generate", "--hf", fixture().to_str().expect("utf-8"), "--prompt", "ROMEO:", "--max-new-tokens", "8", "--greedy"]);
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    assert!(String::from_utf8_lossy(&gen.stdout).starts_with("ROMEO:"));
}
