//! What early stopping, ReduceLROnPlateau and checkpoints watch: a
//! [`Metric`] of each epoch, and when a new value counts as an improvement.

use std::fmt;

use super::EpochStats;

/// A number measured after every epoch, read from its [`EpochStats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// The validation loss, or the training loss when there is no validation
    /// data: what early stopping and checkpoints watch unless told otherwise.
    Loss,
    /// [`EpochStats::train_loss`].
    TrainLoss,
    /// [`EpochStats::val_loss`].
    ValLoss,
    /// [`EpochStats::val_accuracy`].
    ValAccuracy,
    /// [`EpochStats::val_precision`] (macro average over classes).
    ValPrecision,
    /// [`EpochStats::val_recall`] (macro average over classes).
    ValRecall,
    /// [`EpochStats::val_f1`] (macro average over classes).
    ValF1,
    /// [`EpochStats::val_mae`].
    ValMae,
    /// [`EpochStats::val_rmse`].
    ValRmse,
}

/// Whether smaller or larger values of a metric are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Smaller is better (losses, errors).
    Min,
    /// Larger is better (accuracy, F1).
    Max,
}

/// By how much a value must beat the best so far to count as better,
/// as torch's `threshold_mode`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Threshold {
    /// `rel`: better than `best * (1 - t)` (`Min`) or `best * (1 + t)` (`Max`).
    Rel(f64),
    /// `abs`: better than `best - t` (`Min`) or `best + t` (`Max`); Keras's `min_delta`.
    Abs(f64),
}

impl Metric {
    /// This metric's value in `epoch`, if it was measured.
    pub fn of(self, epoch: &EpochStats) -> Option<f64> {
        match self {
            Metric::Loss => Some(epoch.val_loss.unwrap_or(epoch.train_loss)),
            Metric::TrainLoss => Some(epoch.train_loss),
            Metric::ValLoss => epoch.val_loss,
            Metric::ValAccuracy => epoch.val_accuracy,
            Metric::ValPrecision => epoch.val_precision,
            Metric::ValRecall => epoch.val_recall,
            Metric::ValF1 => epoch.val_f1,
            Metric::ValMae => epoch.val_mae,
            Metric::ValRmse => epoch.val_rmse,
        }
    }

    /// Losses and errors are better smaller, the others larger.
    pub fn mode(self) -> Mode {
        match self {
            Metric::Loss | Metric::TrainLoss | Metric::ValLoss | Metric::ValMae | Metric::ValRmse => Mode::Min,
            Metric::ValAccuracy | Metric::ValPrecision | Metric::ValRecall | Metric::ValF1 => Mode::Max,
        }
    }

    /// What must be there for the metric to be measured, or `None` when the
    /// training data alone gives it.
    pub(crate) fn needs(self) -> Option<Needs> {
        match self {
            Metric::Loss | Metric::TrainLoss => None,
            Metric::ValLoss => Some(Needs::Validation),
            Metric::ValAccuracy | Metric::ValPrecision | Metric::ValRecall | Metric::ValF1 => Some(Needs::Classes),
            Metric::ValMae | Metric::ValRmse => Some(Needs::RealTargets),
        }
    }
}

/// What validation data a metric needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Needs {
    Validation,
    /// Classes: class labels with softmax cross-entropy, or 0/1 targets with
    /// binary cross-entropy.
    Classes,
    /// Real targets with the mean squared error.
    RealTargets,
}

impl fmt::Display for Metric {
    /// The name of its column in [`History::to_csv`](super::History::to_csv).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Metric::Loss => "loss (validation, else training)",
            Metric::TrainLoss => "train_loss",
            Metric::ValLoss => "val_loss",
            Metric::ValAccuracy => "val_accuracy",
            Metric::ValPrecision => "val_precision",
            Metric::ValRecall => "val_recall",
            Metric::ValF1 => "val_f1",
            Metric::ValMae => "val_mae",
            Metric::ValRmse => "val_rmse",
        })
    }
}

impl Mode {
    /// The value every measurement beats: torch's `mode_worse`.
    pub(crate) fn worst(self) -> f64 {
        match self {
            Mode::Min => f64::INFINITY,
            Mode::Max => f64::NEG_INFINITY,
        }
    }

    /// Whether `value` beats `best` by more than `threshold`, with torch's
    /// `_is_better` arithmetic (so a NaN is never better).
    pub(crate) fn is_better(self, value: f64, best: f64, threshold: Threshold) -> bool {
        match (self, threshold) {
            (Mode::Min, Threshold::Rel(t)) => value < best * (1.0 - t),
            (Mode::Min, Threshold::Abs(t)) => value < best - t,
            (Mode::Max, Threshold::Rel(t)) => value > best * (t + 1.0),
            (Mode::Max, Threshold::Abs(t)) => value > best + t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improvement_follows_torchs_four_cases() {
        let (min, max) = (Mode::Min, Mode::Max);
        assert!(min.is_better(0.89, 1.0, Threshold::Rel(0.1)));
        assert!(!min.is_better(0.9, 1.0, Threshold::Rel(0.1)));
        assert!(min.is_better(0.49, 1.0, Threshold::Abs(0.5)));
        assert!(!min.is_better(0.5, 1.0, Threshold::Abs(0.5)));
        assert!(max.is_better(1.11, 1.0, Threshold::Rel(0.1)));
        assert!(!max.is_better(1.1, 1.0, Threshold::Rel(0.1)));
        assert!(max.is_better(1.6, 1.0, Threshold::Abs(0.5)));
        assert!(!max.is_better(1.5, 1.0, Threshold::Abs(0.5)));
        assert!(min.is_better(1e300, min.worst(), Threshold::Rel(1e-4)), "anything beats the start");
        assert!(!min.is_better(f64::NAN, min.worst(), Threshold::Abs(0.0)));
        assert!(!max.is_better(f64::NAN, max.worst(), Threshold::Abs(0.0)));
    }
}
