//! The training run, built on the step ([`crate::train`]): its config ([`RunConfig`], every
//! section of the TOML file, loaded with `--set` overrides and checked again on resume), building
//! it (data, model, optimizer; or a checkpoint's), its loop, what a person watching it sees
//! (log lines, metrics.csv, samples), when it stops (a request, a diverged loss) and its memory
//! estimate, checked before anything large is allocated.

mod config;
mod loop_state;
mod memory;
mod memory_check;
mod monitor;
mod overrides;
mod resume;
mod samples;
mod sanity;
mod setup;
mod stop;
mod summary;
mod trainer;
mod training;
mod validation;

pub use config::RunConfig;
pub use memory::RunShape;
pub use memory_check::{check_shape, keep_freed_memory_if_room, memory_line};
pub use setup::Start;
pub use stop::StopHandle;
pub use summary::TrainSummary;
pub use trainer::train;
pub use training::TrainingConfig;
