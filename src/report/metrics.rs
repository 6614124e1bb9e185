//! `metrics.csv`: one row per logged or evaluated step.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

const HEADER: &str = "step,epoch,train_loss,val_loss,lr,grad_norm,tokens_per_sec,elapsed_s";

/// One row; a value not measured at that step is `None` (an empty cell).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsRow {
    /// Optimizer step (0 = before training).
    pub step: usize,
    /// Epoch, from 1.
    pub epoch: usize,
    /// Training loss of the step's batch.
    pub train_loss: Option<f64>,
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// Learning rate of the step.
    pub lr: Option<f64>,
    /// Gradient norm before clipping.
    pub grad_norm: Option<f64>,
    /// Training throughput since the previous log line.
    pub tokens_per_sec: Option<f64>,
    /// Seconds since training started.
    pub elapsed_s: f64,
}

/// Appends rows to `metrics.csv`, flushing each so a crash loses nothing logged.
pub struct MetricsWriter {
    out: BufWriter<File>,
}

impl MetricsWriter {
    /// Starts a new file at `path` (`append = false`) or continues one (`append = true`).
    pub fn open(path: &Path, append: bool) -> Result<Self> {
        let exists = path.is_file();
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut out = BufWriter::new(file);
        if !append || !exists {
            writeln!(out, "{HEADER}")?;
        }
        Ok(Self { out })
    }

    /// Appends `row`.
    pub fn write(&mut self, row: &MetricsRow) -> Result<()> {
        let cell = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
        writeln!(
            self.out,
            "{},{},{},{},{},{},{},{:.3}",
            row.step,
            row.epoch,
            cell(row.train_loss),
            cell(row.val_loss),
            cell(row.lr),
            cell(row.grad_norm),
            cell(row.tokens_per_sec),
            row.elapsed_s
        )?;
        self.out.flush()?;
        Ok(())
    }
}

/// Reads every row of a metrics file.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricsRow>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != 8 {
            bail!("{}:{}: expected 8 columns ({HEADER})", path.display(), i + 1);
        }
        let opt = |s: &str| -> Result<Option<f64>> {
            Ok(if s.is_empty() { None } else { Some(s.parse().with_context(|| format!("{}:{}: bad number {s:?}", path.display(), i + 1))?) })
        };
        rows.push(MetricsRow {
            step: cells[0].parse().with_context(|| format!("{}:{}: bad step", path.display(), i + 1))?,
            epoch: cells[1].parse().with_context(|| format!("{}:{}: bad epoch", path.display(), i + 1))?,
            train_loss: opt(cells[2])?,
            val_loss: opt(cells[3])?,
            lr: opt(cells[4])?,
            grad_norm: opt(cells[5])?,
            tokens_per_sec: opt(cells[6])?,
            elapsed_s: opt(cells[7])?.unwrap_or(0.0),
        });
    }
    Ok(rows)
}
