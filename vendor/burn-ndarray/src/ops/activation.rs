use crate::{
    NdArray, NdArrayTensor, SharedArray,
    element::{FloatNdArrayElement, IntNdArrayElement, QuantElement},
    execute_with_float_dtype, execute_with_numeric_dtype,
    ops::{NdArrayMathOps, gelu, softmax},
};
use burn_backend::{ElementConversion, TensorMetadata, ops::ActivationOps, tensor::FloatTensor};

impl<E: FloatNdArrayElement, I: IntNdArrayElement, Q: QuantElement> ActivationOps<Self>
    for NdArray<E, I, Q>
where
    NdArrayTensor: From<SharedArray<E>>,
    NdArrayTensor: From<SharedArray<I>>,
{
    fn relu(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        execute_with_numeric_dtype!(tensor, |array| NdArrayMathOps::clamp_min(array, 0.elem()))
    }

    // burngpt patch: one pass (ops/gelu.rs) instead of the trait's five-op default.
    fn gelu(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        execute_with_float_dtype!(tensor, |array| gelu::gelu(array))
    }

    // burngpt patch: the exact derivative in one pass (ops/gelu.rs).
    fn gelu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        execute_with_float_dtype!((x, grad), |x, grad| gelu::gelu_backward(x, grad))
    }

    // burngpt patch: one pass per lane instead of the trait's five-op default (ops/softmax.rs).
    fn softmax(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        execute_with_float_dtype!(tensor, |array| softmax::softmax(array, dim))
    }

    // burngpt patch: as `softmax`.
    fn log_softmax(tensor: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        execute_with_float_dtype!(tensor, |array| softmax::log_softmax(array, dim))
    }

    // burngpt patch: `g - exp(y) * sum(g)` in one pass per lane (ops/softmax.rs).
    fn log_softmax_backward(output: FloatTensor<Self>, grad: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        execute_with_float_dtype!((output, grad), |y, g| softmax::log_softmax_backward(y, g, dim))
    }
}
