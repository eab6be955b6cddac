//! Progress reporting: a bar on a terminal, plain lines otherwise, or nothing.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::EpochStats;

/// How the trainer reports progress on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// A progress bar with loss and throughput when stderr is a terminal,
    /// one plain line per epoch otherwise.
    #[default]
    Auto,
    /// One plain line per epoch.
    Plain,
    /// Nothing (tests).
    Quiet,
}

/// Draws the bar at most this often (in steps), so that tiny steps are not
/// slowed down by formatting.
const REDRAW_EVERY: usize = 8;

pub(crate) struct Reporter {
    mode: Progress,
    bar: Option<ProgressBar>,
    started: Instant,
    samples: usize,
    loss_sum: f64,
}

impl Reporter {
    pub(crate) fn new(mode: Progress) -> Self {
        let mode = match mode {
            Progress::Auto if !std::io::stderr().is_terminal() => Progress::Plain,
            other => other,
        };
        Self { mode, bar: None, started: Instant::now(), samples: 0, loss_sum: 0.0 }
    }

    pub(crate) fn start_epoch(&mut self, epoch: usize, epochs: usize, steps: usize) {
        self.started = Instant::now();
        self.samples = 0;
        self.loss_sum = 0.0;
        if self.mode == Progress::Auto {
            let bar = ProgressBar::new(steps as u64);
            let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
            self.bar = Some(bar);
        }
    }

    /// After a step of `samples` samples with mean loss `loss`.
    pub(crate) fn step(&mut self, step: usize, samples: usize, loss: f64) {
        self.samples += samples;
        self.loss_sum += loss * samples as f64;
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            if step.is_multiple_of(REDRAW_EVERY) {
                bar.set_message(format!(
                    "loss {:.4}, {:.0} samples/s",
                    self.loss_sum / self.samples.max(1) as f64,
                    self.samples as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
                ));
            }
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
        if self.mode == Progress::Quiet {
            return;
        }
        let mut line = format!("epoch {}/{epochs}: train loss {:.5}", stats.epoch, stats.train_loss);
        if let Some(v) = stats.val_loss {
            line += &format!(", val loss {v:.5}");
        }
        if let Some(a) = stats.val_accuracy {
            line += &format!(", val acc {:.2}%", 100.0 * a);
        }
        line += &format!(
            ", lr {:.3e}, {:.0} samples/s, {:.2}s",
            stats.lr,
            self.samples as f64 / stats.seconds.max(1e-9),
            stats.seconds
        );
        // A closed stderr must not stop training.
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}
