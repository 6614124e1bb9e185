//! Muon (MomentUm Orthogonalized by Newton-Schulz): Keller Jordan's optimizer for the hidden
//! matrices (github.com/KellerJordan/Muon, `muon.py`), in float32 with Burn tensor ops, so it runs
//! on every backend.
//!
//! Burn 0.21 ships `burn::optim::Muon`, which is not Keller Jordan's: its momentum is SGD's
//! (`v = mu * v + (1 - dampening) * g`, the first `v = g`, Nesterov `g + mu * v`) rather than the
//! running average `m = lerp(m, g, 1 - beta)` from zero with the Nesterov update
//! `lerp(g, m, beta)`; it normalises by `max(norm, eps)` rather than `norm + eps`; and its shape
//! scale `sqrt(max(1, shape[0] / shape[1]))` assumes PyTorch's `[out, in]` layout, whereas Burn's
//! `Linear` weight is `[in, out]`.

use burn::optim::{LearningRate, SimpleOptimizer};
use burn::record::Record;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// Keller Jordan's quintic Newton-Schulz coefficients (a, b, c): the largest slope at zero for
/// which the iteration still keeps every singular value within about [0.7, 1.2].
const NS_COEFFICIENTS: (f64, f64, f64) = (3.4445, -4.7750, 2.0315);

/// Added to the Frobenius norm before dividing by it, as in `muon.py`.
const NS_EPS: f64 = 1e-7;

/// `zeropower_via_newtonschulz5(G, steps)` of `muon.py` in float32: `G` scaled to unit Frobenius
/// norm, then `steps` quintic iterations `X <- a X + (b A + c A A) X` with `A = X X^T`, on the wide
/// orientation (a tall `G` is transposed before and after). The result approximates `U V^T` of
/// `G = U S V^T`, with singular values in about [0.7, 1.2] instead of exactly 1.
///
/// # Shapes
/// - `g`: `[rows, cols]` -> `[rows, cols]`
pub fn newton_schulz<B: Backend>(g: Tensor<B, 2>, steps: usize) -> Tensor<B, 2> {
    let (a, b, c) = NS_COEFFICIENTS;
    let [rows, cols] = g.dims();
    let tall = rows > cols;
    // x: [short, long] with short = min(rows, cols), so that A = x x^T is the small Gram matrix.
    let x = if tall { g.transpose() } else { g };
    let norm = x.clone().powi_scalar(2).sum().sqrt().add_scalar(NS_EPS); // [1]
    let mut x = x.div(norm.unsqueeze::<2>());
    for _ in 0..steps {
        // A: [short, short]; the order of the products is muon.py's: (c * A) @ A, then B @ X.
        let gram = x.clone().matmul(x.clone().transpose());
        let poly = gram.clone().mul_scalar(b) + gram.clone().mul_scalar(c).matmul(gram);
        x = x.clone().mul_scalar(a) + poly.matmul(x);
    }
    if tall {
        x.transpose()
    } else {
        x
    }
}

/// PyTorch's `torch.lerp(start, end, weight)` as its kernels compute it (the two forms keep the
/// result exact at either end): `start + w (end - start)` for `w < 0.5`, else
/// `end - (end - start)(1 - w)`.
fn lerp<B: Backend, const D: usize>(start: Tensor<B, D>, end: Tensor<B, D>, weight: f64) -> Tensor<B, D> {
    if weight < 0.5 {
        start.clone() + (end - start).mul_scalar(weight)
    } else {
        end.clone() - (end - start).mul_scalar(1.0 - weight)
    }
}

/// Muon's settings for the hidden matrices (the `optimizer.muon_*` keys).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Muon {
    /// `beta` of the momentum's running average (`optimizer.muon_momentum`).
    pub momentum: f64,
    /// Orthogonalise `lerp(g, m, beta)` (Nesterov) rather than `m` (`optimizer.muon_nesterov`).
    pub nesterov: bool,
    /// Newton-Schulz iterations (`optimizer.muon_ns_steps`).
    pub ns_steps: usize,
    /// Decoupled weight decay, `p <- p (1 - lr wd)` before the update (`optimizer.muon_weight_decay`).
    pub weight_decay: f64,
}

