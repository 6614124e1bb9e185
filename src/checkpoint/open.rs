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

/// How many times [`load_checkpoint`] looks again for a checkpoint that a live run pruned while
/// it was being read. A run prunes at most one checkpoint per save, and a save takes far longer
/// than reading the index again, so a second try nearly always succeeds.
const PRUNED_RETRIES: usize = 10;

/// Finds checkpoint `which` of `run`, checks it, and reads it with `load` (e.g. the model's
/// parameters), however a run training in the directory at the same time prunes its checkpoints:
/// when the checkpoint disappears while it is being read (`latest` or `best` moved on and the
/// run deleted the old one), the index is read again and the new checkpoint is read instead. A
/// reader gets a whole checkpoint, never a file pruned from under it.
pub fn load_checkpoint<T>(run: &RunDir, which: Which, mut load: impl FnMut(&Checkpoint) -> Result<T>) -> Result<(Checkpoint, T)> {
    let mut tries = 0;
    loop {
        let step = find_step(run, which)?;
        let outcome = verify(run, step).and_then(|checkpoint| load(&checkpoint).map(|loaded| (checkpoint, loaded)));
        match outcome {
            Ok(done) => return Ok(done),
            Err(_) if which != Which::Step(step) && tries < PRUNED_RETRIES && !run.checkpoint(step).is_dir() => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(err) => {
                return Err(with_intact(run, err.context(format!("checkpoint step {step} cannot be used")), Some(step)))
            }
        }
    }
}

/// Finds checkpoint `which` of `run` and checks it; the error names the damaged or missing
/// file and lists the intact checkpoints with the flag that uses one.
pub fn open_checkpoint(run: &RunDir, which: Which) -> Result<Checkpoint> {
    load_checkpoint(run, which, |_| Ok(())).map(|(checkpoint, ())| checkpoint)
}

/// The step of checkpoint `which`: the index's last or best, or the step asked for when its
/// directory exists.
fn find_step(run: &RunDir, which: Which) -> Result<usize> {
    Ok(match which {
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
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{save_checkpoint, FORMAT_VERSION};
    use crate::run_dir::MODEL_FILE;

    fn state(step: usize) -> TrainState {
        TrainState {
            format_version: FORMAT_VERSION,
            step,
            epoch: 1,
            position_in_epoch: 0,
            seed: 1,
            val_loss: None,
            best_val_loss: None,
            best_step: step,
            elapsed_s: 0.0,
        }
    }

    /// A run training beside the reader saves step 2 and prunes step 1 (keep_last 1) between the
    /// reader's look at latest.json and its read of model.mpk: the probe's "No such file". The
    /// reader gets the new checkpoint instead.
    #[test]
    fn a_checkpoint_pruned_while_it_is_read_is_replaced_by_the_new_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let run = RunDir::new(dir.path());
        save_checkpoint(&run, b"weights 1", b"optim 1", &state(1), 1).expect("save 1");
        let mut reads = 0;
        let (found, bytes) = load_checkpoint(&run, Which::Last, |checkpoint| {
            reads += 1;
            if reads == 1 {
                save_checkpoint(&run, b"weights 2", b"optim 2", &state(2), 1).expect("save 2 prunes 1");
            }
            let path = checkpoint.dir.join(MODEL_FILE);
            fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
        })
        .expect("the reader gets a whole checkpoint");
        assert_eq!((found.state.step, bytes.as_slice(), reads), (2, &b"weights 2"[..], 2));

        // An explicit step is not swapped for another: its pruning is an error naming it.
        let err = load_checkpoint(&run, Which::Step(1), |_| Ok(())).expect_err("pruned").to_string();
        assert!(err.contains("no checkpoint at step 1"), "{err}");
    }
}
