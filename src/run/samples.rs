//! Samples while training (`training.sample_every`): every that many steps, rank 0 continues
//! `training.sample_prompt` by `training.sample_tokens` tokens, prints the text under the log
//! line and appends it to `samples.txt` in the run directory under a `=== step N ===` line.
//!
//! Sampling is nanoGPT's `sample.py` default (temperature 0.8, top-k 200), from the RNG that
//! `burngpt generate --seed S` draws its first sample from, with S the config's seed: the sample
//! of step N is what `generate --run DIR --checkpoint N --seed S --temperature 0.8 --top-k 200
//! --max-new-tokens K --prompt P` prints (up to the backends' float rounding), and a resumed run
//! draws the same samples as one that never stopped. It runs on the inference backend and uses
//! no training RNG.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use burngpt_ops::FusedOps;

use super::training::TrainingConfig;
use crate::data::Tokenizer;
use crate::generate::{generate, SamplingConfig};
use crate::model::Gpt;
use crate::run_dir::rewrite_then_append;
use crate::seed::{self, Stream};

/// How a sample is drawn: nanoGPT's `sample.py` defaults.
const SAMPLING: SamplingConfig = SamplingConfig { temperature: 0.8, top_k: Some(200), top_p: None, greedy: false };

/// The line that opens the sample of `step`.
fn heading(step: usize) -> String {
    format!("=== step {step} ===")
}

/// Draws and records the samples of a run.
pub struct Samples {
    every: usize,
    tokens: usize,
    seed: u64,
    prompt: Vec<u32>,
    file: File,
}

impl Samples {
    /// `None` when `training.sample_every` is 0 (or on a rank that does not write). Encodes the
    /// prompt (an error naming `training.sample_prompt` when the tokenizer cannot) and opens
    /// `samples_path`, keeping (when resuming from step `keep_up_to`) only the samples up to that
    /// step; like metrics.csv the file is first rewritten beside itself and renamed into place.
    pub fn open(t: &TrainingConfig, tokenizer: &Tokenizer, samples_path: Option<&Path>, keep_up_to: Option<usize>) -> Result<Option<Self>> {
        let Some(path) = samples_path.filter(|_| t.sample_every > 0) else { return Ok(None) };
        let prompt = tokenizer
            .encode(&t.sample_prompt)
            .with_context(|| format!("training.sample_prompt = {:?} cannot be encoded with the run's tokenizer", t.sample_prompt))?;
        if prompt.is_empty() {
            bail!("training.sample_prompt is empty: samples need at least one token to continue");
        }
        let kept = match keep_up_to {
            Some(step) if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                samples_up_to(&text, step)
            }
            _ => String::new(),
        };
        let file = rewrite_then_append(path, kept.as_bytes())?;
        Ok(Some(Self { every: t.sample_every, tokens: t.sample_tokens, seed: t.seed, prompt, file }))
    }

    /// Whether `step` is sampled: every `sample_every` steps and the last one.
    pub fn due(&self, step: usize, last: bool) -> bool {
        step % self.every == 0 || last
    }

    /// Draws the sample of `step` from `model` (the inference model), appends it to the file
    /// and returns the text to print (prompt included).
    pub fn draw<B: FusedOps>(&mut self, model: &Gpt<B>, tokenizer: &Tokenizer, step: usize) -> Result<String> {
        // generate's first sample (index 0) with --seed = training.seed.
        let mut rng = seed::rng(self.seed, Stream::Sampling, 0);
        let (ids, _) = generate(model, &self.prompt, self.tokens, &SAMPLING, &mut rng, true, |_| Ok(()))?;
        let text = tokenizer.decode(&ids)?;
        let entry = format!("{}\n{text}\n\n", heading(step));
        self.file.write_all(entry.as_bytes()).and_then(|()| self.file.flush()).context("cannot append to samples.txt")?;
        Ok(format!("{}\n{text}", heading(step)))
    }
}

/// The entries of a samples file up to `step` (a crashed run's later samples are dropped, as its
/// later metrics rows are): everything before the first heading of a later step.
fn samples_up_to(text: &str, step: usize) -> String {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let later = line
            .trim_end()
            .strip_prefix("=== step ")
            .and_then(|r| r.strip_suffix(" ==="))
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n > step);
        if later {
            break;
        }
        offset += line.len();
    }
    text[..offset].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resuming_keeps_the_samples_up_to_the_checkpoint() {
        let text = "=== step 10 ===\nab\ncd\n\n=== step 20 ===\nef\n\n=== step 30 ===\ngh";
        assert_eq!(samples_up_to(text, 20), "=== step 10 ===\nab\ncd\n\n=== step 20 ===\nef\n\n");
        assert_eq!(samples_up_to(text, 25), samples_up_to(text, 20));
        assert_eq!(samples_up_to(text, 5), "");
        assert_eq!(samples_up_to(text, 30), text);
    }
}
