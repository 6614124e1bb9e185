//! What a person watching the run sees: log lines, a progress bar, warnings, metrics.csv.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::report::{MetricsRow, MetricsWriter};
use crate::train::Scores;

/// Consecutive rising validation losses reported as overfitting.
pub const OVERFIT_EVALS: usize = 3;

/// Log lines, progress bar and metrics of one run.
pub struct Monitor {
    bar: Option<ProgressBar>,
    /// `None` on ranks other than 0 of a multi-process run: rank 0 writes the file.
    metrics: Option<MetricsWriter>,
    start: Instant,
    window_start: Instant,
    window_steps: usize,
    tokens_per_step: usize,
    total_steps: usize,
    epochs: usize,
    last_val: Option<f64>,
    rising: usize,
}

impl Monitor {
    /// Starts the clock; a progress bar is drawn on stderr only when it is a terminal. The
    /// metrics file (none: this rank does not write it) is new, or (resuming from step
    /// `resumed_at`) keeps its rows up to that step.
    pub fn new(
        total_steps: usize,
        epochs: usize,
        tokens_per_step: usize,
        metrics_path: Option<&Path>,
        resumed_at: Option<usize>,
    ) -> Result<Self> {
        let bar = (metrics_path.is_some() && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total_steps as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} steps [{elapsed_precise} < {eta_precise}] {msg}") {
                bar.set_style(style);
            }
            bar
        });
        Ok(Self {
            bar,
            metrics: metrics_path.map(|path| MetricsWriter::open(path, resumed_at)).transpose()?,
            start: Instant::now(),
            window_start: Instant::now(),
            window_steps: 0,
            tokens_per_step,
            total_steps,
            epochs,
            last_val: None,
            rising: 0,
        })
    }

    /// Prints one line to stdout (above the progress bar, if any).
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| crate::outln!("{text}")),
            None => crate::outln!("{text}"),
        }
    }

    /// Seconds since the run started.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Counts a finished step.
    pub fn step_done(&mut self) {
        self.window_steps += 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Logs a training step (the trainer has checked that its loss is sane).
    pub fn log_train(&mut self, step: usize, epoch: usize, loss: f64, lr: f64, grad_norm: f64) -> Result<()> {
        let tok_s = (self.tokens_per_step * self.window_steps) as f64 / self.window_start.elapsed().as_secs_f64();
        let elapsed = self.elapsed();
        self.line(&format!(
            "Epoch {epoch}/{} | Step {step}/{} | Loss: {loss:.4} | LR: {} | Grad norm: {grad_norm:.3} | Tok/s: {} | Elapsed: {elapsed:.1}s",
            self.epochs,
            self.total_steps,
            sci(lr),
            group(tok_s as usize)
        ));
        if let Some(bar) = &self.bar {
            bar.set_message(format!("loss {loss:.4}"));
        }
        self.write(&MetricsRow {
            step,
            epoch,
            train_loss: Some(loss),
            lr: Some(lr),
            grad_norm: Some(grad_norm),
            tokens_per_sec: Some(tok_s),
            elapsed_s: elapsed,
            ..Default::default()
        })?;
        self.restart_window();
        Ok(())
    }

    /// Logs a validation loss and bits per byte, and warns when the loss has risen
    /// `OVERFIT_EVALS` times in a row.
    pub fn log_val(&mut self, step: usize, epoch: usize, scores: Scores) -> Result<()> {
        let val_loss = scores.loss;
        self.line(&format!(
            "Epoch {epoch}/{} | Step {step}/{} | Val loss: {val_loss:.4} | Val ppl: {:.2} | Val bpb: {:.4}",
            self.epochs,
            self.total_steps,
            val_loss.exp(),
            scores.bpb
        ));
        if let Some(last) = self.last_val {
            self.rising = if val_loss > last { self.rising + 1 } else { 0 };
            if self.rising == OVERFIT_EVALS {
                self.line(&format!(
                    "Warning: the validation loss has risen for {OVERFIT_EVALS} evaluations in a row (now {val_loss:.4}): \
                     the model is overfitting; stop earlier, add dropout or use more data"
                ));
            }
        }
        self.last_val = Some(val_loss);
        self.write(&MetricsRow {
            step,
            epoch,
            val_loss: Some(val_loss),
            val_bpb: scores.bpb.is_finite().then_some(scores.bpb),
            elapsed_s: self.elapsed(),
            ..Default::default()
        })?;
        self.restart_window();
        Ok(())
    }

    fn write(&mut self, row: &MetricsRow) -> Result<()> {
        match &mut self.metrics {
            Some(metrics) => metrics.write(row),
            None => Ok(()),
        }
    }

    /// Excludes time spent outside training steps (evaluation, saving) from throughput.
    pub fn restart_window(&mut self) {
        self.window_start = Instant::now();
        self.window_steps = 0;
    }

    /// Removes the progress bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1.5e-4` -> `"1.50e-04"` (two exponent digits, as in the spec's log).
pub fn sci(x: f64) -> String {
    let s = format!("{x:.2e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// `1234567` -> `"1,234,567"`.
pub fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
