//! Helpers for the unit tests.

use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// A module of two parameters, 1-D and 2-D: for tests of what visits a module's gradients.
#[derive(Module, Debug)]
pub struct TwoParams<B: Backend> {
    /// The 1-D parameter.
    pub g1: Param<Tensor<B, 1>>,
    /// The 2-D parameter.
    pub g2: Param<Tensor<B, 2>>,
}

/// Asserts `|a - b| <= tol * max(1, |b|)` element-wise, with a message naming `what`.
pub fn assert_close(what: &str, actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tol * e.abs().max(1.0), "{what}[{i}]: got {a}, expected {e} (tol {tol})");
    }
}

/// A tensor's values as f64.
pub fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}
