//! [`RunConfig`], a whole run as its TOML file writes it, and loading it: the file, then
//! `--set key.path=value` overrides ([`super::overrides`]), then `model.init_from` (a Hugging
//! Face directory supplies the architecture), then [`RunConfig::validate`], whose errors name the
//! offending key. A run directory keeps its own copy (`config.toml`, [`RunConfig::save`]).
//!
//! Each section's type belongs to the layer it configures: `[model]` [`crate::model::GptConfig`],
//! `[data]` [`crate::data::DataConfig`], `[optimizer]` and `[schedule]` the step's
//! ([`crate::train`]), `[training]` the run's ([`TrainingConfig`]); this module only assembles them.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::overrides::apply_override;
use super::training::TrainingConfig;
use crate::data::DataConfig;
use crate::model::GptConfig;
use crate::run_dir::{write_atomic, RunDir};
use crate::train::{LearnerConfig, OptimizerConfig, ScheduleConfig};

/// A whole run, as written in its TOML file: each section is its layer's own config type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// `[model]`: the architecture.
    pub model: GptConfig,
    /// `[data]`: the corpus and its tokenizer.
    pub data: DataConfig,
    /// `[optimizer]`: AdamW (or Muon) and gradient clipping.
    pub optimizer: OptimizerConfig,
    /// `[schedule]`: linear warmup then cosine decay.
    pub schedule: ScheduleConfig,
    /// `[training]`: batches, steps, logging and evaluation.
    pub training: TrainingConfig,
}

