//! The worked examples of the training step (cross-entropy, learning rate, clipping), asserted
//! against the exact values of docs/numeric-reference.md (float32 tolerance, about 1e-5 relative).

mod common;

use burn::backend::{Autodiff, NdArray};
use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor, TensorData};
use burngpt::train::{clip_global_norm, cross_entropy, WarmupCosine};
use common::{assert_close, values};

type NB = NdArray<f32>;
type AB = Autodiff<NB>;

fn logits<BK: burn::tensor::backend::Backend>(v: Vec<f32>, shape: [usize; 3]) -> Tensor<BK, 3> {
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

fn targets<BK: burn::tensor::backend::Backend>(v: Vec<i64>, shape: [usize; 2]) -> Tensor<BK, 2, Int> {
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

#[test]
fn cross_entropy_one_position() {
    // "From Logits to Loss": logits [2.1, -0.5, 3.4, 0.2, -1.2, 1.8], target 2.
    let loss = cross_entropy(logits::<NB>(vec![2.1, -0.5, 3.4, 0.2, -1.2, 1.8], [1, 1, 6]), targets(vec![2], [1, 1]));
    assert_close("loss", &values(loss), &[0.435337299553698], 1e-5);
}

#[test]
fn cross_entropy_batch_loss_and_gradient_through_autodiff() {
    // "Numeric Example": batch 1 x seq 2, vocab 4, targets [[2, 1]].
    let x = logits::<AB>(vec![1.5, 0.2, 2.1, -0.5, 0.8, 2.3, 0.1, -0.2], [1, 2, 4]).require_grad();
    let loss = cross_entropy(x.clone(), targets(vec![2, 1], [1, 2]));
    assert_close("mean loss", &values(loss.clone().inner()), &[0.460163347845849], 1e-5);
    let grads = loss.backward();
    let grad = x.grad(&grads).expect("logits receive a gradient");
    assert_close(
        "d loss / d logits",
        &values(grad),
        &[
            0.154799438, 0.042187769, -0.217937033, 0.020949826, // position 0
            0.078787879, -0.146897223, 0.039124903, 0.028984441, // position 1
        ],
        1e-5,
    );
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    // Shifting every logit by a constant leaves softmax unchanged, so the loss of the
    // one-position example shifted by 1e4 (exp would overflow f32 at ~88) is the same.
    let shifted: Vec<f32> = [2.1f32, -0.5, 3.4, 0.2, -1.2, 1.8].iter().map(|v| v + 1.0e4).collect();
    let loss = values(cross_entropy(logits::<NB>(shifted, [1, 1, 6]), targets(vec![2], [1, 1])));
    assert!(loss[0].is_finite());
    // 1e4 + 3.4 is only representable to ~1e-3 in f32, hence the looser tolerance.
    assert_close("shifted loss", &loss, &[0.435337299553698], 2e-3);
    // A gap of 1000 between logits: loss of the winner is ~0, of the loser ~1000.
    let loss = values(cross_entropy(logits::<NB>(vec![1000.0, 0.0], [1, 1, 2]), targets(vec![1], [1, 1])));
    assert_close("loss with gap 1000", &loss, &[1000.0], 1e-6);
}

#[test]
fn learning_rate_table() {
    let s = WarmupCosine { lr_max: 3e-4, min_lr: 0.0, warmup_steps: 100, total_steps: 1000 };
    let table = [
        (0, 0.0),
        (50, 1.5e-4),
        (100, 3.0e-4),
        (150, 2.97721162951831e-4),
        (500, 1.76047226650040e-4),
        (900, 9.04610688211375e-6),
        (1000, 0.0),
        (1001, 0.0),
        (5000, 0.0),
    ];
    for (step, expected) in table {
        let lr = s.lr_at(step);
        assert!((lr - expected).abs() <= 1e-15, "lr_at({step}) = {lr}, expected {expected}");
    }
    // With a floor, the schedule ends on min_lr and stays there.
    let s = WarmupCosine { min_lr: 3e-5, ..s };
    assert_eq!(s.lr_at(1000), 3e-5);
    assert_eq!(s.lr_at(2000), 3e-5);
    // Halfway through the cosine: min + (max - min) / 2.
    assert!((s.lr_at(550) - (3e-5 + 0.5 * (3e-4 - 3e-5))).abs() < 1e-15);
}

/// Two parameters shaped like the reference's gradients, for clipping tests.
#[derive(Module, Debug)]
struct TwoParams<B: burn::tensor::backend::Backend> {
    g1: Param<Tensor<B, 1>>,
    g2: Param<Tensor<B, 2>>,
}

/// Gradients exactly `g1 = [3, 0]` and `g2 = [[0, 4]]`: the loss is linear in the params.
fn reference_grads(scale: f32) -> (TwoParams<AB>, GradientsParams) {
    let dev = Default::default();
    let module = TwoParams::<AB> {
        g1: Param::from_tensor(Tensor::from_floats([1.0, 2.0], &dev)),
        g2: Param::from_tensor(Tensor::from_floats([[-1.0, 0.5]], &dev)),
    };
    let c1 = Tensor::<AB, 1>::from_floats([3.0 * scale, 0.0], &dev);
    let c2 = Tensor::<AB, 2>::from_floats([[0.0, 4.0 * scale]], &dev);
    let loss = (module.g1.val() * c1).sum() + (module.g2.val() * c2).sum();
    let grads = GradientsParams::from_grads::<AB, _>(loss.backward(), &module);
    (module, grads)
}

#[test]
fn global_norm_clipping_reference_example() {
    let (module, grads) = reference_grads(1.0);
    let (grads, norm) = clip_global_norm::<AB, _>(&module, grads, 1.0);
    assert_close("norm before clipping", &values(norm), &[5.0], 1e-6);
    let g1 = grads.get::<NB, 1>(module.g1.id).expect("g1 grad");
    let g2 = grads.get::<NB, 2>(module.g2.id).expect("g2 grad");
    assert_close("clipped g1", &values(g1.clone()), &[0.6, 0.0], 1e-6);
    assert_close("clipped g2", &values(g2.clone()), &[0.0, 0.8], 1e-6);
    let after = (values(g1.square().sum())[0] + values(g2.square().sum())[0]).sqrt();
    assert_close("norm after clipping", &[after], &[1.0], 1e-6);
}

#[test]
fn clipping_leaves_small_gradients_alone() {
    // Norm 0.5 (g = [0.3, 0], [[0, 0.4]]) is below max_norm 1: nothing changes.
    let (module, grads) = reference_grads(0.1);
    let (grads, norm) = clip_global_norm::<AB, _>(&module, grads, 1.0);
    assert_close("norm", &values(norm), &[0.5], 1e-6);
    assert_close("g1", &values(grads.get::<NB, 1>(module.g1.id).expect("g1")), &[0.3, 0.0], 1e-7);
    assert_close("g2", &values(grads.get::<NB, 2>(module.g2.id).expect("g2")), &[0.0, 0.4], 1e-7);
    // max_norm 0 disables clipping but still reports the norm.
    let (module, grads) = reference_grads(1.0);
    let (grads, norm) = clip_global_norm::<AB, _>(&module, grads, 0.0);
    assert_close("norm", &values(norm), &[5.0], 1e-6);
    assert_close("g1", &values(grads.get::<NB, 1>(module.g1.id).expect("g1")), &[3.0, 0.0], 1e-7);
}
