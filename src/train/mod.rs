//! The step: the learner and its four configured pieces (loss, schedule, clipping, optimizer),
//! the gradients' all-reduce across processes, and evaluation. The run that drives it is
//! [`crate::run`].

mod all_reduce;
mod clip;
mod config;
mod eval;
mod learner;
mod loss;
mod optim;
mod schedule;

pub use all_reduce::check_agreement;
pub use config::ScheduleConfig;
pub use eval::{evaluate, evaluate_across, window_batches, Scores, WindowBatches};
pub use learner::{forward_backward, init_model, Learner, LearnerConfig, StepOutput};
pub use loss::cross_entropy;
pub use optim::{GroupedAdamW, OptimizerConfig};
pub use schedule::WarmupCosine;
