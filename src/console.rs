//! Writing to stdout and stderr when either may be closed: `burngpt generate | head -1`, or a
//! training run whose `tee` died. `println!` panics on a closed pipe ("failed printing to
//! stdout: Broken pipe", exit 101); [`outln!`](crate::outln) and [`errln!`](crate::errln) write
//! what they can and remember that output was lost instead. The binary then ends quietly, as Unix
//! tools do when their reader goes away (exit 141, 128 + SIGPIPE), and a training run first stops
//! after its current step with a checkpoint saved, as for Ctrl-C.

use std::fmt::Arguments;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout or stderr has failed.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// The exit code of a process whose output was closed: 128 + SIGPIPE, what a shell reports for a
/// tool that its reader's exit ended.
pub const CLOSED_EXIT: u8 = 128 + 13;

/// Writes a line to stdout; a failure (a closed pipe) is remembered, not raised.
pub fn out_line(args: Arguments) {
    let mut out = std::io::stdout().lock();
    if out.write_fmt(args).and_then(|()| out.write_all(b"\n")).is_err() {
        CLOSED.store(true, Ordering::SeqCst);
    }
}

/// Writes a line to stderr; a failure is remembered, not raised.
pub fn err_line(args: Arguments) {
    let mut err = std::io::stderr().lock();
    if err.write_fmt(args).and_then(|()| err.write_all(b"\n")).is_err() {
        CLOSED.store(true, Ordering::SeqCst);
    }
}

/// Whether a write to stdout or stderr has failed (or [`mark_closed`] was called).
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// Records that output was lost (a command's own write to stdout failed).
pub fn mark_closed() {
    CLOSED.store(true, Ordering::SeqCst);
}

/// Whether `err`'s chain holds a broken pipe: what a write to a closed stdout returns.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// `println!` that survives a closed stdout ([`out_line`]).
#[macro_export]
macro_rules! outln {
    () => { $crate::console::out_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::console::out_line(format_args!($($arg)*)) };
}

/// `eprintln!` that survives a closed stderr ([`err_line`]).
#[macro_export]
macro_rules! errln {
    () => { $crate::console::err_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::console::err_line(format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_found_anywhere_in_the_chain() {
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).context("cannot write the sample");
        assert!(is_broken_pipe(&pipe));
        let other = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::NotFound)).context("cannot read x");
        assert!(!is_broken_pipe(&other));
    }
}
