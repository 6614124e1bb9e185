//! Which normalisation the model's norms use (`model.norm`).

use serde::{Deserialize, Serialize};

/// `model.norm`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    /// LayerNorm: `(x - mean) / sqrt(var + eps) * gamma + beta` (GPT-2).
    #[default]
    Layer,
    /// RMSNorm: `x / sqrt(mean(x^2) + eps) * gamma` (Llama).
    Rms,
}
