//! Run outputs for people: the metrics file and the loss plots.

mod compare;
mod metrics;
mod plot;

pub use metrics::{read_metrics, Metrics, MetricsRow, MetricsWriter};
pub use compare::{plot_comparison, Curve};
pub use plot::plot_run;
