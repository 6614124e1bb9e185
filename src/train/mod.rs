//! The step: the learner and its four configured pieces (loss, schedule, clipping, optimizer),
//! the gradients' all-reduce across processes, and evaluation. The run that drives it is
//! [`crate::run`].

mod all_reduce;
mod clip;
mod eval;
mod learner;
mod loss;
mod muon;
mod muon_adamw;
mod optim;
mod optimizer;
mod param_groups;
mod schedule;
mod wsd;

pub use all_reduce::check_agreement;
pub use eval::{evaluate, evaluate_across, window_batches, Scores, WindowBatches};
pub use learner::{forward_backward, init_model, Learner, LearnerConfig, StepOutput};
pub use loss::cross_entropy;
pub use muon::{newton_schulz, Muon, MuonState};
pub use muon_adamw::{MuonAdamW, MuonAdamWRecord};
pub use optim::{GroupedAdamW, OptimizerConfig, OptimizerKind};
pub use optimizer::RunOptimizer;
pub use param_groups::{GroupRates, ParamGroup};
pub use schedule::{Schedule, ScheduleConfig, ScheduleKind, WarmupCosine};
pub use wsd::WarmupStableDecay;
