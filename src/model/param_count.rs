//! [`GptConfig::param_count`]: the parameters of an architecture, counted without building it.

use super::config::GptConfig;
use super::mlp::MlpKind;
use super::norm::NormKind;
use super::positions::PositionKind;

impl GptConfig {
    /// Parameters of this architecture with a vocabulary of `vocab_size`, counted as
    /// [`GptConfig::init`] would build them, without building anything (the memory check's
    /// input); saturates at `u128::MAX` instead of overflowing.
    pub fn param_count(&self, vocab_size: usize) -> u128 {
        let [v, t, d, f, l] = [vocab_size, self.block_size, self.d_model, self.d_ff, self.n_layers].map(|x| x as u128);
        let mul = |a: u128, b: u128| a.saturating_mul(b);
        let add = |terms: &[u128]| terms.iter().fold(0u128, |a, &x| a.saturating_add(x));
        let has_beta = self.norm == NormKind::Layer && self.layer_norm_bias;
        let norm = match (self.norm_affine, has_beta) {
            (false, _) => 0,
            (true, false) => d,
            (true, true) => mul(2, d),
        };
        // c_attn's output: n_heads query heads and n_kv_heads key and value heads of head_dim.
        let head_dim = (self.d_model / self.n_heads.max(1)) as u128;
        let d_qkv = mul(add(&[self.n_heads as u128, mul(2, self.kv_heads() as u128)]), head_dim);
        let d_fc = if self.mlp == MlpKind::Swiglu { mul(2, f) } else { f };
        // ln_1 and ln_2, c_attn d x d_qkv, attn.c_proj d x d, c_fc d x d_fc, mlp.c_proj f x d, and
        // the biases of those four: d_qkv + d + d_fc + d.
        let biases = if self.bias { add(&[d_qkv, mul(2, d), d_fc]) } else { 0 };
        let block = add(&[mul(2, norm), mul(d, d_qkv), mul(d, d), mul(d, d_fc), mul(f, d), biases]);
        let wpe = if self.positions == PositionKind::Learned { mul(t, d) } else { 0 };
        let lm_head = if self.tie_embeddings { 0 } else { mul(d, v) };
        add(&[mul(v, d), wpe, mul(l, block), norm, lm_head])
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Module;

    use super::*;

    /// The count against the model itself, for each variant that changes it.
    #[test]
    fn param_count_matches_the_built_model() {
        let base: GptConfig = toml::from_str(super::super::config::TEST_SECTION).expect("a [model] section");
        for (bias, layer_norm_bias, tie_embeddings, positions) in [
            (true, true, true, PositionKind::Learned),
            (false, false, false, PositionKind::Sinusoidal),
            (false, true, true, PositionKind::Sinusoidal),
            (true, false, false, PositionKind::Learned),
        ] {
            let config = GptConfig { vocab_size: Some(11), bias, layer_norm_bias, tie_embeddings, positions, ..base.clone() };
            let built = config.init::<burn::backend::NdArray<f32>>(&Default::default()).num_params() as u128;
            assert_eq!(config.param_count(11), built, "{config:?}");
        }
        // The modern components: norms with and without parameters (an RMSNorm never has beta),
        // grouped-query attention's smaller c_attn, SwiGLU's 2 d_ff-wide c_fc, with and without biases.
        for (norm, norm_affine, mlp, n_kv_heads, bias) in [
            (NormKind::Rms, true, MlpKind::Swiglu, Some(2), false),
            (NormKind::Rms, false, MlpKind::Relu2, Some(1), true),
            (NormKind::Layer, false, MlpKind::Swiglu, None, true),
            (NormKind::Rms, true, MlpKind::Gelu, Some(4), true),
        ] {
            let config = GptConfig {
                vocab_size: Some(11),
                positions: PositionKind::Rope,
                qk_norm: true,
                logit_softcap: 15.0,
                zero_init_proj: true,
                norm,
                norm_affine,
                mlp,
                n_kv_heads,
                bias,
                ..base.clone()
            };
            let built = config.init::<burn::backend::NdArray<f32>>(&Default::default()).num_params() as u128;
            assert_eq!(config.param_count(11), built, "{config:?}");
        }
        // By hand, d 128, 4 heads of 32, f 512, 4 layers, vocab 11, tied, no biases, rms with
        // gamma, n_kv_heads 1, swiglu: per layer 2 * 128 + 128 * (4 + 2) * 32 + 128^2
        // + 128 * 1024 + 512 * 128 = 256 + 24,576 + 16,384 + 131,072 + 65,536 = 237,824;
        // 11 * 128 + 4 * 237,824 + 128 = 952,832.
        let llama = GptConfig {
            norm: NormKind::Rms,
            mlp: MlpKind::Swiglu,
            n_kv_heads: Some(1),
            positions: PositionKind::Rope,
            ..base.clone()
        };
        assert_eq!(llama.param_count(11), 952_832);
        // GPT-2 small with nanoGPT's padded vocabulary: 124,475,904 (bench's count of the built model).
        let gpt2 = GptConfig { block_size: 1024, d_model: 768, n_layers: 12, n_heads: 12, d_ff: 3072, bias: true, ..base };
        assert_eq!(gpt2.param_count(50304), 124_475_904);
        assert_eq!(GptConfig { d_model: usize::MAX, ..gpt2 }.param_count(2), u128::MAX, "3 d^2 is over 2^128");
    }
}
