//! Cross-entropy for causal language modelling.

use burn::tensor::{Int, Tensor};
use burngpt_ops::{log_softmax, FusedOps};

/// Mean cross-entropy of next-token predictions over every position of the batch.
///
/// `log_softmax` subtracts the row maximum before exponentiating (log-sum-exp), so
/// logits of any magnitude give finite losses; the gradient w.r.t. the logits is
/// `(softmax - one_hot) / (batch * seq_len)`.
///
/// # Shapes
/// `logits: [batch, seq_len, vocab_size]`, `targets: [batch, seq_len]` -> `[1]`
pub fn cross_entropy<B: FusedOps>(logits: Tensor<B, 3>, targets: Tensor<B, 2, Int>) -> Tensor<B, 1> {
    let [batch, seq_len, vocab_size] = logits.dims();
    let n = batch * seq_len;
    let log_probs = log_softmax(logits.reshape([n, vocab_size]), 1); // [n, vocab_size]
    log_probs
        .gather(1, targets.reshape([n, 1])) // [n, 1]: log p(target)
        .mean()
        .neg()
}
