//! What a training run measured, epoch by epoch.

use std::fmt;

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
    /// Share of validation samples whose largest output is their class.
    pub val_accuracy: Option<f64>,
    /// The learning rate of this epoch's steps.
    pub lr: f64,
    /// Mean and maximum over the epoch's steps of the global gradient norm before clipping.
    pub grad_norm_mean: f64,
    pub grad_norm_max: f64,
    /// The global gradient norm before clipping of every step, in order.
    pub grad_norms: Vec<f64>,
    /// Wall-clock time of the epoch, validation included.
    pub seconds: f64,
}

/// The record of a [`crate::Trainer::fit`] run. Like [`EpochStats`], it
/// may grow fields.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct History {
    pub epochs: Vec<EpochStats>,
    /// With early stopping or a checkpoint: the epoch with the lowest
    /// validation loss (training loss without validation data). Early
    /// stopping ends with its weights; the checkpoint file holds them.
    pub best_epoch: Option<usize>,
    /// Whether training stopped before the last epoch for lack of improvement.
    pub stopped_early: bool,
    /// With [`crate::Trainer::gradient_flow`]: (epoch, measurement after it).
    pub gradient_flows: Vec<(usize, GradientFlow)>,
}

impl History {
    /// The last epoch's measurements.
    pub fn last(&self) -> Option<&EpochStats> {
        self.epochs.last()
    }
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
        Ok(())
    }
}
