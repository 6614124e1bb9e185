//! The TOML schema: plain serde structs, one per section, with `deny_unknown_fields`.
//!
//! Layers merge in a fixed order: the file, then `--set key.path=value` overrides. The
//! result is checked by [`Config::validate`], whose errors name the offending key.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::model::{GeluKind, GptConfig, PositionKind};
use crate::overrides::apply_override;

mod validate;

/// A whole run configuration, as written in a TOML file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[model]`: the architecture.
    pub model: ModelSection,
    /// `[data]`: the corpus and its tokenizer.
    pub data: DataSection,
    /// `[optimizer]`: AdamW and gradient clipping.
    pub optimizer: OptimizerSection,
    /// `[schedule]`: linear warmup then cosine decay.
    pub schedule: ScheduleSection,
    /// `[training]`: batches, steps, logging and evaluation.
    pub training: TrainingSection,
}

/// `[model]`: the GPT architecture.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Longest context the model sees (tokens).
    pub block_size: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of transformer blocks.
    pub n_layers: usize,
    /// Attention heads per block; must divide `d_model`.
    pub n_heads: usize,
    /// Hidden width of the MLP (GPT-2 uses `4 * d_model`).
    pub d_ff: usize,
    /// Dropout probability on attention weights and residual branches.
    pub dropout: f64,
    /// Biases in every Linear layer.
    pub bias: bool,
    /// Tie the output projection to the token embedding.
    pub tie_embeddings: bool,
    /// `"learned"` (GPT-2) or `"sinusoidal"` (parameter-free) positions.
    pub positions: PositionKind,
    /// `"exact"` (erf) or `"tanh"` (GPT-2's approximation) GELU.
    pub gelu: GeluKind,
    /// Epsilon of every LayerNorm.
    pub layer_norm_eps: f64,
    /// A bias in every LayerNorm (default true; nanoGPT's `bias = False` has none).
    #[serde(default = "yes")]
    pub layer_norm_bias: bool,
    /// A Hugging Face GPT-2 directory to start from (finetuning): its `config.json` fills
    /// the architecture keys above, its `model.safetensors` the initial weights, and its
    /// tokenizer becomes the run's (unless `data.tokenizer_file` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
}

impl ModelSection {
    /// The `[model]` section of an architecture (no `init_from`).
    pub fn from_gpt_config(g: &GptConfig) -> Self {
        Self {
            block_size: g.block_size,
            d_model: g.d_model,
            n_layers: g.n_layers,
            n_heads: g.n_heads,
            d_ff: g.d_ff,
            dropout: g.dropout,
            bias: g.bias,
            tie_embeddings: g.tie_embeddings,
            positions: g.positions,
            gelu: g.gelu,
            layer_norm_eps: g.layer_norm_eps,
            layer_norm_bias: g.layer_norm_bias,
            init_from: None,
        }
    }
}

/// `[data]`: where the text is and how it is tokenized.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// A text file, a directory of `.txt` files, or a directory made by `burngpt prepare`
    /// (relative paths are relative to the working directory).
    pub path: PathBuf,
    /// `"char"` (one token per character) or `"bpe"` (byte-level BPE).
    pub tokenizer: TokenizerKind,
    /// Vocabulary size the BPE tokenizer is trained to (bpe only). The model's vocabulary
    /// is always the tokenizer's.
    pub vocab_size: Option<usize>,
    /// Fraction of the corpus used for training; the rest is the validation split.
    pub train_fraction: f64,
    /// An existing BPE tokenizer to use instead of training one: a Hugging Face
    /// `tokenizer.json`, or a directory holding one (or `vocab.json` + `merges.txt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_file: Option<PathBuf>,
}

/// Which tokenizer turns text into ids.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    /// One token per distinct character of the corpus.
    Char,
    /// Byte-level BPE trained on the training split.
    Bpe,
}

impl TokenizerKind {
    /// The name used in configs: `"char"` or `"bpe"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Char => "char",
            Self::Bpe => "bpe",
        }
    }
}

