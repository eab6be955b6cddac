//! What a training run measured, epoch by epoch; saved as CSV and plotted as SVG.

use std::fmt;
use std::path::{Path, PathBuf};

#[cfg(feature = "plot")]
use plotters::prelude::*;

use crate::diagnostics::GradientFlow;

/// One epoch's measurements. More may be recorded in later versions, so it
/// is read, not built or destructured without `..`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EpochStats {
    /// Counted from 1.
    pub epoch: usize,
    /// Mean loss over the epoch's training samples (auxiliary-head losses
    /// included with their weights), measured in training mode before each step.
    pub train_loss: f64,
    /// Loss on the validation set after the epoch, in evaluation mode.
    pub val_loss: Option<f64>,
    /// Share of validation samples classified right (see [`crate::train::Evaluation::accuracy`]).
    pub val_accuracy: Option<f64>,
    /// Macro-averaged precision, recall and F1 on the validation set, for
    /// classes ([`crate::train::ConfusionMatrix`]).
    pub val_precision: Option<f64>,
    /// Macro-averaged recall on the validation set, for classes.
    pub val_recall: Option<f64>,
    /// Macro-averaged F1 on the validation set, for classes.
    pub val_f1: Option<f64>,
    /// Mean absolute error and root mean squared error on the validation set,
    /// for real targets ([`crate::train::Evaluation::mae`]).
    pub val_mae: Option<f64>,
    /// Root mean squared error on the validation set, for real targets.
    pub val_rmse: Option<f64>,
    /// The learning rate of this epoch's steps.
    pub lr: f64,
    /// Mean and maximum over the epoch's steps of the global gradient norm before clipping.
    pub grad_norm_mean: f64,
    /// The largest global gradient norm before clipping among the epoch's steps.
    pub grad_norm_max: f64,
    /// The global gradient norm before clipping of every step, in order.
    pub grad_norms: Vec<f64>,
    /// Wall-clock time of the epoch, validation included.
    pub seconds: f64,
    /// For sequences of different lengths: the share of the epoch's padded
    /// steps (each batch padded to its longest sequence) that were padding.
    /// Recurrent layers run packed and never compute on padding; this says
    /// how well the trainer's bucketing grouped similar lengths.
    pub padding: Option<f64>,
}

/// The record of a [`crate::train::Trainer::fit`] run. Like [`EpochStats`], it
/// may grow fields.
///
/// [`History::to_csv`] writes one row per epoch, which [`History::from_csv`]
/// reads back exactly; [`History::to_svg`] plots loss and accuracy.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct History {
    /// One record per epoch trained, in order.
    pub epochs: Vec<EpochStats>,
    /// With early stopping or a checkpoint: the epoch with the best value of
    /// the watched metric ([`crate::train::EarlyStopping`]; the validation
    /// loss, or the training loss without validation data, by default).
    /// Early stopping ends with its weights; the checkpoint file holds them.
    pub best_epoch: Option<usize>,
    /// Whether training stopped before the last epoch for lack of improvement.
    pub stopped_early: bool,
    /// Whether a callback ([`crate::train::Trainer::on_epoch_end`]) stopped training.
    pub stopped_by_callback: bool,
    /// With [`crate::train::Trainer::gradient_flow`]: (epoch, measurement after it).
    pub gradient_flows: Vec<(usize, GradientFlow)>,
}

