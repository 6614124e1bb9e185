//! The learner's AdamW (`GroupedAdamW`), which on ndarray float32 tensors runs the whole update in
//! one pass per parameter (burngpt-ops' `FusedOps::adamw_update` kernel), against Burn 0.21's `AdamW` (fifteen tensor ops)
//! as the independent reference: over four steps with a changing learning rate, weights and both
//! moments must be equal **bit for bit**, for a decayed matrix and an undecayed vector (the two
//! parameter groups), on both sides of the threading threshold (2 x 16,384 elements).

use burn::backend::NdArray;
use burn::optim::{AdamWConfig, SimpleOptimizer};
use burn::tensor::{Tensor, TensorData};
use burngpt::train::{GroupedAdamW, OptimizerConfig, OptimizerKind};

type N = NdArray<f32>;

fn values(n: usize, phase: f32, scale: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * 0.618 + phase).sin() * scale).collect()
}

fn bits<const D: usize>(t: &Tensor<N, D>) -> Vec<u32> {
    t.clone().into_data().to_vec::<f32>().expect("f32").iter().map(|x| x.to_bits()).collect()
}

fn check<const D: usize>(shape: [usize; D]) {
    let dev = Default::default();
    let n: usize = shape.iter().product();
    // lr and grad_clip are the schedule's and the learner's: the step takes its own rate
    let settings =
        OptimizerConfig { lr: 1.0, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, decay_all: false, grad_clip: 0.0, kind: OptimizerKind::AdamW, muon_lr: 0.02, muon_momentum: 0.95, muon_nesterov: true, muon_ns_steps: 5, muon_weight_decay: 0.0, embedding_lr: None, head_lr: None };
    let ours = GroupedAdamW::new(&settings);
    // rank >= 2 is decayed, rank 1 is not (nanoGPT's groups)
    let decay = if D >= 2 { settings.weight_decay as f32 } else { 0.0 };
    let burn = AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.99)
        .with_epsilon(1e-8)
        .with_weight_decay(decay)
        .with_cautious_weight_decay(false)
        .build();
    let tensor = |v: Vec<f32>| Tensor::<N, D>::from_data(TensorData::new(v, shape), &dev);
    let (mut w_ours, mut w_burn) = (tensor(values(n, 0.2, 0.5)), tensor(values(n, 0.2, 0.5)));
    let (mut s_ours, mut s_burn) = (None, None);
    for (step, lr) in [(1, 1e-3), (2, 8e-4), (3, 5e-4), (4, 3e-3)] {
        // gradients of very different sizes, some exactly zero
        let g: Vec<f32> = values(n, step as f32, 0.3).iter().enumerate().map(|(i, g)| if i % 97 == 0 { 0.0 } else { g * (1 + i % 5) as f32 }).collect();
        let (w, s) = SimpleOptimizer::<N>::step(&ours, lr, w_ours, tensor(g.clone()), s_ours);
        (w_ours, s_ours) = (w, s);
        let (w, s) = SimpleOptimizer::<N>::step(&burn, lr, w_burn, tensor(g), s_burn);
        (w_burn, s_burn) = (w, s);
        let what = format!("{shape:?} step {step}");
        assert_eq!(bits(&w_ours), bits(&w_burn), "{what}: weights");
        let (a, b) = (&s_ours.as_ref().expect("state").momentum, &s_burn.as_ref().expect("state").momentum);
        assert_eq!(a.time, b.time, "{what}: time");
        assert_eq!(bits(&a.moment_1), bits(&b.moment_1), "{what}: first moment");
        assert_eq!(bits(&a.moment_2), bits(&b.moment_2), "{what}: second moment");
    }
    // the update did move the weights
    assert_ne!(bits(&w_ours), bits(&tensor(values(n, 0.2, 0.5))));
}

#[test]
fn fused_adamw_equals_burns_adamw_bit_for_bit() {
    check([300, 257]);
    check([7, 5]);
    check([40_000]);
    check([33]);
}
