//! Which optimizer, and which peak learning rate, each parameter gets under
//! `optimizer.kind = "muon"` (modded-nanogpt's and nanochat's split): Muon for the matrices inside
//! the blocks, AdamW for the rest.

use super::optim::OptimizerConfig;

/// A parameter group of the Muon run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamGroup {
    /// A matrix inside a block (`h.N.*`, rank 2): Muon at `optimizer.muon_lr`.
    Hidden,
    /// The token and position embeddings (`wte`, `wpe`): AdamW at `optimizer.embedding_lr`.
    Embedding,
    /// The untied output projection (`lm_head`): AdamW at `optimizer.head_lr`.
    Head,
    /// Norms and biases (rank 1) anywhere, and anything else: AdamW at `optimizer.lr`.
    Other,
}

impl ParamGroup {
    /// The group of the parameter at dotted `path` (as [`crate::model::named_params`] names it,
    /// e.g. `h.0.attn.c_attn.weight`) with `rank` dimensions.
    pub fn of(path: &str, rank: usize) -> Self {
        let mut parts = path.split('.');
        let first = parts.next().unwrap_or_default();
        let in_block = first == "h" && parts.next().is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match first {
            _ if in_block && rank == 2 => Self::Hidden,
            "wte" | "wpe" => Self::Embedding,
            "lm_head" => Self::Head,
            _ => Self::Other,
        }
    }

    /// Whether Muon updates this group (AdamW the others).
    pub fn is_muon(self) -> bool {
        self == Self::Hidden
    }

    /// The group's peak learning rate in `settings`.
    pub fn peak_lr(self, settings: &OptimizerConfig) -> f64 {
        match self {
            Self::Hidden => settings.muon_lr,
            Self::Embedding => settings.embedding_lr.unwrap_or(settings.lr),
            Self::Head => settings.head_lr.unwrap_or(settings.lr),
            Self::Other => settings.lr,
        }
    }
}

/// Each group's learning rate at one step: its peak times the schedule's fraction of
/// `optimizer.lr`, `group_peak * lr_at(step) / optimizer.lr` (so the warmup, the decay and
/// `min_lr` scale every group alike).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupRates {
    /// `group_peak / optimizer.lr` for Hidden, Embedding, Head (Other's is 1).
    ratios: [f64; 3],
}

impl GroupRates {
    /// The ratios of `settings`' group peaks to its `lr`.
    pub fn new(settings: &OptimizerConfig) -> Self {
        let ratio = |g: ParamGroup| g.peak_lr(settings) / settings.lr;
        Self { ratios: [ratio(ParamGroup::Hidden), ratio(ParamGroup::Embedding), ratio(ParamGroup::Head)] }
    }

    /// The learning rate of `group` when the schedule gives `lr` (the `Other` group's, exactly).
    pub fn lr(&self, group: ParamGroup, lr: f64) -> f64 {
        match group {
            ParamGroup::Hidden => lr * self.ratios[0],
            ParamGroup::Embedding => lr * self.ratios[1],
            ParamGroup::Head => lr * self.ratios[2],
            ParamGroup::Other => lr,
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::NdArray;

    use super::ParamGroup;
    use crate::model::{named_params, GptConfig};

    /// tiny.toml's model untied and with biases: Muon gets exactly the four matrices of each
    /// block (c_attn, attn.c_proj, c_fc, mlp.c_proj); the embeddings, the head, the LayerNorms
    /// and every bias go to AdamW.
    #[test]
    fn muon_gets_the_matrices_inside_the_blocks() {
        let tiny = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/tiny.toml");
        let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(tiny).expect("tiny.toml")).expect("toml");
        let mut gpt: GptConfig = table.remove("model").expect("[model]").try_into().expect("[model] parses");
        gpt.tie_embeddings = false;
        let model = gpt.with_vocab_size(65).expect("vocab").init::<NdArray<f32>>(&Default::default());
        let mut hidden = Vec::new();
        for p in named_params::<NdArray<f32>, _>(&model) {
            let group = ParamGroup::of(&p.name, p.shape.len());
            match group {
                ParamGroup::Hidden => hidden.push(p.name.clone()),
                ParamGroup::Embedding => assert!(p.name.starts_with("wte.") || p.name.starts_with("wpe."), "{}", p.name),
                ParamGroup::Head => assert!(p.name.starts_with("lm_head."), "{}", p.name),
                ParamGroup::Other => assert_eq!(p.shape.len(), 1, "{} is a norm or a bias", p.name),
            }
        }
        let expected: Vec<String> = (0..2)
            .flat_map(|n| ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"].map(|m| format!("h.{n}.{m}.weight")))
            .collect();
        assert_eq!(hidden, expected);
        assert_eq!(ParamGroup::of("lm_head.weight", 2), ParamGroup::Head);
        assert_eq!(ParamGroup::of("wpe.weight", 2), ParamGroup::Embedding);
        assert_eq!(ParamGroup::of("h.1.ln_1.gamma", 1), ParamGroup::Other);
        assert_eq!(ParamGroup::of("h.1.attn.c_attn.bias", 1), ParamGroup::Other);
        assert_eq!(ParamGroup::of("ln_f.gamma", 1), ParamGroup::Other);
        // Only `h.<index>.` is a block.
        assert_eq!(ParamGroup::of("hx.0.w", 2), ParamGroup::Other);
        assert_eq!(ParamGroup::of("h.x.w", 2), ParamGroup::Other);
    }
}
