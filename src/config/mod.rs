//! Loading a run's config: the TOML file, then `--set key.path=value` overrides, then
//! `model.init_from` (a Hugging Face directory supplies the architecture), then
//! [`RunConfig::validate`], whose errors name the offending key.
//!
//! This is the top layer: each section's type belongs to the layer it configures
//! (`[model]` [`crate::model::GptConfig`], `[data]` [`crate::data::DataConfig`], `[optimizer]`,
//! `[schedule]` and `[training]` the learner's, [`crate::train`]); this module only assembles them.

use std::path::Path;

use anyhow::{Context, Result};

pub use crate::train::RunConfig;

mod overrides;
pub use overrides::{apply_override, lookup};

impl RunConfig {
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
        let mut config: RunConfig = serde_path_to_error::deserialize(table).map_err(|e| {
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
}

#[cfg(test)]
mod tests {
    use burn::backend::NdArray;
    use burn::module::Module;

    use super::RunConfig;

    /// Every shipped config loads and validates.
    #[test]
    fn every_shipped_config_loads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("configs/") {
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
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/gpt2_124m.toml");
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
}
