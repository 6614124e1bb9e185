//! The training layer's part of a run's TOML (`[training]`; `[optimizer]` is [`OptimizerConfig`],
//! `[schedule]` [`ScheduleConfig`]) and [`RunConfig`], the whole run: every layer's section side by side.

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::learner::LearnerConfig;
use super::optim::OptimizerConfig;
use super::schedule::ScheduleConfig;
use crate::data::DataConfig;
use crate::model::GptConfig;
use crate::run_dir::{write_atomic, RunDir};

/// The loop: batches, budget, logging, evaluation, checkpoints; the `[training]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
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
    /// Draw a sample from the model every this many steps (and at the last step); 0 (the
    /// default) draws none. Printed under the log line and appended to `samples.txt`.
    #[serde(default)]
    pub sample_every: usize,
    /// The text the samples continue (default a line break).
    #[serde(default = "default_sample_prompt")]
    pub sample_prompt: String,
    /// Tokens per sample (default 64).
    #[serde(default = "default_sample_tokens")]
    pub sample_tokens: usize,
}

/// A line break.
fn default_sample_prompt() -> String {
    "\n".to_string()
}

/// 64 tokens.
fn default_sample_tokens() -> usize {
    64
}

impl TrainingConfig {
    /// Rejects zero counts and a budget given twice or not at all, naming the `training.` key.
    pub fn validate(&self) -> Result<()> {
        positive("training.batch_size", self.batch_size)?;
        match (self.epochs, self.max_steps) {
            (Some(e), None) => positive("training.epochs", e)?,
            (None, Some(n)) => positive("training.max_steps", n)?,
            _ => bail!("set exactly one of training.epochs and training.max_steps"),
        }
        positive("training.grad_accum_steps", self.grad_accum_steps)?;
        positive("training.checkpoint_every", self.checkpoint_every)?;
        positive("training.keep_last", self.keep_last)?;
        positive("training.log_every", self.log_every)?;
        positive("training.eval_every", self.eval_every)?;
        positive("training.eval_batches", self.eval_batches)?;
        if self.sample_every > 0 {
            positive("training.sample_tokens", self.sample_tokens)?;
        }
        if let Some(name) = &self.run_name {
            check_run_name(name)?;
        }
        Ok(())
    }
}

/// A run name is one directory inside `training.out_dir`: no path separator, no `..`.
fn check_run_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) || name.contains('\0') {
        bail!("training.run_name = {name:?}: expected a plain directory name (no `/`, `\\` or `..`), created inside training.out_dir");
    }
    Ok(())
}

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
    /// `[schedule]`: linear warmup then cosine decay (or warmup-stable-decay).
    pub schedule: ScheduleConfig,
    /// `[training]`: batches, steps, logging and evaluation.
    pub training: TrainingConfig,
}

impl RunConfig {
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
        LearnerConfig {
            optimizer: self.optimizer,
            schedule: self.schedule.schedule(self.optimizer.lr, total_steps),
        }
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

fn positive(key: &str, value: usize) -> Result<()> {
    if value == 0 {
        bail!("{key} must be > 0");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saved config edited to an impossible value is refused when read, naming the file and
    /// the key (it was accepted, and `n_heads = 0` then divided by zero building the model).
    #[test]
    fn a_saved_config_is_validated_when_read() {
        let tiny = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/tiny.toml");
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

    #[test]
    fn a_run_name_stays_inside_out_dir() {
        for bad in ["../../x", "a/b", "..", ".", "", "a\\b"] {
            let err = check_run_name(bad).expect_err(bad).to_string();
            assert!(err.contains("training.run_name"), "{err}");
        }
        for good in ["tiny", "run-2026.11", "a..b"] {
            check_run_name(good).expect(good);
        }
    }
}
