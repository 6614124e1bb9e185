//! The GPT model: shapes, causality, parameter counts, initialisation, attention paths.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use burngpt::run::RunConfig;
use burngpt::model::{causal_attention, causal_attention_probs, GeluKind, Gpt, GptConfig, PositionKind, MlpKind, NormKind};
use burngpt::train::init_model;
use crate::common::values;

/// The backend this build trains and evaluates on (`backend::Inference`): ndarray by default, wgpu
/// in CI's lavapipe job, so these tests exercise the GPU code path there.
type B = burngpt::backend::Inference;

fn config(tie: bool, positions: PositionKind) -> GptConfig {
    GptConfig {
        vocab_size: Some(7),
        block_size: 5,
        d_model: 8,
        n_layers: 2,
        n_heads: 2,
        d_ff: 12,
        dropout: 0.0,
        bias: true,
        tie_embeddings: tie,
        positions,
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

fn tokens(v: Vec<i64>, batch: usize) -> Tensor<B, 2, Int> {
    let n = v.len() / batch;
    Tensor::from_data(TensorData::new(v, [batch, n]), &Default::default())
}

#[test]
fn forward_gives_logits_per_position() {
    let model: Gpt<B> = init_model(&config(true, PositionKind::Learned), 1, &Default::default());
    let logits = model.forward(tokens(vec![0, 1, 2, 3, 4, 5, 6, 0, 1, 2], 2));
    assert_eq!(logits.dims(), [2, 5, 7]);
}

#[test]
fn changing_token_t_leaves_earlier_logits_unchanged() {
    for positions in [PositionKind::Learned, PositionKind::Sinusoidal, PositionKind::Rope] {
        let model: Gpt<B> = init_model(&config(false, positions), 2, &Default::default());
        let a = model.forward(tokens(vec![1, 2, 3, 4, 5], 1)); // [1, 5, 7]
        let b = model.forward(tokens(vec![1, 2, 6, 4, 5], 1)); // token 2 changed
        let diff = |range: std::ops::Range<usize>| {
            let d = (a.clone().slice([0..1, range.clone(), 0..7]) - b.clone().slice([0..1, range, 0..7])).abs();
            values(d.max())[0]
        };
        assert_eq!(diff(0..2), 0.0, "{positions:?}: logits before the change moved");
        assert!(diff(2..5) > 1e-6, "{positions:?}: logits from the change on must move");
    }
}

#[test]
fn parameter_count_matches_hand_count() {
    // d = 8, vocab 7, block 5, 2 layers, d_ff 12, biases on:
    //   wte 7*8 = 56, wpe 5*8 = 40, ln_f 2*8 = 16
    //   per layer: ln_1 16 + c_attn 8*24+24 = 216 + attn c_proj 8*8+8 = 72
    //              + ln_2 16 + c_fc 8*12+12 = 108 + mlp c_proj 12*8+8 = 104 = 532
    //   untied lm_head 8*7 = 56 (no bias)
    let dev = Default::default();
    let untied: Gpt<B> = init_model(&config(false, PositionKind::Learned), 0, &dev);
    assert_eq!(untied.num_params(), 56 + 40 + 16 + 2 * 532 + 56);
    // Tied: the head reuses wte, counted once. Sinusoidal: no wpe parameters.
    let tied: Gpt<B> = init_model(&config(true, PositionKind::Sinusoidal), 0, &dev);
    assert_eq!(tied.num_params(), 56 + 16 + 2 * 532);
}

#[test]
fn the_spec_model_has_1_044_736_parameters() {
    // configs/small.toml with its 2,000-token vocabulary:
    //   wte 2000*128 = 256,000 (tied head), ln_f 256, no position parameters,
    //   per layer: 2 LayerNorms 512 + c_attn 49,152 + c_proj 16,384 + c_fc 65,536 + c_proj 65,536
    //            = 197,120, times 4 = 788,480;  total 1,044,736.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cfg = RunConfig::load(&root.join("configs/small.toml"), &[]).expect("small.toml loads");
    cfg.data.path = root.join(&cfg.data.path);
    let gpt = cfg.gpt_config(2000).expect("no model.vocab_size written");
    let model: Gpt<B> = init_model(&gpt, 0, &Default::default());
    assert_eq!(model.num_params(), 1_044_736);
    assert_eq!(256_000 + 256 + 4 * 197_120, 1_044_736);
}

#[test]
fn gpt2_initialisation() {
    let mut cfg = config(true, PositionKind::Learned);
    cfg.d_model = 128;
    cfg.d_ff = 512;
    cfg.vocab_size = Some(500);
    cfg.block_size = 64;
    cfg.n_layers = 4;
    let model: Gpt<B> = init_model(&cfg, 3, &Default::default());
    let std = |t: Tensor<B, 2>| values(t.clone().var(0).mean().sqrt())[0];
    let proj_std = 0.02 / (8.0f64).sqrt();
    let within = |got: f64, want: f64, what: &str| assert!((got / want - 1.0).abs() < 0.05, "{what}: std {got}, want {want}");
    within(std(model.wte.weight.val()), 0.02, "wte");
    within(std(model.wpe.as_ref().expect("learned").weight.val()), 0.02, "wpe");
    within(std(model.h[0].attn.c_attn.weight.val()), 0.02, "c_attn");
    within(std(model.h[0].mlp.c_fc.weight.val()), 0.02, "c_fc");
    within(std(model.h[1].attn.c_proj.weight.val()), proj_std, "attn.c_proj");
    within(std(model.h[3].mlp.c_proj.weight.val()), proj_std, "mlp.c_proj");
    let bias = model.h[0].attn.c_attn.bias.as_ref().expect("bias on").val();
    assert_eq!(values(bias.abs().max())[0], 0.0, "biases start at zero");
    assert!(values(model.h[0].ln_1.gamma.as_ref().expect("affine").val()).iter().all(|&v| v == 1.0));
    assert!(values(model.ln_f.beta.as_ref().expect("beta").val()).iter().all(|&v| v == 0.0));
}

/// `model.zero_init_proj`: both residual projections start at 0, the rest as GPT-2 (c_attn's
/// std 0.02 checked as above); RMSNorm weights start at 1, and a parameter-free norm has none.
#[test]
fn zero_init_proj_and_rms_initialisation() {
    let cfg = GptConfig {
        zero_init_proj: true,
        norm: NormKind::Rms,
        mlp: MlpKind::Swiglu,
        n_kv_heads: Some(1),
        d_model: 64,
        d_ff: 128,
        ..config(true, PositionKind::Rope)
    };
    let model: Gpt<B> = init_model(&cfg, 5, &Default::default());
    let max_abs = |t: Tensor<B, 2>| values(t.abs().max())[0];
    for block in &model.h {
        assert_eq!(max_abs(block.attn.c_proj.weight.val()), 0.0, "attn.c_proj starts at zero");
        assert_eq!(max_abs(block.mlp.c_proj.weight.val()), 0.0, "mlp.c_proj starts at zero");
        let std = values(block.attn.c_attn.weight.val().var(0).mean().sqrt())[0];
        assert!((std / 0.02 - 1.0).abs() < 0.1, "c_attn std {std}");
        assert!(values(block.ln_1.gamma.as_ref().expect("affine").val()).iter().all(|&v| v == 1.0));
        assert!(block.ln_1.beta.is_none(), "an RMSNorm has no beta");
    }
    let bare: Gpt<B> = init_model(&GptConfig { norm_affine: false, ..cfg }, 5, &Default::default());
    assert!(bare.ln_f.gamma.is_none() && bare.h[0].ln_2.gamma.is_none(), "norm_affine = false: no parameters");
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() {
    let dev = Default::default();
    let cfg = config(false, PositionKind::Learned);
    let weights = |seed| -> Vec<Vec<f64>> {
        let model: Gpt<B> = init_model(&cfg, seed, &dev);
        vec![values(model.wte.weight.val()), values(model.h[1].mlp.c_fc.weight.val()), values(model.lm_head.expect("untied").weight.val())]
    };
    assert_eq!(weights(11), weights(11));
    assert_ne!(weights(11), weights(12));
}

#[test]
fn fused_attention_equals_explicit_masked_softmax() {
    let dev = Default::default();
    // Deterministic pseudo-random inputs (no draw from the backend's global RNG, which
    // other tests of this process seed concurrently).
    let input = |phase: f32| {
        let v: Vec<f32> = (0..2 * 3 * 6 * 4).map(|i| (i as f32 * 0.37 + phase).sin() * 2.0).collect();
        Tensor::<B, 4>::from_data(TensorData::new(v, [2, 3, 6, 4]), &dev)
    };
    let (q, k, v) = (input(0.0), input(1.0), input(2.0));
    let fused = causal_attention(q.clone(), k.clone(), v.clone());
    let explicit = causal_attention_probs(q.clone(), k.clone()).matmul(v);
    let diff = values((fused - explicit).abs().max())[0];
    assert!(diff < 1e-5, "max difference {diff}");
}
