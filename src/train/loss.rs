//! Cross-entropy for causal language modelling.

use burn::tensor::{Int, Tensor};
use burngpt_ops::FusedOps;

/// Mean cross-entropy of next-token predictions over every position of the batch:
/// `mean(log(sum(exp(logits))) - logits[target])`.
///
/// The row maximum is subtracted before exponentiating (log-sum-exp), so logits of any
/// magnitude give finite losses. One fused operation ([`burngpt_ops::cross_entropy`]) computes the
/// loss and, when training, its gradient `(softmax - one_hot) / (batch * seq_len)` in the same
/// pass, in the logits' own memory on the CPU backend: the `[batch * seq_len, vocab_size]` tensor
/// exists once (824 MB for GPT-2's vocabulary at batch 4, block 1024).
///
/// # Shapes
/// `logits: [batch, seq_len, vocab_size]`, `targets: [batch, seq_len]` -> `[1]`
pub fn cross_entropy<B: FusedOps>(logits: Tensor<B, 3>, targets: Tensor<B, 2, Int>) -> Tensor<B, 1> {
    let [batch, seq_len, vocab_size] = logits.dims();
    let n = batch * seq_len;
    burngpt_ops::cross_entropy(logits.reshape([n, vocab_size]), targets.reshape([n]))
}

/// The worked examples of docs/numeric-reference.md (float32 tolerance, about 1e-5 relative).
#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, NdArray};
    use burn::tensor::{Int, Tensor, TensorData};

    use super::cross_entropy;
    use crate::test_util::{assert_close, values};

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

    /// The fused loss against the composition it replaced, `-mean(log_softmax(logits)[target])`
    /// (log-softmax and gather, each its own autodiff node), on a GPT-sized row: values and
    /// gradients through autodiff, with the loss scaled by 1/2 as gradient accumulation does.
    #[test]
    fn fused_loss_equals_log_softmax_and_gather() {
        let (batch, seq, vocab) = (2, 5, 50304);
        let host: Vec<f32> = (0..batch * seq * vocab).map(|i| ((i as f32) * 0.377).sin() * 4.0).collect();
        let ids: Vec<i64> = (0..batch * seq).map(|i| (i as i64 * 7919) % vocab as i64).collect();
        let composed = |x: Tensor<AB, 3>, t: Tensor<AB, 2, Int>| {
            burngpt_ops::log_softmax(x.reshape([batch * seq, vocab]), 1).gather(1, t.reshape([batch * seq, 1])).mean().neg()
        };
        let mut results = Vec::new();
        for fused in [true, false] {
            let x = logits::<AB>(host.clone(), [batch, seq, vocab]).require_grad();
            let t = targets::<AB>(ids.clone(), [batch, seq]);
            let loss = if fused { cross_entropy(x.clone(), t) } else { composed(x.clone(), t) };
            let grads = loss.clone().div_scalar(2.0).backward();
            results.push((values(loss.inner()), values(x.grad(&grads).expect("logits receive a gradient"))));
        }
        let ((loss, grad), (want_loss, want_grad)) = (&results[0], &results[1]);
        assert_close("loss", loss, want_loss, 1e-6);
        // The composed gradient is exp(y) * ... with y = log p ~ -12: float32 rounds y by up to
        // 12 * 6e-8 = 7e-7, which exp carries as a relative error; a few of those (4e-6) bound it.
        for (i, (a, b)) in grad.iter().zip(want_grad).enumerate() {
            assert!((a - b).abs() <= 4e-6 * b.abs() + 1e-13, "gradient [{i}]: {a:e} vs {b:e}");
        }
        assert!(grad.iter().zip(want_grad).filter(|(a, _)| **a < 0.0).count() == batch * seq, "one negative entry (the target) per row");
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
}