impl RunConfig {
    /// Reads `path`, applies `overrides` (`key.path=value`), parses and validates.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut table: toml::Table = toml::from_str(&text).with_context(|| format!("{}: not valid TOML", path.display()))?;
        for item in overrides {
            apply_override(&mut table, item).with_context(|| format!("bad override --set {item}"))?;
        }
        crate::hf::resolve_init_from(&mut table, path)?;
        let mut config: RunConfig = serde_path_to_error::deserialize(table)
            .map_err(|e| anyhow::anyhow!("{}: key `{}`: {}", path.display(), e.path(), e.inner().message()))?;
        if config.training.run_name.is_none() {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            config.training.run_name = Some(stem.unwrap_or_else(|| "run".to_string()));
        }
        config.validate().with_context(|| format!("{}: invalid configuration", path.display()))?;
        Ok(config)
    }

    /// Rejects impossible values and a missing data file; every message names the key.
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        self.validate_settings()
    }

    /// [`RunConfig::validate`] without looking for `data.path`: what a resumed run checks (it
    /// reads its own prepared data, [`crate::data::run_data_dir`]).
    pub fn validate_settings(&self) -> Result<()> {
        self.model.validate()?;
        self.data.validate_settings()?;
        self.optimizer.validate()?;
        self.schedule.validate(self.optimizer.lr)?;
        self.training.validate()?;
        if let Some(max_steps) = self.training.max_steps {
            self.check_warmup(max_steps, &format!("training.max_steps = {max_steps}"))?;
        }
        Ok(())
    }

    /// `schedule.warmup_steps` must not exceed the run's total steps.
    pub fn check_warmup(&self, total_steps: usize, source: &str) -> Result<()> {
        if self.schedule.warmup_steps > total_steps {
            bail!(
                "schedule.warmup_steps = {} exceeds the total steps {total_steps} ({source})",
                self.schedule.warmup_steps
            );
        }
        Ok(())
    }

    /// The model architecture for a tokenizer of `vocab_size` ids; an error if the config
    /// wrote another `model.vocab_size`.
    pub fn gpt_config(&self, vocab_size: usize) -> Result<GptConfig> {
        self.model.with_vocab_size(vocab_size)
    }

    /// The learner's settings for a run of `total_steps` optimizer steps.
    pub fn learner_config(&self, total_steps: usize) -> LearnerConfig {
        LearnerConfig { optimizer: self.optimizer, schedule: self.schedule.schedule(self.optimizer.lr, total_steps) }
    }

    /// The run directory `<out_dir>/<run_name>`.
    pub fn run_dir(&self) -> PathBuf {
        let name = self.training.run_name.as_deref().unwrap_or("run");
        self.training.out_dir.join(name)
    }

    /// Writes this config as the run's `config.toml`.
    pub fn save(&self, run: &RunDir) -> Result<()> {
        fs::create_dir_all(run.root()).with_context(|| format!("cannot create run directory {}", run.root().display()))?;
        let toml = toml::to_string_pretty(self).context("cannot serialize the config")?;
        write_atomic(&run.config(), toml.as_bytes())
    }

    /// Reads a run's `config.toml` and checks its values (e.g. `model.n_heads = 0` edited in is
    /// refused here rather than panicking later).
    pub fn load_saved(run: &RunDir) -> Result<Self> {
        if !run.root().is_dir() {
            bail!("run directory {} does not exist", run.root().display());
        }
        let path = run.config();
        let text = fs::read_to_string(&path).with_context(|| format!("cannot read {} (is this a run directory?)", path.display()))?;
        let config: Self = toml::from_str(&text).with_context(|| format!("{}: not a valid run config", path.display()))?;
        // Not `validate`: the corpus may have moved since; the run reads its own prepared data.
        config.validate_settings().with_context(|| format!("{}: invalid configuration", path.display()))?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::NdArray;
    use burn::module::Module;

    use super::*;

    /// Every shipped config loads and validates.
    #[test]
    fn every_shipped_config_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut seen = 0;
        for entry in fs::read_dir(&dir).expect("configs/") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                RunConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 4, "found {seen} configs in {}", dir.display());
    }

    /// configs/gpt2_124m.toml is GPT-2 small with nanoGPT's recipe (config/train_gpt2.py):
    /// its model has the parameter count PyTorch reports for the same architecture
    /// (bench/torch_gpt.py at vocab 50304, d_model 768, 12 layers, block 1024, biases:
    /// `params: 124475904`), and a step sees nanoGPT's 12 x 40 x 1024 = 491,520 tokens.
    #[test]
    fn gpt2_124m_is_nanogpts_recipe() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/gpt2_124m.toml");
        let config = RunConfig::load(&path, &[]).expect("gpt2_124m.toml");
        let model = config.gpt_config(50304).expect("vocab").init::<NdArray<f32>>(&Default::default());
        assert_eq!(model.num_params(), 124_475_904);
        let t = &config.training;
        assert_eq!(t.batch_size * t.grad_accum_steps * config.model.block_size, 12 * 40 * 1024);
        let o = &config.optimizer;
        assert_eq!((o.lr, o.beta1, o.beta2, o.weight_decay, o.grad_clip), (6e-4, 0.9, 0.95, 0.1, 1.0));
        assert!(!o.decay_all, "nanoGPT decays matrices and embeddings only");
        assert_eq!((config.schedule.warmup_steps, config.schedule.min_lr), (2000, 6e-5));
    }

    /// A saved config edited to an impossible value is refused when read, naming the file and
    /// the key (it was accepted, and `n_heads = 0` then divided by zero building the model).
    #[test]
    fn a_saved_config_is_validated_when_read() {
        let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/tiny.toml");
        let mut config = RunConfig::load(&tiny, &[]).expect("tiny.toml");
        let dir = tempfile::tempdir().expect("temp dir");
        let run = RunDir::new(dir.path());
        config.data.path = dir.path().join("moved-away.txt");
        config.save(&run).expect("save");
        RunConfig::load_saved(&run).expect("a corpus that moved away is no reason to refuse");
        config.model.n_heads = 0;
        config.save(&run).expect("save");
        let err = format!("{:#}", RunConfig::load_saved(&run).expect_err("n_heads = 0"));
        assert!(err.contains("config.toml") && err.contains("model.n_heads"), "{err}");
    }
}
