//! Asking a running [`super::train`] to stop early, from another thread or a signal handler.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The number that [`StopHandle::request`] records: SIGINT's, as for Ctrl-C.
const SIGINT: usize = 2;

/// No checkpoint saved yet (in [`StopHandle`]'s `saved`).
const NONE_SAVED: usize = usize::MAX;

/// A shared stop request, and the step of the last checkpoint the run saved (for whoever has to
/// say what a forced exit loses). Clones share both: the caller keeps one clone (or gives its
/// [`StopHandle::flag`] to a signal handler, which stores the signal's number) and passes
/// another to [`super::train`], which checks it after every step, saves a checkpoint and returns.
#[derive(Debug, Clone)]
pub struct StopHandle {
    signal: Arc<AtomicUsize>,
    saved: Arc<AtomicUsize>,
}

impl Default for StopHandle {
    fn default() -> Self {
        Self { signal: Arc::default(), saved: Arc::new(AtomicUsize::new(NONE_SAVED)) }
    }
}

impl StopHandle {
    /// A handle with no stop requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to save a checkpoint and return after its current step (as Ctrl-C does).
    pub fn request(&self) {
        self.request_by(SIGINT);
    }

    /// As [`StopHandle::request`], recording `signal` as the one that asked, unless an earlier
    /// request already recorded one (the first signal decides the exit code).
    pub fn request_by(&self, signal: usize) {
        let _ = self.signal.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Whether a stop was requested on this handle or a clone of it.
    pub fn is_requested(&self) -> bool {
        self.signal.load(Ordering::SeqCst) != 0
    }

    /// The number of the signal that asked to stop (2 for [`StopHandle::request`]); `None`
    /// when none did.
    pub fn signal(&self) -> Option<usize> {
        Some(self.signal.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// The shared flag, for a signal handler to store its signal's number in (async-signal-safe).
    pub fn flag(&self) -> Arc<AtomicUsize> {
        self.signal.clone()
    }

    /// Records that the run saved a checkpoint at `step` (the trainer calls it after each save).
    pub fn saved(&self, step: usize) {
        self.saved.store(step, Ordering::SeqCst);
    }

    /// The step of the last checkpoint the run has saved (or resumed from); `None` before any.
    pub fn last_saved(&self) -> Option<usize> {
        Some(self.saved.load(Ordering::SeqCst)).filter(|&s| s != NONE_SAVED)
    }
}

/// When the training loop stops before its last step.
pub(super) struct StopWhen<'a> {
    /// Set from another thread (Ctrl-C).
    pub handle: &'a StopHandle,
    /// After this step (`--stop-at-step`).
    pub at_step: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_request_and_the_signal() {
        let handle = StopHandle::new();
        let other = handle.clone();
        assert!(!handle.is_requested());
        assert_eq!(handle.signal(), None);
        other.request();
        assert!(handle.is_requested());
        assert_eq!(handle.signal(), Some(2));
        handle.flag().store(15, Ordering::SeqCst);
        assert_eq!(other.signal(), Some(15), "a signal handler's store is seen by every clone");
        assert!(!StopHandle::default().is_requested(), "a new handle is independent");
    }

    #[test]
    fn the_first_signal_is_kept_and_the_last_save_is_shared() {
        let handle = StopHandle::new();
        handle.request_by(15);
        handle.request_by(2);
        assert_eq!(handle.signal(), Some(15), "SIGTERM came first");
        assert_eq!(handle.last_saved(), None);
        handle.clone().saved(70);
        assert_eq!(handle.last_saved(), Some(70));
    }
}
