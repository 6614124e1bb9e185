//! Sampling filters and the decoding loop.

use burn::backend::NdArray;
use burn::tensor::backend::Backend;
use burngpt::backend;
use burngpt::generate::{argmax, generate, sample_next, softmax, temperature, top_k, top_p, SamplingConfig};
use burngpt::model::{normal_samples, replace_params, GeluKind, Gpt, GptConfig, MlpKind, NormKind, PositionKind};
use rand::SeedableRng;
use burngpt::seed::{rng, Stream};
use burngpt::train::init_model;

/// The backend this build trains and evaluates on (`backend::Inference`): ndarray by default, wgpu
/// in CI's lavapipe job, so these tests exercise the GPU code path there.
type B = backend::Inference;

fn model(positions: PositionKind) -> Gpt<B> {
    model_seeded(positions, 3)
}

fn model_seeded(positions: PositionKind, seed: u64) -> Gpt<B> {
    model_on::<B>(positions, seed, &Default::default())
}

fn model_on<BK: Backend>(positions: PositionKind, seed: u64, device: &BK::Device) -> Gpt<BK> {
    let config = GptConfig {
        vocab_size: Some(11),
        block_size: 16,
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        d_ff: 64,
        dropout: 0.0,
        bias: true,
        tie_embeddings: true,
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
    };
    // Weights of std 0.5 (GPT-2: 0.02) make the random model's greedy choices vary.
    let model = init_model::<BK>(&config, seed, device);
    let mut draws = rand::rngs::StdRng::seed_from_u64(seed);
    let (model, errors) = replace_params(model, |path, shape| {
        let n = shape.iter().product();
        Ok(if path.ends_with(".gamma") { vec![1.0; n] } else { normal_samples(&mut draws, n, 0.5) })
    });
    assert!(errors.is_empty());
    model
}

fn sampling(t: f64) -> SamplingConfig {
    SamplingConfig { temperature: t, top_k: None, top_p: None, greedy: false }
}

#[test]
fn a_temperature_too_small_for_f32_samples_greedily() {
    // 3 / 1e-40 overflows f32: before the shift by the max, every positive logit became +inf,
    // the softmax NaN, and the draw fell back to the first +inf (index 0), not the largest.
    let logits = [1.0f32, 3.0, 2.0, -1.0];
    let mut rng = burngpt::seed::rng(7, burngpt::seed::Stream::Sampling, 0);
    for _ in 0..20 {
        assert_eq!(sample_next(&logits, &sampling(1e-40), &mut rng), 1);
    }
}

#[test]
fn filters_do_what_they_say() {
    let logits = [1.0f32, 3.0, 2.0, 0.0];
    assert_eq!(argmax(&logits), 1);
    // (l - max) / 2 with max = 3: the same softmax as l / 2.
    assert_eq!(temperature(&logits, 2.0), vec![-1.0, 0.0, -0.5, -1.5]);
    let ninf = f32::NEG_INFINITY;
    assert_eq!(top_k(&logits, 2), vec![ninf, 3.0, 2.0, ninf]);
    assert_eq!(top_k(&logits, 10), logits.to_vec());
    // probabilities 0.5, 0.3, 0.15, 0.05: p = 0.7 needs the first two, p = 0.85 three.
    let probs = [0.5f64, 0.3, 0.15, 0.05];
    let l: Vec<f32> = probs.iter().map(|p| p.ln() as f32).collect();
    let kept = |v: Vec<f32>| v.iter().filter(|x| x.is_finite()).count();
    assert_eq!(kept(top_p(&l, 0.7)), 2);
    assert_eq!(kept(top_p(&l, 0.85)), 3);
    assert_eq!(kept(top_p(&l, 1.0)), 4);
    assert_eq!(kept(top_p(&l, 0.1)), 1, "the most likely token is always kept");
    let s = softmax(&l);
    for (a, b) in s.iter().zip(probs) {
        assert!((a - b).abs() < 1e-6);
    }
    // Softmax is stable for huge logits.
    assert!(softmax(&[1e30, 0.0]).iter().all(|p| p.is_finite()));
}

