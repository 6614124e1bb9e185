//! Asking a running [`super::train`] to stop early, from another thread or a signal handler.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The number that [`StopHandle::request`] records: SIGINT's, as for Ctrl-C.
const SIGINT: usize = 2;

/// A shared stop request. Clones share one flag: the caller keeps one clone (or gives its
/// [`StopHandle::flag`] to a signal handler, which stores the signal's number) and passes
/// another to [`super::train`], which checks it after every step, saves a checkpoint and returns.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicUsize>);

impl StopHandle {
    /// A handle with no stop requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to save a checkpoint and return after its current step (as Ctrl-C does).
    pub fn request(&self) {
        self.0.store(SIGINT, Ordering::SeqCst);
    }

    /// Whether a stop was requested on this handle or a clone of it.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst) != 0
    }

    /// The number of the signal that asked to stop (2 for [`StopHandle::request`]); `None`
    /// when none did.
    pub fn signal(&self) -> Option<usize> {
        Some(self.0.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// The shared flag, for a signal handler to store its signal's number in (async-signal-safe).
    pub fn flag(&self) -> Arc<AtomicUsize> {
        self.0.clone()
    }
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
}
