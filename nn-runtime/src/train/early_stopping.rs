//! Stopping when a metric has stopped improving, keeping the best epoch's weights.

use super::monitor::{Metric, Mode, Threshold};

/// Stops training after `patience` epochs in a row without an improvement
/// of a [`Metric`] by more than `min_delta`, and ends with the weights of
/// the best epoch (Keras's `EarlyStopping` with `restore_best_weights`).
///
/// By default it watches [`Metric::Loss`] (the validation loss, or the
/// training loss without validation data) with `min_delta` 0. A patience
/// alone converts into one, so `trainer.early_stopping(5)` works too.
///
/// ```
/// # use nn_runtime as nn;
/// use nn::train::{EarlyStopping, Metric};
///
/// // Stop once validation accuracy has not risen by more than a point in 4 epochs.
/// let stopping = EarlyStopping::new(4).monitor(Metric::ValAccuracy).min_delta(0.01);
/// assert_eq!(stopping.metric(), Metric::ValAccuracy);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStopping {
    patience: usize,
    metric: Metric,
    mode: Mode,
    min_delta: f64,
}

impl EarlyStopping {
    /// Stops after `patience` epochs without a lower [`Metric::Loss`].
    pub fn new(patience: usize) -> Self {
        Self { patience, metric: Metric::Loss, mode: Mode::Min, min_delta: 0.0 }
    }

    /// The metric to watch; also sets the mode to the metric's ([`Metric::mode`]).
    pub fn monitor(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self.mode = metric.mode();
        self
    }

    /// Whether lower (`Min`) or higher (`Max`) values are better.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// How much a value must beat the best so far by to count as an improvement.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// Epochs without improvement before training stops.
    pub fn patience(&self) -> usize {
        self.patience
    }

    /// The metric it watches.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Whether `value` improves on `best`.
    pub(crate) fn improves(&self, value: f64, best: f64) -> bool {
        self.mode.is_better(value, best, Threshold::Abs(self.min_delta))
    }

    /// The starting best, which any value improves on.
    pub(crate) fn worst(&self) -> f64 {
        self.mode.worst()
    }
}

impl From<usize> for EarlyStopping {
    fn from(patience: usize) -> Self {
        Self::new(patience)
    }
}
