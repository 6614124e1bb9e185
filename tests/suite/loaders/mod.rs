//! Property tests over every loader (issue 26, item 11): each file a run or a prepared corpus
//! holds, made valid by the library itself, then truncated, flipped, replaced by junk or edited at
//! random and loaded again. Every case must end in an error that names the file, or in a value
//! that is still valid; none may panic. The seeds are fixed: every run tries the same cases.
//!
//! Not on the wgpu build: the loaders are the same code on every backend.
#![cfg(not(feature = "wgpu"))]

mod checkpoint_files;
mod data_files;
mod fixture;
mod mutate;
mod run_files;