#[test]
fn sampling_follows_the_filtered_distribution() {
    let l: Vec<f32> = [0.5f64, 0.3, 0.15, 0.05].iter().map(|p| p.ln() as f32).collect();
    let mut r = rng(9, Stream::Sampling, 0);
    let mut counts = [0usize; 4];
    for _ in 0..20_000 {
        counts[sample_next(&l, &sampling(1.0), &mut r)] += 1;
    }
    // Binomial standard deviation at n = 20000 is below 0.0036: 0.015 is over 4 sigma.
    for (c, p) in counts.iter().zip([0.5, 0.3, 0.15, 0.05]) {
        assert!((*c as f64 / 20_000.0 - p).abs() < 0.015, "{counts:?}");
    }
    let top2 = SamplingConfig { top_k: Some(2), ..sampling(1.0) };
    assert!((0..2000).all(|_| sample_next(&l, &top2, &mut r) < 2));
    let greedy = SamplingConfig { greedy: true, ..sampling(1.0) };
    assert!((0..100).all(|_| sample_next(&l, &greedy, &mut r) == 0));
}

#[test]
fn invalid_sampling_settings_name_the_flag() {
    let err = SamplingConfig { top_p: Some(1.5), ..sampling(1.0) }.validate().expect_err("top_p > 1").to_string();
    assert!(err.contains("--top-p"), "{err}");
    let err = SamplingConfig { top_p: Some(0.0), ..sampling(1.0) }.validate().expect_err("top_p = 0").to_string();
    assert!(err.contains("(0, 1]"), "{err}");
    let err = sampling(-0.5).validate().expect_err("negative temperature").to_string();
    assert!(err.contains("--temperature"), "{err}");
}

#[test]
fn kv_cache_and_full_recompute_give_the_same_greedy_tokens() {
    for positions in [PositionKind::Learned, PositionKind::Sinusoidal] {
        let greedy = SamplingConfig { greedy: true, ..sampling(1.0) };
        let prompt = [1u32, 5, 2, 7, 3];
        // Random models often fall into repeating one token, which would make the comparison
        // weak: take the first seed whose greedy continuation has at least 4 distinct tokens.
        let mut compared = false;
        for seed in 0..50 {
            let m = model_seeded(positions, seed);
            // 30 new tokens from a 5-token prompt run past block_size 16: the window slides.
            let (cached, _) = generate(&m, &prompt, 30, &greedy, &mut rng(1, Stream::Sampling, 0), true, |_| Ok(())).expect("cached");
            let distinct: std::collections::BTreeSet<u32> = cached[5..].iter().copied().collect();
            if distinct.len() < 4 {
                continue;
            }
            let (full, _) = generate(&m, &prompt, 30, &greedy, &mut rng(1, Stream::Sampling, 0), false, |_| Ok(())).expect("full");
            assert_eq!(cached.len(), 35);
            assert_eq!(cached, full, "{positions:?}, seed {seed}");
            compared = true;
            break;
        }
        assert!(compared, "no seed in 0..50 gave a non-degenerate continuation ({positions:?})");
    }
}

#[test]
fn same_seed_same_text_other_seed_other_text() {
    let m = model(PositionKind::Learned);
    let run = |seed| generate(&m, &[1, 2, 3], 40, &sampling(1.0), &mut rng(seed, Stream::Sampling, 0), true, |_| Ok(())).expect("gen").0;
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

/// `generate` samples on `backend::Sampling` (flex in the default CPU build) while training and
/// this file's reference run on ndarray: the same weights must give the same greedy tokens, through
/// the KV cache and past block_size (window sliding). GPU builds are compared by tests/parity.rs.
#[test]
fn sampling_backend_gives_the_reference_greedy_tokens() {
    if !matches!(backend::sampling_name(), "flex" | "ndarray") {
        return;
    }
    let greedy = SamplingConfig { greedy: true, ..sampling(1.0) };
    let prompt = [1u32, 5, 2, 7, 3];
    let device = backend::sampling_device(&backend::default_device());
    let mut distinct_total = 0;
    for seed in 0..4 {
        let reference = model_on::<NdArray<f32>>(PositionKind::Learned, seed, &Default::default());
        let other = model_on::<backend::Sampling>(PositionKind::Learned, seed, &device);
        let run = |cache| generate(&reference, &prompt, 30, &greedy, &mut rng(1, Stream::Sampling, 0), cache, |_| Ok(())).expect("reference").0;
        let run_other = |cache| generate(&other, &prompt, 30, &greedy, &mut rng(1, Stream::Sampling, 0), cache, |_| Ok(())).expect("sampling backend").0;
        let expected = run(true);
        assert_eq!(run_other(true), expected, "seed {seed}, KV cache, on {}", backend::sampling_name());
        assert_eq!(run_other(false), expected, "seed {seed}, full recompute, on {}", backend::sampling_name());
        distinct_total += expected[5..].iter().collect::<std::collections::BTreeSet<_>>().len();
    }
    assert!(distinct_total >= 8, "the continuations are too degenerate to compare ({distinct_total} distinct tokens)");
}
