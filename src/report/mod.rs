//! Run outputs for people: the metrics file and the loss plots.

mod metrics;
mod plot;

pub use metrics::{read_metrics, MetricsRow, MetricsWriter, METRICS_FILE};
pub use plot::{plot_run, LOSS_PNG, LOSS_SVG};