/// `[optimizer]`: AdamW and clipping.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSection {
    /// Peak learning rate (reached at the end of warmup).
    pub lr: f64,
    /// AdamW first-moment decay.
    pub beta1: f64,
    /// AdamW second-moment decay.
    pub beta2: f64,
    /// AdamW epsilon, added to `sqrt(v_hat)`.
    pub eps: f64,
    /// Decoupled weight decay coefficient.
    pub weight_decay: f64,
    /// `false` (GPT-2 practice): decay matrices and embeddings only, not biases or LayerNorm.
    /// `true`: decay every parameter, as the spec's reference code does.
    pub decay_all: bool,
    /// Global gradient-norm clipping threshold; `0` disables clipping.
    pub grad_clip: f64,
}

/// `[schedule]`: linear warmup to `optimizer.lr`, then cosine decay to `min_lr`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    /// Steps of linear warmup from 0 to `optimizer.lr`.
    pub warmup_steps: usize,
    /// Learning rate at the end of the cosine (and after it).
    pub min_lr: f64,
}

/// `[training]`: the loop.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainingSection {
    /// Sequences per batch.
    pub batch_size: usize,
    /// Passes over the training split (non-overlapping windows, shuffled per epoch).
    /// Exactly one of `epochs` and `max_steps` is set.
    pub epochs: Option<usize>,
    /// Optimizer steps of random windows (nanoGPT style).
    pub max_steps: Option<usize>,
    /// Micro-batches of `batch_size` whose gradients are summed into one step.
    pub grad_accum_steps: usize,
    /// Print a log line every this many steps.
    pub log_every: usize,
    /// Evaluate on the validation split every this many steps (and at the end).
    pub eval_every: usize,
    /// Batches averaged for each validation loss.
    pub eval_batches: usize,
    /// Save a checkpoint every this many steps (and at the end, and on Ctrl-C).
    pub checkpoint_every: usize,
    /// Checkpoints kept besides the best one.
    pub keep_last: usize,
    /// Seed of every RNG: initialisation, batching, dropout.
    pub seed: u64,
    /// Directory under which the run directory `<out_dir>/<run_name>` is created.
    pub out_dir: PathBuf,
    /// Name of the run directory; defaults to the config file's stem.
    pub run_name: Option<String>,
}

impl Config {
    /// Reads `path`, applies `overrides` (`key.path=value`), parses and validates.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{}: not valid TOML", path.display()))?;
        for item in overrides {
            apply_override(&mut table, item)
                .with_context(|| format!("bad override --set {item}"))?;
        }
        crate::hf::resolve_init_from(&mut table, path)?;
        let mut config: Config = serde_path_to_error::deserialize(table).map_err(|e| {
            anyhow::anyhow!("{}: key `{}`: {}", path.display(), e.path(), e.inner().message())
        })?;
        if config.training.run_name.is_none() {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            config.training.run_name = Some(stem.unwrap_or_else(|| "run".to_string()));
        }
        config
            .validate()
            .with_context(|| format!("{}: invalid configuration", path.display()))?;
        Ok(config)
    }

    /// The model architecture for a tokenizer of `vocab_size` ids.
    pub fn gpt_config(&self, vocab_size: usize) -> GptConfig {
        let m = &self.model;
        GptConfig {
            vocab_size,
            block_size: m.block_size,
            d_model: m.d_model,
            n_layers: m.n_layers,
            n_heads: m.n_heads,
            d_ff: m.d_ff,
            dropout: m.dropout,
            bias: m.bias,
            tie_embeddings: m.tie_embeddings,
            positions: m.positions,
            gelu: m.gelu,
            layer_norm_eps: m.layer_norm_eps,
            layer_norm_bias: m.layer_norm_bias,
        }
    }

    /// The run directory `<out_dir>/<run_name>`.
    pub fn run_dir(&self) -> PathBuf {
        let name = self.training.run_name.as_deref().unwrap_or("run");
        self.training.out_dir.join(name)
    }
}

fn yes() -> bool {
    true
}
