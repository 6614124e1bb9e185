//! The learner and its four configured pieces: loss, schedule, clipping, optimizer.

mod clip;
mod eval;
mod learner;
mod loss;
mod monitor;
mod optim;
mod schedule;
mod trainer;

pub use clip::clip_global_norm;
pub use eval::evaluate;
pub use learner::{forward_backward, init_model, Learner, LearnerConfig, StepOutput};
pub use loss::cross_entropy;
pub use optim::{AdamWSettings, GroupedAdamW};
pub use schedule::WarmupCosine;
pub use trainer::{learner_config, request_stop, train, TrainSummary};
