//! Progress of a long pass (over the corpus, or over evaluation examples): on a terminal an
//! indicatif bar with the amount done, throughput and ETA; otherwise (a log file, a pipe) a plain
//! line every few seconds.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// `bytes` in MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Seconds between plain progress lines.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// What a [`Progress`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Bytes,
    /// Items of the given plural name (`examples`).
    Items(&'static str),
}

/// Bytes (or items) done out of a known total.
pub struct Progress {
    label: String,
    unit: Unit,
    total: u64,
    done: u64,
    /// Bytes done before this run (resumed): not part of the throughput.
    initial: u64,
    start: Instant,
    last_line: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts reporting `label` over `total` bytes, `done` of which are already done (resumed).
    pub fn new(label: &str, total: u64, done: u64) -> Self {
        Self::start(label, Unit::Bytes, total, done)
    }

    /// Starts reporting `label` over `total` items called `items` (plural, e.g. `examples`).
    pub fn items(label: &str, items: &'static str, total: u64) -> Self {
        Self::start(label, Unit::Items(items), total, 0)
    }

    fn start(label: &str, unit: Unit, total: u64, done: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let template = match unit {
                Unit::Bytes => "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}".to_string(),
                Unit::Items(items) => format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {items} {{per_sec}} ETA {{eta}}"),
            };
            bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
            bar.set_message(label.to_string());
            bar.set_position(done);
            bar.reset_eta();
            bar
        });
        let now = Instant::now();
        Self { label: label.to_string(), unit, total, done, initial: done, start: now, last_line: now, bar }
    }

    /// Records `bytes` (or items) more done.
    pub fn add(&mut self, bytes: u64) {
        self.done += bytes;
        match &self.bar {
            Some(bar) => bar.inc(bytes),
            None if self.last_line.elapsed() >= LINE_EVERY => {
                self.last_line = Instant::now();
                crate::errln!("{}", self.line());
            }
            None => {}
        }
    }

    /// Records that `done` bytes in all are done (no change when fewer than so far).
    pub fn to(&mut self, done: u64) {
        if done > self.done {
            self.add(done - self.done);
        }
    }

    /// Clears the bar and returns the time taken.
    pub fn finish(self) -> Duration {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.start.elapsed()
    }

    fn line(&self) -> String {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let rate = (self.done - self.initial) as f64 / secs;
        let eta = if rate > 0.0 { self.total.saturating_sub(self.done) as f64 / rate } else { f64::INFINITY };
        if let Unit::Items(items) = self.unit {
            return format!(
                "{}: {} of {} {items} ({:.0}%), {rate:.1} {items}/s, ETA {eta:.0} s",
                self.label,
                self.done,
                self.total,
                100.0 * self.done as f64 / self.total.max(1) as f64,
            );
        }
        format!(
            "{}: {:.0} of {:.0} MiB ({:.0}%), {:.1} MiB/s, ETA {:.0} s",
            self.label,
            mib(self.done),
            mib(self.total),
            100.0 * self.done as f64 / self.total.max(1) as f64,
            mib(rate as u64),
            eta
        )
    }
}