/// The momentum buffer of one matrix (`muon.py`'s `state["momentum_buffer"]`).
#[derive(Record, Clone)]
pub struct MuonState<B: Backend, const D: usize> {
    /// Running average of the gradients, same shape as the parameter.
    pub momentum: Tensor<B, D>,
}

impl Muon {
    /// `muon_update` of `muon.py`: the new momentum and the orthogonalised, shape-scaled update.
    ///
    /// `grad` and `momentum` are in Burn's layout `[d_in, d_out]`. PyTorch's weights are
    /// `[out, in]` and `muon.py` scales by `sqrt(max(1, out / in))`: here that is
    /// `sqrt(max(1, cols / rows))`. (Newton-Schulz itself commutes with transposition.)
    ///
    /// # Shapes
    /// - `grad`, `momentum`: `[d_in, d_out]` -> (update, momentum) `[d_in, d_out]` each
    pub fn update<B: Backend>(&self, grad: Tensor<B, 2>, momentum: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let [rows, cols] = grad.dims();
        let momentum = lerp(momentum, grad.clone(), 1.0 - self.momentum);
        let direction = if self.nesterov { lerp(grad, momentum.clone(), self.momentum) } else { momentum.clone() };
        let scale = (cols as f64 / rows as f64).max(1.0).sqrt();
        (newton_schulz(direction, self.ns_steps).mul_scalar(scale), momentum)
    }
}

impl<B: Backend> SimpleOptimizer<B> for Muon {
    type State<const D: usize> = MuonState<B, D>;

    /// One step of `Muon.step` for one parameter: `p <- p (1 - lr wd) - lr update`. Only matrices
    /// reach Muon (`param_groups.rs`); a tensor of another rank is seen as `[dims[0], rest]`.
    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let dims = tensor.dims();
        let rows = dims.first().copied().unwrap_or(1).max(1);
        let matrix = [rows, tensor.shape().num_elements() / rows];
        // muon.py starts from a zero buffer.
        let momentum = state.map_or_else(|| grad.zeros_like(), |s| s.momentum);
        let (update, momentum) = self.update(grad.reshape(matrix), momentum.reshape(matrix));
        let decayed = if self.weight_decay == 0.0 { tensor } else { tensor.mul_scalar(1.0 - lr * self.weight_decay) };
        let tensor = decayed - update.reshape(dims).mul_scalar(lr);
        (tensor, Some(MuonState { momentum: momentum.reshape(dims) }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        MuonState { momentum: state.momentum.to_device(device) }
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::NdArray;
    use burn::optim::SimpleOptimizer;
    use burn::tensor::{Tensor, TensorData};
    use serde::Deserialize;

    use super::{newton_schulz, Muon};
    use crate::test_util::values;

    type NB = NdArray<f32>;

    /// tests/fixtures/muon/expected.json, written by make_fixture.py beside it: Keller Jordan's
    /// code in float32 (and float64, for `f32_error`), every matrix in PyTorch's `[out, in]` layout.
    #[derive(Deserialize)]
    struct Fixture {
        newton_schulz: Vec<NsCase>,
        two_steps: Vec<StepCase>,
    }

    #[derive(Deserialize)]
    struct NsCase {
        name: String,
        input: Vec<Vec<f32>>,
        output: Vec<Vec<f64>>,
        f32_error: f64,
    }

    #[derive(Deserialize)]
    struct StepCase {
        name: String,
        lr: f64,
        weight_decay: f64,
        momentum: f64,
        nesterov: bool,
        ns_steps: usize,
        param: Vec<Vec<f32>>,
        grads: Vec<Vec<Vec<f32>>>,
        params_after: Vec<Vec<Vec<f64>>>,
        momentum_after: Vec<Vec<Vec<f64>>>,
        f32_error: f64,
    }

    fn fixture() -> Fixture {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/muon/expected.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("expected.json")).expect("expected.json parses")
    }

    fn matrix(rows: &[Vec<f32>]) -> Tensor<NB, 2> {
        let shape = [rows.len(), rows[0].len()];
        Tensor::from_data(TensorData::new(rows.concat(), shape), &Default::default())
    }

    /// Float32 results of two implementations that each stray from the exact (float64) result by
    /// a few times `f32_error` (PyTorch's distance from it, measured by the script; the order of
    /// the sums in the matrix products and fused multiply-adds change the constant) differ by at
    /// most about 2 x 4 `f32_error`, plus one float32 ulp of the value (its last rounding may go
    /// either way). Measured: at most 2.3e-6 on Newton-Schulz (4x4, tolerance about 5.5e-6) and one
    /// ulp on the parameters.
    fn assert_within(what: &str, actual: Tensor<NB, 2>, expected: &[Vec<f64>], f32_error: f64) {
        let (actual, expected) = (values(actual), expected.concat());
        assert_eq!(actual.len(), expected.len(), "{what}: size");
        for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
            let tol = 8.0 * f32_error + e.abs().max(f64::from(f32::MIN_POSITIVE)) * f64::from(f32::EPSILON);
            assert!((a - e).abs() <= tol, "{what}[{i}]: burngpt {a}, muon.py {e} (tolerance {tol:e})");
        }
    }

