//! Writing a checkpoint, updating the index, pruning old checkpoints and cleaning up what a
//! crash left half-written or half-deleted.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{read_latest, Latest, TrainState};
use crate::run_dir::{
    checkpoint_step, remove_stale, rename_synced, sync_dir, write_atomic, write_synced, Manifest, RunDir, TempGuard,
    MANIFEST_FILE, MODEL_FILE, OPTIM_FILE, STATE_FILE,
};

/// Saves a checkpoint (model bytes, optimizer bytes, state, and the manifest of their
/// checksums), then prunes old ones, keeping the last `keep_last` and the best, and removes
/// directories that a crash left behind.
pub fn save_checkpoint(run: &RunDir, model: &[u8], optim: &[u8], state: &TrainState, keep_last: usize) -> Result<()> {
    let dir = run.checkpoint(state.step);
    let tmp = dir.with_extension("tmp");
    // A fresh `step-N.tmp/`: whatever is at that name (a crash's leftover, a link planted there)
    // is removed without following it; a save that fails half-way removes it again.
    remove_stale(&tmp)?;
    fs::create_dir_all(run.checkpoints()).with_context(|| format!("cannot create {}", run.checkpoints().display()))?;
    fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let guard = TempGuard::new(&tmp);
    let state_bytes = serde_json::to_vec_pretty(state)?;
    let mut manifest = Manifest::default();
    for (name, bytes) in [(MODEL_FILE, model), (OPTIM_FILE, optim), (STATE_FILE, &state_bytes[..])] {
        write_synced(&tmp.join(name), bytes)?;
        manifest.add(name, bytes);
    }
    write_synced(&tmp.join(MANIFEST_FILE), &serde_json::to_vec_pretty(&manifest)?)?;
    sync_dir(&tmp)?;
    if dir.exists() {
        remove_dir(&dir)?;
    }
    rename_synced(&tmp, &dir)?;
    guard.keep();

    let mut latest = match read_latest(run) {
        Ok(latest) => latest,
        // No index yet; or a damaged one, rebuilt from the directories so that none is lost.
        Err(_) => {
            let steps: Vec<usize> = run.checkpoint_steps_on_disk().into_iter().filter(|&s| s != state.step).collect();
            Latest { last: 0, best: state.best_step, steps }
        }
    };
    latest.steps.retain(|&s| s != state.step);
    latest.steps.push(state.step);
    latest.steps.sort_unstable();
    latest.last = state.step;
    // The best checkpoint is the one saved at the best evaluation; before any evaluation
    // (or if it is gone) the latest stands in for it.
    latest.best = if state.best_step == state.step || latest.steps.contains(&state.best_step) {
        state.best_step
    } else {
        state.step
    };
    let keep_from = latest.steps.len().saturating_sub(keep_last.max(1));
    let (old, _) = latest.steps.split_at(keep_from);
    let removed: Vec<usize> = old.iter().copied().filter(|&s| s != latest.best && s != latest.last).collect();
    latest.steps.retain(|s| !removed.contains(s));
    write_atomic(&run.latest(), &serde_json::to_vec_pretty(&latest)?)?;
    for step in removed {
        remove_dir(&run.checkpoint(step))?;
    }
    remove_leftovers(run, &latest)
}

/// Deletes a checkpoint directory as one step: renamed to `step-N.del` first, so that a crash
/// in the middle of the deletion never leaves a half-deleted `step-N`.
fn remove_dir(dir: &Path) -> Result<()> {
    let doomed = dir.with_extension("del");
    rename_synced(dir, &doomed)?;
    fs::remove_dir_all(&doomed).with_context(|| format!("cannot delete {}", doomed.display()))
}

/// Removes what an interrupted save or prune left in `checkpoints/`: `step-N.tmp` and
/// `step-N.del` directories, and `step-N` directories the index does not name (written just
/// before a crash, before the index named them: the resumed run writes them again).
fn remove_leftovers(run: &RunDir, latest: &Latest) -> Result<()> {
    let Ok(entries) = fs::read_dir(run.checkpoints()) else { return Ok(()) };
    let leftovers: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|path| path.is_dir())
        .filter(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            match name.rsplit_once('.') {
                Some((stem, "tmp" | "del")) => checkpoint_step(stem).is_some(),
                _ => checkpoint_step(&name).is_some_and(|s| !latest.steps.contains(&s)),
            }
        })
        .collect();
    for path in leftovers {
        fs::remove_dir_all(&path).with_context(|| format!("cannot delete the leftover {}", path.display()))?;
    }
    Ok(())
}

/// Moves the checkpoints after `step` into `checkpoints/after-step-N/` (out of the index) before
/// a run is resumed from the older checkpoint `step`: the resumed run writes its own, and the
/// set-aside ones stay for the user to inspect or delete. Returns where they went, if anywhere.
pub fn set_aside_after(run: &RunDir, step: usize) -> Result<Option<PathBuf>> {
    let later: Vec<usize> = run.checkpoint_steps_on_disk().into_iter().filter(|&s| s > step).collect();
    if later.is_empty() {
        return Ok(None);
    }
    let mut aside = run.checkpoints().join(format!("after-step-{step:06}"));
    let mut n = 1;
    while aside.exists() {
        n += 1;
        aside = run.checkpoints().join(format!("after-step-{step:06}-{n}"));
    }
    fs::create_dir_all(&aside).with_context(|| format!("cannot create {}", aside.display()))?;
    for s in later {
        let dir = run.checkpoint(s);
        let name = dir.file_name().map(|n| n.to_owned()).unwrap_or_default();
        rename_synced(&dir, &aside.join(name))?;
    }
    let mut latest = read_latest(run)?;
    latest.steps.retain(|&s| s <= step);
    latest.last = step;
    if latest.best > step {
        latest.best = step;
    }
    write_atomic(&run.latest(), &serde_json::to_vec_pretty(&latest)?)?;
    Ok(Some(aside))
}
