//! Progress reporting: a bar with an ETA on a terminal, plain lines
//! otherwise, or nothing. The bar needs the `progress` feature; without it
//! `Auto` writes plain lines.

use std::io::{IsTerminal, Write};
use std::time::Duration;

#[cfg(feature = "progress")]
use indicatif::{ProgressBar as Bar, ProgressStyle};
// `std::time::Instant` panics in a browser (wasm32-unknown-unknown); web-time's is std's elsewhere.
use web_time::Instant;

use super::EpochStats;

/// How the trainer reports progress on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// A progress bar with loss, throughput and the epoch's ETA when stderr
    /// is a terminal, [`Progress::Plain`] lines otherwise.
    #[default]
    Auto,
    /// One plain line per epoch, with the ETA of the run; within an epoch
    /// that runs long, a line every half minute, so a log never goes quiet.
    Plain,
    /// Nothing (tests).
    Quiet,
}

/// Without the `progress` feature there is no bar: a type with no values keeps
/// `Reporter::bar` at `None` while the code that draws one still compiles.
#[cfg(not(feature = "progress"))]
enum Bar {}

#[cfg(not(feature = "progress"))]
impl Bar {
    fn set_position(&self, _: u64) {
        match *self {}
    }
    fn set_message(&self, _: String) {
        match *self {}
    }
    fn abandon(self) {
        match self {}
    }
    fn finish_and_clear(self) {
        match self {}
    }
}

/// Draws the bar at most this often (in steps), so that tiny steps are not
/// slowed down by formatting.
const REDRAW_EVERY: usize = 8;

/// Within an epoch, plain output writes a line at most this often.
const PLAIN_EVERY: Duration = Duration::from_secs(30);

pub(crate) struct Reporter {
    mode: Progress,
    bar: Option<Bar>,
    started: Instant,
    last_line: Instant,
    steps: usize,
    /// Steps of this epoch taken before a resume.
    resumed_at: usize,
    samples: usize,
    loss_sum: f64,
    /// Epochs finished in this call to `fit`, and their total seconds: the ETA's pace.
    finished: usize,
    finished_seconds: f64,
}

impl Reporter {
    pub(crate) fn new(mode: Progress) -> Self {
        let mode = match mode {
            Progress::Auto if !cfg!(feature = "progress") || !std::io::stderr().is_terminal() => Progress::Plain,
            other => other,
        };
        let now = Instant::now();
        Self {
            mode,
            bar: None,
            started: now,
            last_line: now,
            steps: 0,
            resumed_at: 0,
            samples: 0,
            loss_sum: 0.0,
            finished: 0,
            finished_seconds: 0.0,
        }
    }

    /// Starts epoch `epoch` of `epochs` with `steps` steps, of which `done`
    /// were taken before a resume.
    #[cfg_attr(not(feature = "progress"), allow(unused_variables))]
    pub(crate) fn start_epoch(&mut self, epoch: usize, epochs: usize, steps: usize, done: usize) {
        self.started = Instant::now();
        self.last_line = self.started;
        self.steps = steps;
        self.resumed_at = done;
        self.samples = 0;
        self.loss_sum = 0.0;
        #[cfg(feature = "progress")]
        if self.mode == Progress::Auto {
            let bar = Bar::new(steps as u64);
            let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
            bar.set_position(done as u64);
            // The ETA counts from here, not from the steps taken before a resume.
            bar.reset_eta();
            self.bar = Some(bar);
        }
    }

