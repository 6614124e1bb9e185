//! [`Config::validate`]: rejects impossible values before anything runs; every message names the
//! key and says what was expected.

use anyhow::{bail, Result};

use super::{Config, DataSection, TokenizerKind};

impl Config {
    /// Rejects impossible values; every message names the key.
    pub fn validate(&self) -> Result<()> {
        let m = &self.model;
        positive("model.block_size", m.block_size)?;
        positive("model.d_model", m.d_model)?;
        positive("model.n_layers", m.n_layers)?;
        positive("model.n_heads", m.n_heads)?;
        positive("model.d_ff", m.d_ff)?;
        if m.d_model % m.n_heads != 0 {
            bail!(
                "model.d_model = {} is not divisible by model.n_heads = {}",
                m.d_model,
                m.n_heads
            );
        }
        if !(0.0..1.0).contains(&m.dropout) {
            bail!("model.dropout = {} must be in [0, 1)", m.dropout);
        }
        if !(m.layer_norm_eps > 0.0) {
            bail!("model.layer_norm_eps = {} must be > 0", m.layer_norm_eps);
        }
        self.data.validate()?;
        let o = &self.optimizer;
        if !(o.lr > 0.0) {
            bail!("optimizer.lr = {} must be > 0", o.lr);
        }
        for (key, beta) in [("optimizer.beta1", o.beta1), ("optimizer.beta2", o.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                bail!("{key} = {beta} must be in [0, 1)");
            }
        }
        if !(o.eps > 0.0) {
            bail!("optimizer.eps = {} must be > 0", o.eps);
        }
        if !(o.weight_decay >= 0.0) {
            bail!("optimizer.weight_decay = {} must be >= 0", o.weight_decay);
        }
        if !(o.grad_clip >= 0.0) {
            bail!("optimizer.grad_clip = {} must be >= 0 (0 disables clipping)", o.grad_clip);
        }
        let s = &self.schedule;
        if !(s.min_lr >= 0.0 && s.min_lr <= o.lr) {
            bail!("schedule.min_lr = {} must be in [0, optimizer.lr = {}]", s.min_lr, o.lr);
        }
        let t = &self.training;
        positive("training.batch_size", t.batch_size)?;
        match (t.epochs, t.max_steps) {
            (Some(e), None) => positive("training.epochs", e)?,
            (None, Some(n)) => positive("training.max_steps", n)?,
            _ => bail!("set exactly one of training.epochs and training.max_steps"),
        }
        positive("training.grad_accum_steps", t.grad_accum_steps)?;
        positive("training.checkpoint_every", t.checkpoint_every)?;
        positive("training.keep_last", t.keep_last)?;
        positive("training.log_every", t.log_every)?;
        positive("training.eval_every", t.eval_every)?;
        positive("training.eval_batches", t.eval_batches)?;
        if let Some(max_steps) = t.max_steps {
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
}

impl DataSection {
    /// Rejects a missing path and inconsistent tokenizer settings, naming the key.
    pub fn validate(&self) -> Result<()> {
        let d = self;
        if !d.path.exists() {
            bail!("data.path: data file {} does not exist", d.path.display());
        }
        if let Some(file) = &d.tokenizer_file {
            if d.tokenizer != TokenizerKind::Bpe || d.vocab_size.is_some() {
                bail!("data.tokenizer_file needs data.tokenizer = \"bpe\" and no data.vocab_size (the file sets the vocabulary)");
            }
            if !file.exists() {
                bail!("data.tokenizer_file: {} does not exist", file.display());
            }
            return self.check_fraction();
        }
        match (d.tokenizer, d.vocab_size) {
            (TokenizerKind::Bpe, None) => bail!("data.vocab_size is required with data.tokenizer = \"bpe\""),
            (TokenizerKind::Bpe, Some(v)) if v <= 256 => {
                bail!("data.vocab_size = {v} must exceed the 256 byte symbols of byte-level BPE")
            }
            (TokenizerKind::Char, Some(_)) => {
                bail!("data.vocab_size applies to the bpe tokenizer only; the char vocabulary is the corpus's characters")
            }
            _ => {}
        }
        self.check_fraction()
    }

    fn check_fraction(&self) -> Result<()> {
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            bail!("data.train_fraction = {} must be in (0, 1)", self.train_fraction);
        }
        Ok(())
    }
}

fn positive(key: &str, value: usize) -> Result<()> {
    if value == 0 {
        bail!("{key} must be > 0");
    }
    Ok(())
}
