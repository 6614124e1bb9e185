//! `metrics.csv`: one row per logged or evaluated step.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::run_dir::rewrite_then_append;

/// The columns, in file order.
const COLUMNS: [&str; 9] = [
    "step",
    "epoch",
    "train_loss",
    "val_loss",
    "val_bpb",
    "lr",
    "grad_norm",
    "tokens_per_sec",
    "elapsed_s",
];

/// The columns of files written before `val_bpb`: still read (a run
/// resumed from one is rewritten with today's columns).
const OLD_COLUMNS: [&str; 8] = ["step", "epoch", "train_loss", "val_loss", "lr", "grad_norm", "tokens_per_sec", "elapsed_s"];

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
    /// Validation bits per byte.
    pub val_bpb: Option<f64>,
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
    /// Starts a new file at `path` (`keep_up_to = None`), or continues one after rewriting it
    /// with only its rows up to step `keep_up_to` (the checkpoint a run resumes from: the rows a
    /// crashed process logged after it would otherwise repeat). Lines that do not parse (the
    /// torn last line of a crash) are dropped with a warning. Either way the file is first
    /// written whole beside `path` and renamed over it, so a link planted at its name is
    /// replaced (and not read), never written through; rows are then appended to that file.
    pub fn open(path: &Path, keep_up_to: Option<usize>) -> Result<Self> {
        let mut text = format!("{}\n", COLUMNS.join(","));
        let plain_file = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
        if let (Some(step), true) = (keep_up_to, plain_file) {
            let metrics = read_metrics(path)?;
            if !metrics.bad_lines.is_empty() {
                crate::errln!("Warning: {}: dropped unreadable lines {:?}", path.display(), metrics.bad_lines);
            }
            for row in metrics.rows.iter().filter(|r| r.step <= step) {
                text.push_str(&format_row(row));
                text.push('\n');
            }
        }
        let file = rewrite_then_append(path, text.as_bytes())?;
        Ok(Self { out: BufWriter::new(file) })
    }

    /// Appends `row`.
    pub fn write(&mut self, row: &MetricsRow) -> Result<()> {
        writeln!(self.out, "{}", format_row(row))?;
        self.out.flush()?;
        Ok(())
    }
}

fn format_row(row: &MetricsRow) -> String {
    let cell = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
    [
        row.step.to_string(),
        row.epoch.to_string(),
        cell(row.train_loss),
        cell(row.val_loss),
        cell(row.val_bpb),
        cell(row.lr),
        cell(row.grad_norm),
        cell(row.tokens_per_sec),
        format!("{:.3}", row.elapsed_s),
    ]
    .join(",")
}

/// The rows of a metrics file, and the lines that did not parse.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Every row that parsed, in file order.
    pub rows: Vec<MetricsRow>,
    /// Line numbers (from 1) of the lines that did not: a crash can tear the last one.
    pub bad_lines: Vec<usize>,
}

/// Reads a metrics file, skipping (and listing) lines that do not parse; only a file that
/// cannot be read, or whose header is not today's columns (or those of older files), is an error.
pub fn read_metrics(path: &Path) -> Result<Metrics> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    if header != COLUMNS && header != OLD_COLUMNS {
        bail!("{}: not a metrics file (its first line is not `{}`)", path.display(), COLUMNS.join(","));
    }
    let mut metrics = Metrics::default();
    for (i, line) in lines.enumerate() {
        match parse_row(&header, line) {
            Some(row) => metrics.rows.push(row),
            None => metrics.bad_lines.push(i + 2),
        }
    }
    Ok(metrics)
}

