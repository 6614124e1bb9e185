//! Cross-entropy over the vocabulary with its gradient written over the logits (llm.c's fused
//! classifier).
//!
//! The composed loss, `log_softmax(logits).gather(targets).mean().neg()`, writes the
//! log-probabilities (a second `[rows, vocab]` tensor, kept for the backward pass), and its
//! backward writes a zero tensor with the scattered targets, then `g - exp(y) * sum(g)`: three or
//! four vocabulary-wide tensors alive at once, each pass a trip through memory. Here each row is
//! read for its maximum, overwritten with `exp(x - max)` (summed on the way), then scaled to
//! `(softmax - one_hot) / rows`: the loss's gradient, known in the forward pass because the loss
//! is the last operation. The logits' own memory holds it (copied first only when another tensor
//! shares it), so the vocabulary-wide tensor exists once; the backward pass multiplies it by the
//! loss's gradient in place. Rows are independent and split across threads.

use burn::tensor::ElementConversion;
use burn_ndarray::{FloatNdArrayElement, NdArrayTensor, SharedArray};
use rayon::prelude::*;

use super::elementwise::PAR_MIN;
use super::fast_math::FastMath;
use super::softmax::sum8;

/// The targets as indices, when they are an integer tensor of one dimension (the only layout the
/// model produces); `None` sends the caller to the default implementation. A negative target
/// becomes `usize::MAX`, which [`cross_entropy`] reports as outside the vocabulary.
pub(crate) fn indices(targets: &NdArrayTensor) -> Option<Vec<usize>> {
    fn collect<T: Copy + TryInto<usize>>(a: ndarray::ArcArray<T, ndarray::IxDyn>) -> Option<Vec<usize>> {
        (a.ndim() == 1).then(|| a.iter().map(|&t| t.try_into().unwrap_or(usize::MAX)).collect())
    }
    match targets.clone() {
        NdArrayTensor::I64(t) => collect(t.into_shared()),
        NdArrayTensor::I32(t) => collect(t.into_shared()),
        NdArrayTensor::U32(t) => collect(t.into_shared()),
        NdArrayTensor::U64(t) => collect(t.into_shared()),
        _ => None,
    }
}

/// Mean cross-entropy of the rows of `logits` against `targets` (`[1]`) and, when `with_grad`,
/// `(softmax(logits) - one_hot(targets)) / rows` in the logits' memory.
///
/// # Shapes
/// `logits: [rows, vocab]`, `targets: rows` indices -> (`[1]`, `[rows, vocab]`)
pub(crate) fn cross_entropy<E: FloatNdArrayElement + FastMath>(
    logits: SharedArray<E>,
    targets: &[usize],
    with_grad: bool,
) -> (SharedArray<E>, Option<SharedArray<E>>) {
    let shape = logits.shape().to_vec();
    let [rows, vocab] = shape[..] else { panic!("cross_entropy: logits must be [rows, vocab], not {shape:?}") };
    assert!(targets.len() == rows, "cross_entropy: {} targets for {rows} rows of logits", targets.len());
    if let Some(bad) = targets.iter().find(|&&t| t >= vocab) {
        panic!("cross_entropy: target {bad} is outside the vocabulary of {vocab} tokens");
    }
    let mut logits = if logits.is_standard_layout() { logits } else { logits.as_standard_layout().into_owned().into_shared() };
    let min_rows = (PAR_MIN / vocab.max(1)).max(1);
    let mut losses = vec![0.0f64; rows];
    if with_grad {
        let inv_rows: E = (1.0 / rows as f64).elem();
        // `as_slice_mut` copies the data first if another array shares it.
        let Some(data) = logits.as_slice_mut() else { unreachable!("standard-layout arrays are contiguous") };
        data.par_chunks_mut(vocab).zip(losses.par_iter_mut()).zip(targets.par_iter()).with_min_len(min_rows).for_each(
            |((row, loss), &t)| {
                let target_logit = row[t];
                let max = row_max(row);
                for x in row.iter_mut() {
                    *x = (*x - max).exp_fast();
                }
                let sum = sum8(row);
                *loss = (sum.log_elem() + max - target_logit).elem();
                let scale = inv_rows / sum;
                for x in row.iter_mut() {
                    *x = *x * scale;
                }
                row[t] = row[t] - inv_rows;
            },
        );
    } else {
        let Some(data) = logits.as_slice() else { unreachable!("standard-layout arrays are contiguous") };
        data.par_chunks(vocab).zip(losses.par_iter_mut()).zip(targets.par_iter()).with_min_len(min_rows).for_each(
            |((row, loss), &t)| {
                let max = row_max(row);
                let sum = exp_sum(row, max);
                *loss = (sum.log_elem() + max - row[t]).elem();
            },
        );
    }
    let mean: E = (losses.iter().sum::<f64>() / rows as f64).elem();
    let loss = ndarray::ArrayD::from_elem(ndarray::IxDyn(&[1]), mean).into_shared();
    (loss, with_grad.then_some(logits))
}

/// `dlogits * grad` with `grad` of one element, in `dlogits`' memory when nothing shares it.
pub(crate) fn scale_by<E: FloatNdArrayElement>(mut dlogits: SharedArray<E>, grad: &SharedArray<E>) -> SharedArray<E> {
    let Some(&g) = grad.iter().next() else { panic!("cross_entropy backward: the loss's gradient is empty") };
    if g != E::one() {
        dlogits.par_mapv_inplace(|x| x * g);
    }
    dlogits
}

fn row_max<E: FloatNdArrayElement>(row: &[E]) -> E {
    row.iter().skip(1).fold(row[0], |m, &v| if v > m { v } else { m })
}

/// `sum(exp(x - max))` in eight interleaved partial sums, as [`sum8`] over the exponentials.
fn exp_sum<E: FloatNdArrayElement + FastMath>(row: &[E], max: E) -> E {
    let mut acc = [E::zero(); 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(E::zero(), |s, &v| s + (v - max).exp_fast());
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += (v - max).exp_fast();
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradient is written over the logits: the vocabulary-wide tensor exists once. Values:
    /// logits [0, ln 3] against target 1, softmax [1/4, 3/4], loss ln(4/3), gradient [1/4, -1/4].
    #[test]
    fn the_gradient_takes_the_logits_memory() {
        let logits = ndarray::arr2(&[[0.0f32, 3f32.ln()]]).into_shared().into_dyn();
        let address = logits.as_ptr();
        let (loss, grad) = cross_entropy(logits, &[1], true);
        let grad = grad.expect("asked for the gradient");
        assert_eq!(grad.as_ptr(), address, "the gradient was written to a new buffer");
        assert!((loss[[0]] - (4f32 / 3.0).ln()).abs() < 1e-6, "loss {}", loss[[0]]);
        assert!((grad[[0, 0]] - 0.25).abs() < 1e-6 && (grad[[0, 1]] + 0.25).abs() < 1e-6, "gradient {grad:?}");
    }

    /// Logits that another array shares are copied, not overwritten.
    #[test]
    fn shared_logits_are_left_intact() {
        let logits = ndarray::arr2(&[[1.0f32, 2.0, 3.0]]).into_shared().into_dyn();
        let kept = logits.clone();
        let (_, grad) = cross_entropy(logits, &[0], true);
        assert_eq!(kept.iter().copied().collect::<Vec<_>>(), vec![1.0, 2.0, 3.0]);
        assert_ne!(grad.expect("asked for the gradient").as_ptr(), kept.as_ptr());
    }
}
