//! Opening a checkpoint: every file checked against the manifest, the state against the
//! directory's step; a damaged or missing one is reported with the intact ones to use instead.

use std::fs;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use super::{load_state, read_latest, TrainState, Which};
use crate::run_dir::{Manifest, RunDir, MANIFEST_FILE};

/// A checkpoint that passed its checks.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Its directory (`checkpoints/step-N/`).
    pub dir: PathBuf,
    /// The state saved with it.
    pub state: TrainState,
}

/// Finds checkpoint `which` of `run` and checks it; the error names the damaged or missing
/// file and lists the intact checkpoints with the flag that uses one.
pub fn open_checkpoint(run: &RunDir, which: Which) -> Result<Checkpoint> {
    let step = match which {
        Which::Step(n) if run.checkpoint(n).is_dir() => n,
        Which::Step(n) => bail!(
            "no checkpoint at step {n} in {}; available: {:?}",
            run.root().display(),
            run.checkpoint_steps_on_disk()
        ),
        Which::Last | Which::Best => {
            let latest = read_latest(run).map_err(|err| with_intact(run, err, None))?;
            if which == Which::Last { latest.last } else { latest.best }
        }
    };
    verify(run, step).map_err(|err| with_intact(run, err.context(format!("checkpoint step {step} cannot be used")), Some(step)))
}

/// Checks the checkpoint of `step`: its files against `manifest.json`, its state's step
/// against the directory's.
fn verify(run: &RunDir, step: usize) -> Result<Checkpoint> {
    let dir = run.checkpoint(step);
    if !dir.is_dir() {
        bail!("{} is missing", dir.display());
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let has_manifest = manifest_path.is_file();
    if has_manifest {
        let text = fs::read(&manifest_path).with_context(|| format!("cannot read {}", manifest_path.display()))?;
        let manifest: Manifest =
            serde_json::from_slice(&text).with_context(|| format!("{} is damaged (not a valid manifest)", manifest_path.display()))?;
        manifest.verify(&dir, &manifest_path)?;
    }
    let state = load_state(&dir)?;
    if !has_manifest && state.format_version >= 2 {
        bail!("{} is missing", manifest_path.display());
    }
    if state.step != step {
        bail!("{} says step {} but it is the checkpoint of step {step}", dir.join(crate::run_dir::STATE_FILE).display(), state.step);
    }
    Ok(Checkpoint { dir, state })
}

/// `err`, followed by the checkpoints of `run` (other than `failed`) that pass [`verify`]
/// and how to use one.
fn with_intact(run: &RunDir, err: anyhow::Error, failed: Option<usize>) -> anyhow::Error {
    let intact: Vec<usize> =
        run.checkpoint_steps_on_disk().into_iter().filter(|&s| Some(s) != failed && verify(run, s).is_ok()).collect();
    let Some(&newest) = intact.last() else {
        return anyhow!("{err:#}; no other intact checkpoint in {}", run.checkpoints().display());
    };
    let list: Vec<String> = intact.iter().map(|s| s.to_string()).collect();
    anyhow!(
        "{err:#}; intact checkpoints: {}; use one with `--checkpoint {newest}` (generate, eval, export), or continue \
         training from it with `--resume {} --checkpoint {newest}`",
        list.join(", "),
        run.root().display()
    )
}