/// A history that could not be written, read or plotted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why reading or writing it failed.
        source: std::io::Error,
    },
    /// The CSV is malformed (the message holds its line).
    #[error("history CSV: {0}")]
    Csv(#[from] csv::Error),
    /// A column the history needs is not in the header.
    #[error("history CSV: no column `{0}` in the header")]
    MissingColumn(&'static str),
    /// A field is not a number of the column's kind.
    #[error("history CSV line {line}, column `{column}`: `{found}` is not {expected}")]
    Value {
        /// The line of the CSV, from 1.
        line: u64,
        /// The column's name.
        column: &'static str,
        /// The field's text.
        found: String,
        /// What the column holds, e.g. "a number".
        expected: &'static str,
    },
    /// There is no epoch to plot.
    #[error("the history has no epochs to plot")]
    Empty,
    /// plotters failed to draw.
    #[error("plotting the history: {0}")]
    Plot(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The CSV columns, in order. `grad_norms` holds the step norms separated by
/// spaces; an optional value that was not measured is an empty field.
const COLUMNS: [&str; 14] = [
    "epoch",
    "train_loss",
    "val_loss",
    "val_accuracy",
    "val_precision",
    "val_recall",
    "val_f1",
    "val_mae",
    "val_rmse",
    "lr",
    "grad_norm_mean",
    "grad_norm_max",
    "seconds",
    "grad_norms",
];

/// A column written after [`COLUMNS`] and read when present, so that files
/// written before it existed still read: the share of padding.
const PADDING: &str = "padding";

impl History {
    /// The last epoch's measurements.
    pub fn last(&self) -> Option<&EpochStats> {
        self.epochs.last()
    }

    /// One CSV row per epoch under a header of column names (`epoch`,
    /// `train_loss`, `val_loss`, `val_accuracy`, ..., `grad_norms`). Numbers
    /// are written in full (Rust's shortest exact form), so reading them back
    /// gives the same bits; a value that was not measured is an empty field.
    /// A run on sequences of different lengths adds a last column, `padding`.
    /// The best epoch, the stop flags and gradient flows are not rows and
    /// are not written.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        // Writing into memory cannot fail, and every record has the header's length.
        let padded = self.epochs.iter().any(|e| e.padding.is_some());
        let _ = w.write_record(COLUMNS.iter().chain(padded.then_some(&PADDING)));
        let opt = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
        for e in &self.epochs {
            let norms: Vec<String> = e.grad_norms.iter().map(f64::to_string).collect();
            let row = [
                e.epoch.to_string(),
                e.train_loss.to_string(),
                opt(e.val_loss),
                opt(e.val_accuracy),
                opt(e.val_precision),
                opt(e.val_recall),
                opt(e.val_f1),
                opt(e.val_mae),
                opt(e.val_rmse),
                e.lr.to_string(),
                e.grad_norm_mean.to_string(),
                e.grad_norm_max.to_string(),
                e.seconds.to_string(),
                norms.join(" "),
            ];
            let _ = w.write_record(row.into_iter().chain(padded.then(|| opt(e.padding))));
        }
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// Reads the epochs of [`History::to_csv`]'s output (columns found by
    /// name; others are ignored). The other fields of the result are unset.
    pub fn from_csv(text: &str) -> Result<History, HistoryError> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers()?.clone();
        let mut at = [0; COLUMNS.len()];
        for (slot, name) in at.iter_mut().zip(COLUMNS) {
            *slot = header.iter().position(|h| h == name).ok_or(HistoryError::MissingColumn(name))?;
        }
        let padding_at = header.iter().position(|h| h == PADDING);
        let mut history = History::default();
        for record in reader.records() {
            let record = record?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |k: usize| (COLUMNS[k], record.get(at[k]).unwrap_or(""));
            let number = |k: usize| {
                let (column, found) = field(k);
                found.parse::<f64>().map_err(|_| HistoryError::Value {
                    line,
                    column,
                    found: found.to_string(),
                    expected: "a number",
                })
            };
            let optional = |k: usize| if field(k).1.is_empty() { Ok(None) } else { number(k).map(Some) };
            let (column, found) = field(0);
            let epoch = found.parse::<usize>().map_err(|_| HistoryError::Value {
                line,
                column,
                found: found.to_string(),
                expected: "an epoch number",
            })?;
            let (column, norms) = field(13);
            let grad_norms = norms
                .split_whitespace()
                .map(|v| {
                    v.parse::<f64>().map_err(|_| HistoryError::Value {
                        line,
                        column,
                        found: v.to_string(),
                        expected: "a number",
                    })
                })
                .collect::<Result<Vec<f64>, _>>()?;
            history.epochs.push(EpochStats {
                epoch,
                train_loss: number(1)?,
                val_loss: optional(2)?,
                val_accuracy: optional(3)?,
                val_precision: optional(4)?,
                val_recall: optional(5)?,
                val_f1: optional(6)?,
                val_mae: optional(7)?,
                val_rmse: optional(8)?,
                lr: number(9)?,
                grad_norm_mean: number(10)?,
                grad_norm_max: number(11)?,
                seconds: number(12)?,
                grad_norms,
                padding: match padding_at.and_then(|k| record.get(k)).filter(|v| !v.is_empty()) {
                    Some(v) => Some(v.parse::<f64>().map_err(|_| HistoryError::Value {
                        line,
                        column: PADDING,
                        found: v.to_string(),
                        expected: "a number",
                    })?),
                    None => None,
                },
            });
        }
        Ok(history)
    }

    /// Writes [`History::to_csv`] to `path`.
    pub fn save_csv(&self, path: impl AsRef<Path>) -> Result<(), HistoryError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_csv()).map_err(|source| HistoryError::Io { path: path.to_path_buf(), source })
    }

    /// Reads a file written by [`History::save_csv`].
    pub fn load_csv(path: impl AsRef<Path>) -> Result<History, HistoryError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| HistoryError::Io { path: path.to_path_buf(), source })?;
        History::from_csv(&text)
    }
}

