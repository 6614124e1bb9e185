//! The learner and its four configured pieces (loss, schedule, clipping, optimizer), and the
//! training run: building it, its loop, and stopping it early.

mod all_reduce;
mod clip;
mod config;
mod eval;
mod learner;
mod loss;
mod memory;
mod memory_check;
mod monitor;
mod muon;
mod muon_adamw;
mod optim;
mod optimizer;
mod param_groups;
mod samples;
mod sanity;
mod schedule;
mod setup;
mod stop;
mod trainer;
mod wsd;

pub use eval::{evaluate, window_batches, Scores, WindowBatches};
pub use learner::{forward_backward, init_model, Learner, LearnerConfig, StepOutput};
pub use loss::cross_entropy;
pub use memory::{estimate, MemoryEstimate, RunShape, OVERHEAD_BYTES};
pub use memory_check::{check_run_memory, check_shape, driving_key, memory_line, SizeKey};
pub use config::{RunConfig, TrainingConfig};
pub use muon::{newton_schulz, Muon, MuonState};
pub use muon_adamw::{MuonAdamW, MuonAdamWRecord};
pub use optim::{GroupedAdamW, OptimizerConfig, OptimizerKind};
pub use optimizer::RunOptimizer;
pub use param_groups::{GroupRates, ParamGroup};
pub use sanity::{validation_limit, DIVERGED_FACTOR};
pub use schedule::{Schedule, ScheduleConfig, ScheduleKind, WarmupCosine};
pub use wsd::WarmupStableDecay;
pub use stop::StopHandle;
pub use setup::Start;
pub use trainer::{train, TrainSummary};