    /// After step `step` (from 1) of `samples` samples with mean loss `loss`.
    pub(crate) fn step(&mut self, epoch: usize, epochs: usize, step: usize, samples: usize, loss: f64) {
        self.samples += samples;
        self.loss_sum += loss * samples as f64;
        let mean = self.loss_sum / self.samples.max(1) as f64;
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            if step.is_multiple_of(REDRAW_EVERY) {
                let rate = self.samples as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("loss {mean:.4}, {rate:.0} samples/s"));
            }
        } else if self.mode == Progress::Plain && step < self.steps && self.last_line.elapsed() >= PLAIN_EVERY {
            self.last_line = Instant::now();
            // The steps taken since the epoch (or the resume) started set the pace.
            let per_step = self.started.elapsed().as_secs_f64() / step.saturating_sub(self.resumed_at).max(1) as f64;
            emit(&step_line(epoch, epochs, step, self.steps, mean, per_step * (self.steps - step) as f64));
        }
    }

    /// Leaves the bar where training stopped.
    pub(crate) fn abort(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }

    pub(crate) fn end_epoch(&mut self, stats: &EpochStats, epochs: usize) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.finished += 1;
        self.finished_seconds += stats.seconds;
        if self.mode == Progress::Quiet {
            return;
        }
        let rate = self.samples as f64 / stats.seconds.max(1e-9);
        emit(&epoch_line(stats, epochs, rate, self.eta(stats.epoch, epochs)));
    }

    /// Seconds the epochs after `epoch` will take, at the mean pace of the
    /// epochs finished so far.
    fn eta(&self, epoch: usize, epochs: usize) -> f64 {
        self.finished_seconds / self.finished.max(1) as f64 * epochs.saturating_sub(epoch) as f64
    }
}

/// Writes a line to stderr; a closed stderr must not stop training.
fn emit(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The line after an epoch: its measurements, throughput, time, and the
/// time the remaining epochs will take at the pace so far.
fn epoch_line(stats: &EpochStats, epochs: usize, samples_per_second: f64, left: f64) -> String {
    let mut line = format!("epoch {}/{epochs}: train loss {:.5}", stats.epoch, stats.train_loss);
    if let Some(v) = stats.val_loss {
        line += &format!(", val loss {v:.5}");
    }
    if let Some(a) = stats.val_accuracy {
        line += &format!(", val acc {:.2}%", 100.0 * a);
    }
    if let Some(e) = stats.val_rmse {
        line += &format!(", val rmse {e:.5}");
    }
    line += &format!(", lr {:.3e}, {samples_per_second:.0} samples/s, {:.2}s", stats.lr, stats.seconds);
    if stats.epoch < epochs {
        line += &format!(", ETA {}", duration(left));
    }
    line
}

/// The line written within a long epoch.
fn step_line(epoch: usize, epochs: usize, step: usize, steps: usize, loss: f64, left: f64) -> String {
    format!("epoch {epoch}/{epochs}: step {step}/{steps}, loss {loss:.5}, epoch ETA {}", duration(left))
}

/// `42s`, `3m05s`, `2h07m`.
fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(epoch: usize) -> EpochStats {
        EpochStats {
            epoch,
            train_loss: 0.5,
            val_loss: Some(0.25),
            val_accuracy: Some(0.9),
            val_precision: None,
            val_recall: None,
            val_f1: None,
            val_mae: None,
            val_rmse: None,
            lr: 1e-3,
            grad_norm_mean: 1.0,
            grad_norm_max: 2.0,
            grad_norms: vec![1.0],
            seconds: 2.0,
            padding: None,
        }
    }

    #[test]
    fn durations_read_as_seconds_minutes_hours() {
        assert_eq!(duration(0.4), "0s");
        assert_eq!(duration(59.4), "59s");
        assert_eq!(duration(185.0), "3m05s");
        assert_eq!(duration(7620.0), "2h07m");
        assert_eq!(duration(-3.0), "0s");
    }

    #[test]
    fn an_epoch_line_ends_with_the_time_the_rest_will_take() {
        assert_eq!(
            epoch_line(&stats(3), 10, 500.0, 14.0),
            "epoch 3/10: train loss 0.50000, val loss 0.25000, val acc 90.00%, lr 1.000e-3, 500 samples/s, 2.00s, ETA 14s"
        );
        assert!(!epoch_line(&stats(10), 10, 500.0, 0.0).contains("ETA"), "no ETA after the last epoch");
        assert_eq!(step_line(1, 1, 600, 3000, 0.125, 130.0), "epoch 1/1: step 600/3000, loss 0.12500, epoch ETA 2m10s");
    }

    #[test]
    fn the_eta_is_the_mean_epoch_time_times_the_epochs_left() {
        let mut r = Reporter::new(Progress::Quiet);
        for (epoch, seconds) in [(1, 2.0), (2, 4.0)] {
            r.start_epoch(epoch, 5, 1, 0);
            r.end_epoch(&EpochStats { seconds, ..stats(epoch) }, 5);
        }
        assert_eq!(r.eta(2, 5), 9.0);
        assert_eq!(r.eta(5, 5), 0.0);
    }
}
