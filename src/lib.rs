//! burngpt: pretrain GPT language models on Burn.
//!
//! A TOML [`run::RunConfig`] describes the model, the data, the optimizer, the schedule and
//! the loop; [`run::train`] runs it on any `B: AutodiffBackend`, each step by [`train::Learner`]. The binary picks the
//! backend through cargo features (see [`backend`]).

pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod console;
pub mod data;
pub mod dist;
pub mod generate;
pub mod hellaswag;
pub mod hf;
pub mod host_memory;
pub mod model;
pub mod report;
pub mod run;
pub mod run_dir;
pub mod seed;
pub mod train;

#[cfg(test)]
mod test_util;