/// A row of a file whose columns are `header`; `None` when a cell does not parse.
fn parse_row(header: &[&str], line: &str) -> Option<MetricsRow> {
    let cells: Vec<&str> = line.split(',').collect();
    if cells.len() != header.len() {
        return None;
    }
    let cell = |name: &str| header.iter().position(|h| *h == name).map_or("", |i| cells[i]);
    let opt = |name: &str| -> Option<Option<f64>> {
        let s = cell(name);
        if s.is_empty() { Some(None) } else { s.parse().ok().map(Some) }
    };
    Some(MetricsRow {
        step: cell("step").parse().ok()?,
        epoch: cell("epoch").parse().ok()?,
        train_loss: opt("train_loss")?,
        val_loss: opt("val_loss")?,
        val_bpb: opt("val_bpb")?,
        lr: opt("lr")?,
        grad_norm: opt("grad_norm")?,
        tokens_per_sec: opt("tokens_per_sec")?,
        elapsed_s: opt("elapsed_s")?.unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: usize, train_loss: f64) -> MetricsRow {
        MetricsRow { step, epoch: 1, train_loss: Some(train_loss), elapsed_s: step as f64, ..Default::default() }
    }

    #[test]
    fn resuming_drops_a_torn_line_and_the_rows_after_the_checkpoint() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("metrics.csv");
        let mut writer = MetricsWriter::open(&path, None).expect("new file");
        for step in 1..=4 {
            writer.write(&row(step, 5.0 - step as f64)).expect("row");
        }
        drop(writer);
        // A crash in the middle of writing step 5's row.
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("5,1,0.12");
        std::fs::write(&path, text).expect("tear");
        let torn = read_metrics(&path).expect("a torn file still reads");
        assert_eq!(torn.rows.len(), 4);
        assert_eq!(torn.bad_lines, vec![6], "header, 4 rows, then the torn line");

        // Resumed from the checkpoint of step 2: rows 3 and 4 (and the torn 5) go.
        let mut writer = MetricsWriter::open(&path, Some(2)).expect("resume");
        writer.write(&row(3, 1.5)).expect("row");
        drop(writer);
        let steps: Vec<(usize, Option<f64>)> =
            read_metrics(&path).expect("read").rows.iter().map(|r| (r.step, r.train_loss)).collect();
        assert_eq!(steps, vec![(1, Some(4.0)), (2, Some(3.0)), (3, Some(1.5))]);
    }

    /// A link planted at metrics.csv to a file outside: a new run and a resumed one both replace
    /// the link with a file of their own and leave the outside file's bytes alone.
    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_the_metrics_file_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = dir.path().join("outside.csv");
        std::fs::write(&outside, format!("{}\n1,1,9,,,,,,1.000\n", COLUMNS.join(","))).expect("write");
        let path = dir.path().join("metrics.csv");
        for keep_up_to in [None, Some(1)] {
            let _ = std::fs::remove_file(&path);
            std::os::unix::fs::symlink(&outside, &path).expect("plant a link");
            let mut writer = MetricsWriter::open(&path, keep_up_to).expect("open");
            writer.write(&row(1, 2.0)).expect("row");
            drop(writer);
            assert_eq!(std::fs::read_to_string(&outside).expect("read"), format!("{}\n1,1,9,,,,,,1.000\n", COLUMNS.join(",")));
            assert!(std::fs::symlink_metadata(&path).expect("meta").is_file());
            let rows = read_metrics(&path).expect("read").rows;
            assert_eq!(rows.iter().map(|r| r.train_loss).collect::<Vec<_>>(), vec![Some(2.0)], "{keep_up_to:?}");
        }
    }

    /// A file written before the `val_bpb` column (8 columns) still reads, cell by cell under
    /// its own header; resuming from it rewrites it with today's columns, values kept.
    #[test]
    fn a_file_of_the_old_columns_reads_and_is_rewritten_with_the_new() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("metrics.csv");
        let old = format!("{}\n0,1,,4.17,,,,0.500\n10,1,3.5,,0.001,1.25,900,2.000\n", OLD_COLUMNS.join(","));
        std::fs::write(&path, old).expect("write");
        let rows = read_metrics(&path).expect("old file").rows;
        assert_eq!(rows[0].val_loss, Some(4.17));
        assert_eq!(rows[0].val_bpb, None);
        assert_eq!((rows[1].train_loss, rows[1].lr, rows[1].grad_norm, rows[1].elapsed_s), (Some(3.5), Some(0.001), Some(1.25), 2.0));
        let mut writer = MetricsWriter::open(&path, Some(10)).expect("resume");
        writer.write(&MetricsRow { step: 20, epoch: 1, val_loss: Some(3.0), val_bpb: Some(1.5), ..Default::default() }).expect("row");
        drop(writer);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            format!("{}\n0,1,,4.17,,,,,0.500\n10,1,3.5,,,0.001,1.25,900,2.000\n20,1,,3,1.5,,,,0.000\n", COLUMNS.join(","))
        );
    }
}