    /// `zeropower_via_newtonschulz5` of a tall, a wide and a square matrix; and, since the
    /// iteration commutes with transposition, of each transposed (Burn's layout of the weight).
    #[test]
    fn newton_schulz_matches_keller_jordans() {
        for case in fixture().newton_schulz {
            let g = matrix(&case.input);
            assert_within(&case.name, newton_schulz(g.clone(), 5), &case.output, case.f32_error);
            let transposed = newton_schulz(g.transpose(), 5).transpose();
            assert_within(&format!("{} transposed", case.name), transposed, &case.output, case.f32_error);
        }
    }

    /// Two steps of `Muon.step` (momentum from zero, Nesterov or not, weight decay, the shape
    /// scale) on PyTorch's `[out, in]` matrices, run here on their transposes, Burn's `[in, out]`
    /// layout: a 5x3 PyTorch weight (scale sqrt(5/3)) is a [3, 5] Burn weight.
    #[test]
    fn two_steps_match_keller_jordans() {
        for case in fixture().two_steps {
            let muon = Muon { momentum: case.momentum, nesterov: case.nesterov, ns_steps: case.ns_steps, weight_decay: case.weight_decay };
            let mut param = matrix(&case.param).transpose();
            let mut state = None;
            for (k, grad) in case.grads.iter().enumerate() {
                let (next, next_state) = SimpleOptimizer::<NB>::step(&muon, case.lr, param, matrix(grad).transpose(), state);
                let momentum = next_state.as_ref().map(|s| s.momentum.clone()).expect("Muon keeps a momentum");
                let what = format!("{} step {}", case.name, k + 1);
                assert_within(&format!("{what} param"), next.clone().transpose(), &case.params_after[k], case.f32_error);
                assert_within(&format!("{what} momentum"), momentum.transpose(), &case.momentum_after[k], case.f32_error);
                (param, state) = (next, next_state);
            }
        }
    }

    /// The shape scale in Burn's layout: a [d_in = 2, d_out = 8] weight is PyTorch's [8, 2], a
    /// tall matrix scaled by sqrt(8 / 2) = 2; its transpose is wide, scale 1. The orthogonalised
    /// update of a rank-1 gradient u v^T is u v^T / (|u| |v|) times the iteration's value at
    /// singular value 1 after 5 steps, the same for both: so the ratio of the norms is exactly 2.
    #[test]
    fn the_shape_scale_uses_pytorchs_out_over_in() {
        let muon = Muon { momentum: 0.0, nesterov: false, ns_steps: 5, weight_decay: 0.0 };
        let g = Tensor::<NB, 2>::ones([2, 8], &Default::default());
        let norm = |t: Tensor<NB, 2>| values(t.powi_scalar(2).sum().sqrt())[0];
        let (tall, _) = muon.update(g.clone(), g.zeros_like());
        let (wide, _) = muon.update(g.clone().transpose(), g.zeros_like().transpose());
        let ratio = norm(tall) / norm(wide);
        assert!((ratio - 2.0).abs() < 1e-6, "ratio {ratio}");
    }
}
