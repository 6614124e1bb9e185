//! The GPT language model: embeddings, a stack of blocks, a final norm and the LM head.

use burn::module::Module;
use burn::nn::{Dropout, Embedding, Linear};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use burngpt_ops::FusedOps;

use super::attention::LayerCache;
use super::block::Block;
use super::precision::{linear_3d, matmul, Precision};
use super::norm::Norm;

/// A decoder-only transformer with GPT-2's parameter names.
#[derive(Module, Debug)]
pub struct Gpt<B: Backend> {
    /// Token embedding, `[vocab_size, d_model]`.
    pub wte: Embedding<B>,
    /// Learned position embedding, `[block_size, d_model]` (absent for sinusoidal and rotary
    /// positions; rotary tables live in each block's attention).
    pub wpe: Option<Embedding<B>>,
    /// Fixed sinusoidal table, `[block_size, d_model]`: not a parameter, not saved.
    pub sinusoid: Option<Tensor<B, 2>>,
    /// The transformer blocks.
    pub h: Vec<Block<B>>,
    /// Final norm.
    pub ln_f: Norm<B>,
    /// Output projection `[d_model, vocab_size]` (absent when tied to `wte`).
    pub lm_head: Option<Linear<B>>,
    pub(super) drop: Dropout,
    pub(super) block_size: usize,
    /// `cap * tanh(logits / cap)` on the logits when > 0 (`model.logit_softcap`).
    pub(super) logit_softcap: f64,
    /// What the matrix products read (not saved: [`Gpt::with_precision`]).
    pub(super) precision: Precision,
}

/// Keys and values of every layer for the positions seen so far (incremental decoding).
#[derive(Debug, Clone, Default)]
pub struct KvCache<B: Backend> {
    layers: Vec<LayerCache<B>>,
    len: usize,
}

impl<B: Backend> KvCache<B> {
    /// An empty cache.
    pub fn new() -> Self {
        Self { layers: Vec::new(), len: 0 }
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no position is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<B: Backend> Gpt<B> {
    /// The model with its matrix products in `precision` (`training.precision`). Not part of the
    /// record: a loaded model computes in float32 until asked.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        for block in &mut self.h {
            block.attn.precision = precision;
            block.mlp.precision = precision;
        }
        self
    }

    /// What the matrix products read.
    pub fn precision(&self) -> Precision {
        self.precision
    }
}

impl<B: FusedOps> Gpt<B> {
    /// Next-token logits for every position.
    ///
    /// # Shapes
    /// `tokens: [batch, seq_len]` with `seq_len <= block_size` -> `[batch, seq_len, vocab_size]`
    pub fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [_, seq_len] = tokens.dims();
        assert!(
            seq_len <= self.block_size,
            "sequence of {seq_len} tokens exceeds block_size {}",
            self.block_size
        );
        let x = self.embed(tokens, 0); // [batch, seq_len, d_model]
        let x = self.h.iter().fold(x, |x, block| block.forward(x));
        self.head(self.ln_f.forward(x))
    }

    /// Token plus position embeddings for positions `start..start + seq_len`, with dropout.
    ///
    /// # Shapes
    /// `tokens: [batch, seq_len]` -> `[batch, seq_len, d_model]`
    fn embed(&self, tokens: Tensor<B, 2, Int>, start: usize) -> Tensor<B, 3> {
        let seq_len = tokens.dims()[1];
        let device = tokens.device();
        let x = self.wte.forward(tokens);
        let end = start + seq_len;
        let x = if let Some(wpe) = &self.wpe {
            let positions = Tensor::<B, 1, Int>::arange(start as i64..end as i64, &device);
            x + wpe.forward(positions.unsqueeze::<2>()) // + [1, seq_len, d_model]
        } else if let Some(table) = &self.sinusoid {
            // As in Vaswani et al., token embeddings are scaled by sqrt(d_model) before the
            // fixed encodings (amplitude 1) are added; unscaled, the 0.02-std embeddings
            // would be drowned by the positions and the model learns little context.
            let d_model = table.dims()[1];
            x.mul_scalar((d_model as f64).sqrt()) + table.clone().slice([start..end]).unsqueeze::<3>() // + [1, seq_len, d_model]
        } else {
            x
        };
        self.drop.forward(x)
    }

    /// The LM head: `x @ wte^T` when tied, else `lm_head(x)`; then the soft cap, if any.
    ///
    /// # Shapes
    /// `x: [batch, seq_len, d_model]` -> `[batch, seq_len, vocab_size]`
    fn head(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let logits = match &self.lm_head {
            Some(lm_head) => linear_3d(lm_head, x, self.precision),
            None => {
                let [batch, seq_len, d_model] = x.dims();
                let x = x.reshape([batch * seq_len, d_model]);
                let logits = matmul(x, self.wte.weight.val().transpose(), self.precision);
                logits.reshape([batch, seq_len, self.wte.weight.dims()[0]])
            }
        };
        if self.logit_softcap > 0.0 {
            burngpt_ops::softcap(logits, self.logit_softcap)
        } else {
            logits
        }
    }

    /// Logits for `tokens` that continue the positions held in `cache`, which is extended:
    /// each new token costs one position instead of the whole context.
    ///
    /// # Shapes
    /// `tokens: [batch, seq_new]`, with `cache.len() + seq_new <= block_size`
    /// -> `[batch, seq_new, vocab_size]`
    pub fn forward_cached(&self, tokens: Tensor<B, 2, Int>, cache: &mut KvCache<B>) -> Tensor<B, 3> {
        let seq_new = tokens.dims()[1];
        let start = cache.len;
        assert!(start + seq_new <= self.block_size, "KV cache past block_size: slide the window first");
        if cache.layers.len() != self.h.len() {
            cache.layers = vec![None; self.h.len()];
        }
        let x = self.embed(tokens, start);
        let x = self.h.iter().zip(cache.layers.iter_mut()).fold(x, |x, (block, layer)| block.forward_cached(x, layer));
        cache.len += seq_new;
        self.head(self.ln_f.forward(x))
    }
}

impl<B: Backend> Gpt<B> {
    /// Longest context the model accepts.
    pub fn block_size(&self) -> usize {
        self.block_size
    }
}
