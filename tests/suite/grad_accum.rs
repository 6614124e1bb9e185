//! Gradient accumulation: k micro-batches give the gradient of one batch k times the size.

use burn::module::AutodiffModule;
use burn::tensor::{Tensor, TensorData};
use burngpt::data::Batch;
use burngpt::model::{named_params, GeluKind, Gpt, GptConfig, MlpKind, NormKind, PositionKind};
use burngpt::train::{forward_backward, init_model};

/// The build's backends (ndarray by default, wgpu in CI's lavapipe job).
type Inner = burngpt::backend::Inference;
type AB = burngpt::backend::Training;

fn batch(rows: &[[i64; 6]]) -> Batch<AB> {
    let dev = Default::default();
    let inputs: Vec<i64> = rows.iter().flat_map(|r| r[..5].to_vec()).collect();
    let targets: Vec<i64> = rows.iter().flat_map(|r| r[1..].to_vec()).collect();
    Batch {
        inputs: Tensor::from_data(TensorData::new(inputs, [rows.len(), 5]), &dev),
        targets: Tensor::from_data(TensorData::new(targets, [rows.len(), 5]), &dev),
    }
}

#[test]
fn two_micro_batches_equal_one_double_batch() {
    let config = GptConfig {
        vocab_size: Some(9),
        block_size: 5,
        d_model: 16,
        n_layers: 2,
        n_heads: 2,
        d_ff: 32,
        dropout: 0.0,
        bias: true,
        tie_embeddings: true,
        positions: PositionKind::Learned,
        gelu: GeluKind::Tanh,
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
    let model: Gpt<AB> = init_model(&config, 5, &Default::default());
    let rows = [[1, 2, 3, 4, 5, 6], [8, 7, 6, 5, 4, 3], [0, 2, 4, 6, 8, 1], [3, 3, 1, 1, 7, 7]];
    let (full, full_loss) = forward_backward(&model, vec![batch(&rows)]);
    let (acc, acc_loss) = forward_backward(&model, vec![batch(&rows[..2]), batch(&rows[2..])]);
    let l1: f32 = full_loss.into_scalar();
    let l2: f32 = acc_loss.into_scalar();
    assert!((l1 - l2).abs() < 1e-6, "mean loss {l1} vs accumulated {l2}");
    let params = named_params::<Inner, _>(&model.valid());
    assert_eq!(params.len(), 2 + 2 * 12 + 2); // wte, wpe, 12 per block, ln_f gamma/beta
    for p in params {
        let get = |g: &burn::optim::GradientsParams| -> Vec<f32> {
            match p.shape.len() {
                1 => g.get::<Inner, 1>(p.id).map(|t| t.into_data().to_vec().expect("f32")),
                _ => g.get::<Inner, 2>(p.id).map(|t| t.into_data().to_vec().expect("f32")),
            }
            .expect("gradient present")
        };
        let (a, b) = (get(&full), get(&acc));
        let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-5 * scale, "{}: {x} vs {y}", p.name);
        }
    }
}