/// Plots need the `plot` feature (plotters).
#[cfg(feature = "plot")]
impl History {
    /// An SVG document: the training and validation loss per epoch, and
    /// beside it the validation accuracy when it was measured.
    pub fn to_svg(&self) -> Result<String, HistoryError> {
        if self.epochs.is_empty() {
            return Err(HistoryError::Empty);
        }
        let series = |name: &'static str, get: fn(&EpochStats) -> Option<f64>| {
            let points: Vec<(f64, f64)> = self
                .epochs
                .iter()
                .filter_map(|e| get(e).filter(|v| v.is_finite()).map(|v| (e.epoch as f64, v)))
                .collect();
            (name, points)
        };
        let losses = [series("train loss", |e| Some(e.train_loss)), series("val loss", |e| e.val_loss)];
        let accuracy = series("val accuracy", |e| e.val_accuracy.map(|a| 100.0 * a));
        let panels = if accuracy.1.is_empty() { 1 } else { 2 };

        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (520 * panels, 400)).into_drawing_area();
            root.fill(&WHITE).map_err(plot_error)?;
            let areas = root.split_evenly((1, panels as usize));
            let first = self.epochs[0].epoch as f64;
            let last = self.epochs.iter().map(|e| e.epoch as f64).fold(first, f64::max);
            draw_panel(&areas[0], "Loss", "loss", &losses, first, last)?;
            if let Some(area) = areas.get(1) {
                draw_panel(area, "Accuracy", "accuracy (%)", std::slice::from_ref(&accuracy), first, last)?;
            }
            root.present().map_err(plot_error)?;
        }
        Ok(svg)
    }

    /// Writes [`History::to_svg`] to `path`.
    pub fn save_svg(&self, path: impl AsRef<Path>) -> Result<(), HistoryError> {
        let svg = self.to_svg()?;
        let path = path.as_ref();
        std::fs::write(path, svg).map_err(|source| HistoryError::Io { path: path.to_path_buf(), source })
    }
}

#[cfg(feature = "plot")]
fn plot_error(e: DrawingAreaErrorKind<std::io::Error>) -> HistoryError {
    HistoryError::Plot(Box::new(e))
}

#[cfg(feature = "plot")]
/// One chart of `lines` (named point lists) over the epochs `first..=last`.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    lines: &[(&str, Vec<(f64, f64)>)],
    first: f64,
    last: f64,
) -> Result<(), HistoryError> {
    let values = lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    // A margin keeps flat lines off the frame.
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(first..last.max(first + 1.0), lo - pad..hi + pad)
        .map_err(plot_error)?;
    chart.configure_mesh().x_desc("epoch").y_desc(y_desc).draw().map_err(plot_error)?;
    for (n, (name, points)) in lines.iter().enumerate().filter(|(_, (_, p))| !p.is_empty()) {
        let colour = Palette99::pick(n).to_rgba();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))
            .map_err(plot_error)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

fn opt(v: Option<f64>, width: usize, precision: usize) -> String {
    v.map_or_else(|| format!("{:>width$}", "-"), |v| format!("{v:>width$.precision$}"))
}

impl fmt::Display for History {
    /// A table with one line per epoch.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "epoch  train loss    val loss  val acc        lr  grad norm (mean/max)   seconds")?;
        for e in &self.epochs {
            let best = if self.best_epoch == Some(e.epoch) { " *" } else { "" };
            writeln!(
                f,
                "{:>5}  {:>10.5}  {}  {}  {:>8.2e}  {:>9.3e} / {:>9.3e}  {:>7.2}{best}",
                e.epoch,
                e.train_loss,
                opt(e.val_loss, 10, 5),
                e.val_accuracy.map_or_else(|| format!("{:>7}", "-"), |a| format!("{:>6.2}%", 100.0 * a)),
                e.lr,
                e.grad_norm_mean,
                e.grad_norm_max,
                e.seconds
            )?;
        }
        if self.stopped_early {
            writeln!(f, "stopped early; weights of epoch {} restored", self.best_epoch.unwrap_or(0))?;
        }
        if self.stopped_by_callback {
            writeln!(f, "stopped by a callback")?;
        }
        Ok(())
    }
}
