//! Asking a running [`super::train`] to stop early, from another thread (the Ctrl-C handler).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared stop request. Clones share one flag: the caller keeps one clone (or gives it to
/// the Ctrl-C handler) and passes another to [`super::train`], which checks it after every
/// step, saves a checkpoint and returns.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// A handle with no stop requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to save a checkpoint and return after its current step.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`StopHandle::request`] was called on this handle or a clone of it.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_request() {
        let handle = StopHandle::new();
        let other = handle.clone();
        assert!(!handle.is_requested());
        other.request();
        assert!(handle.is_requested());
        assert!(!StopHandle::default().is_requested(), "a new handle is independent");
    }
}
