//! Backend parity: the backend this build selected (`burngpt::backend`, e.g. wgpu or flex)
//! computes the same logits, loss, gradient norm and 5 training steps as the ndarray CPU
//! reference, from the same initial weights and batches.
//!
//! Flex is checked in every build that compiles it, the default one included (its `flex-sampling`
//! feature): `cargo test` runs it. The backend the build selected is checked when it is neither the
//! reference nor flex: `.ci/run` runs this file with `--features wgpu` (lavapipe); `--features cuda`
//! on an NVIDIA machine.
//!
//! Tolerances. Both sides compute in float32 (unit roundoff u = 6e-8) but sum in different
//! orders (blocked GEMMs, tree reductions on the GPU), so each dot product or reduction of
//! length n may differ by about sqrt(n) * u relative to its magnitude, and the errors compound
//! through ~20 such ops per layer. For this model (n <= 128, logits of magnitude < 5) that is
//! ~1e-6 per op and ~1e-5 at the logits: we allow 1e-4 absolute. Mean loss and the gradient
//! norm are averages/norms of those values: 1e-4 relative. Over 5 AdamW steps the update
//! `m / (sqrt(v) + eps)` amplifies differences in gradients that are near zero (it is a
//! sign-like function at step 1), so we allow 1e-3 relative on the later losses: a real bug
//! (a wrong op, a missing scale, a transposed weight) moves the loss by far more than that
//! (the first step alone lowers it by ~1e-2 here).

mod common;

use burn::backend::{Autodiff, NdArray};
use burn::module::AutodiffModule;
use burn::prelude::ElementConversion;
use burn::tensor::backend::Backend;
use burngpt::backend;
use burngpt::model::{load_model, model_bytes};
use burngpt::run_dir::write_atomic;
use burngpt::data::Batch;
use burngpt::model::{GeluKind, Gpt, GptConfig, PositionKind, MlpKind, NormKind};
use burngpt::train::{init_model, Learner, LearnerConfig, OptimizerConfig, OptimizerKind, WarmupCosine};
use common::assert_close;

type Reference = Autodiff<NdArray<f32>>;

fn config() -> GptConfig {
    GptConfig {
        vocab_size: Some(61),
        block_size: 32,
        d_model: 64,
        n_layers: 2,
        n_heads: 4,
        d_ff: 256,
        dropout: 0.0,
        bias: true,
        tie_embeddings: true,
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

fn learner_config() -> LearnerConfig {
    LearnerConfig {
        // the schedule below sets the rates; `lr` is the config's peak, kept equal to it
        optimizer: OptimizerConfig {
            lr: 3e-3,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.1,
            decay_all: false,
            grad_clip: 1.0,
            // kind = "adamw": the muon_* keys are ignored (their TOML defaults)
            kind: OptimizerKind::AdamW,
            muon_lr: 0.02,
            muon_momentum: 0.95,
            muon_nesterov: true,
            muon_ns_steps: 5,
            muon_weight_decay: 0.0,
            embedding_lr: None,
            head_lr: None,
        },
        schedule: WarmupCosine { lr_max: 3e-3, min_lr: 3e-4, warmup_steps: 2, total_steps: 5 }.into(),
    }
}

/// Five batches of 4 windows of 33 tokens from a fixed pseudo-random token stream.
fn batches<B: Backend>(device: &B::Device) -> Vec<Batch<B>> {
    let ids: Vec<u32> = (0..4000u64).map(|i| ((i * 2_654_435_761 + 12_345) >> 7) as u32 % 61).collect();
    (0..5)
        .map(|s| {
            let starts: Vec<usize> = (0..4).map(|r| (s * 613 + r * 977) % (ids.len() - 33)).collect();
            Batch::from_ids(&ids, &starts, 32, device).expect("windows in range")
        })
        .collect()
}

/// Logits of the first batch, loss and pre-clip grad norm of each of 5 steps.
fn run<B: burngpt_ops::FusedAutodiffBackend>(model: Gpt<B>, device: &B::Device) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let data = batches::<B>(device);
    let logits = model.valid().forward(data[0].inputs.clone().inner());
    let logits: Vec<f64> = logits.into_data().iter::<f64>().collect();
    let mut learner = Learner::new(model, &learner_config());
    let (mut losses, mut norms) = (Vec::new(), Vec::new());
    for (i, batch) in data.into_iter().enumerate() {
        let out = learner.train_step(i + 1, vec![batch]);
        losses.push(out.loss.into_scalar().elem::<f64>());
        norms.push(out.grad_norm.into_scalar().elem::<f64>());
    }
    (logits, losses, norms)
}

/// Flex, in every build that has it (the default build samples on it; `--features flex` trains on it).
#[cfg(any(feature = "flex", feature = "flex-sampling"))]
#[test]
fn flex_matches_the_ndarray_reference() {
    check::<Autodiff<burn::backend::Flex>>("flex", &Default::default());
}

/// The GPU backend this build selected (wgpu, cuda); ndarray is the reference and flex has its own test.
#[test]
fn selected_backend_matches_the_ndarray_reference() {
    if matches!(backend::name(), "ndarray" | "flex") {
        eprintln!("parity: this build trains on {}, checked by the other test; build with --features wgpu|cuda", backend::name());
        return;
    }
    let device = backend::device(None).expect("the selected backend has a usable device");
    check::<backend::Training>(backend::name(), &device);
}

/// `B` on `device` against the ndarray reference, from the same weights.
fn check<B: burngpt_ops::FusedAutodiffBackend>(name: &str, device: &B::Device) {
    let cfg = config();
    let ref_device = Default::default();
    let reference: Gpt<Reference> = init_model(&cfg, 42, &ref_device);
    // The same weights on the backend under test, through the checkpoint format.
    let dir = tempfile::tempdir().expect("tempdir");
    write_atomic(&dir.path().join("model.mpk"), &model_bytes(reference.clone()).expect("record")).expect("write");
    let tested: Gpt<B> = load_model(&cfg, dir.path(), device).expect("load");

    let (ref_logits, ref_losses, ref_norms) = run(reference, &ref_device);
    let (logits, losses, norms) = run(tested, device);
    eprintln!("parity ({name}): reference losses {ref_losses:?}\n  tested losses {losses:?}");

    let worst = logits.iter().zip(&ref_logits).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    eprintln!("  max |logit difference| = {worst:.3e}");
    assert!(worst <= 1e-4, "logits differ by up to {worst} (> 1e-4)");
    assert_close("step-1 loss", &losses[..1], &ref_losses[..1], 1e-4);
    assert_close("step-1 grad norm", &norms[..1], &ref_norms[..1], 1e-4);
    assert_close("losses over 5 steps", &losses, &ref_losses, 1e-3);
    assert_close("grad norms over 5 steps", &norms, &ref_norms, 1e-3);
    // The run must actually train, or equal losses would prove little.
    assert!(ref_losses[4] < ref_losses[0] - 0.01, "reference did not learn: {ref_losses:?}");
}
