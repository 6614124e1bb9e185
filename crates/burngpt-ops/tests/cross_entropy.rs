//! `cross_entropy`, one autodiff node whose gradient is computed in the forward pass, against the
//! f64 loss `mean(ln(sum(exp(x))) - x[target])` and central finite differences of it, on every
//! backend compiled in. [300, 257] (77,100 logits) takes ndarray's multi-threaded path, [7, 5]
//! the single-threaded one; a row of logits near 1e4 checks the shift by the row maximum.

mod common;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use burngpt_ops::{cross_entropy, FusedOps};
use common::host;

mod values_and_gradients {
    use super::*;
    backend_tests!(cross_entropy_against_f64);
}

/// The mean loss of `x` (`[rows, vocab]`, row-major) against `targets`, in f64.
fn host_loss(x: &[f64], targets: &[usize], vocab: usize) -> f64 {
    let rows = targets.len();
    let total: f64 = (0..rows)
        .map(|r| {
            let row = &x[r * vocab..(r + 1) * vocab];
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln() - row[targets[r]]
        })
        .sum();
    total / rows as f64
}

/// Loss and gradient of `3 * cross_entropy(x)` (the factor checks that the backward pass scales
/// the gradient computed in the forward pass by the loss's gradient).
fn cross_entropy_against_f64<A: AutodiffBackend + FusedOps>(backend: &str) {
    let dev = Default::default();
    for (rows, vocab, shift) in [(300, 257, 0.0), (7, 5, 0.0), (4, 6, 1.0e4)] {
        let x: Vec<f32> = host(rows * vocab, 0.5).iter().map(|v| v + shift).collect();
        let targets: Vec<usize> = (0..rows).map(|r| (r * 7 + 3) % vocab).collect();
        let what = format!("{backend} {rows}x{vocab} shift {shift}");
        let xt = Tensor::<A, 2>::from_data(TensorData::new(x.clone(), [rows, vocab]), &dev).require_grad();
        let tt = Tensor::<A, 1, Int>::from_data(
            TensorData::new(targets.iter().map(|&t| t as i64).collect::<Vec<_>>(), [rows]),
            &dev,
        );
        let loss = cross_entropy(xt.clone(), tt);
        let got: f32 = loss.clone().into_scalar().elem();
        let grads = loss.mul_scalar(3.0).backward();
        let grad: Vec<f32> = xt.grad(&grads).expect("logits have a gradient").into_data().to_vec().expect("f32");

        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let want = host_loss(&x64, &targets, vocab);
        // float32 logits of magnitude |shift| + 3 carry rounding errors of 6e-8 of that size
        let tol = 1e-6 * (1.0 + want.abs()) + 1.2e-7 * (shift as f64 + 3.0);
        assert!((got as f64 - want).abs() <= tol, "{what} loss {got} vs f64 {want}");
        // The gradient against central differences of the f64 loss, on a sample of entries
        // (every entry for the small shapes). The gradient is of order 3 / rows; float32 softmax
        // errs by ~1e-6 of that, and the step 1e-3 adds h^2 / 6 * |f'''| < 1e-7 of it.
        let h = 1e-3;
        for i in (0..x.len()).step_by(if x.len() > 100 { 37 } else { 1 }) {
            let mut up = x64.clone();
            up[i] += h;
            let mut down = x64.clone();
            down[i] -= h;
            let fd = 3.0 * (host_loss(&up, &targets, vocab) - host_loss(&down, &targets, vocab)) / (2.0 * h);
            assert!((grad[i] as f64 - fd).abs() <= 1e-5 * 3.0 / rows as f64, "{what} gradient [{i}]: {} vs {fd}", grad[i]);
        }
    }
}
