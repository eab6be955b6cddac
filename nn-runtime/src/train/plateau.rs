//! Lowering the learning rate when a metric stops improving, as
//! `torch.optim.lr_scheduler.ReduceLROnPlateau`.

use super::monitor::{Metric, Mode, Threshold};
use crate::kernels::Float;
use crate::optim::Optimizer;

/// `torch.optim.lr_scheduler.ReduceLROnPlateau`: after more than `patience`
/// epochs in a row without an improvement of the metric, the learning rate
/// is multiplied by `factor` (never below `min_lr`), then `cooldown` epochs
/// pass before bad epochs count again.
///
/// Give it to [`Trainer::reduce_lr_on_plateau`](crate::train::Trainer::reduce_lr_on_plateau),
/// which calls [`ReduceLrOnPlateau::step`] after every epoch with the
/// [`Metric`] it watches, or call `step` from a loop of your own:
///
/// ```
/// # use nn_runtime as nn;
/// use nn::optim::{Optimizer, Sgd};
/// use nn::train::ReduceLrOnPlateau;
///
/// let mut sgd = Sgd::<f32>::new(0.1);
/// let mut plateau = ReduceLrOnPlateau::new().factor(0.5).patience(1);
/// for val_loss in [1.0, 0.8, 0.8, 0.8, 0.8, 0.8] {
///     plateau.step(val_loss, &mut sgd);
/// }
/// // Two epochs without improvement (more than the patience of 1) halve the
/// // rate, and two more halve it again.
/// assert_eq!(sgd.lr(), 0.025);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceLrOnPlateau {
    metric: Metric,
    mode: Mode,
    factor: f64,
    patience: usize,
    threshold: Threshold,
    cooldown: usize,
    min_lr: f64,
    eps: f64,
    state: PlateauState,
}

/// Where a [`ReduceLrOnPlateau`] stands: torch's `state_dict` entries that
/// change while training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PlateauState {
    pub(crate) best: f64,
    pub(crate) num_bad_epochs: usize,
    pub(crate) cooldown_counter: usize,
    pub(crate) last_epoch: usize,
}

impl Default for ReduceLrOnPlateau {
    fn default() -> Self {
        Self::new()
    }
}

impl ReduceLrOnPlateau {
    /// torch's defaults: mode `min` on [`Metric::Loss`], factor 0.1, patience
    /// 10, threshold 1e-4 relative, cooldown 0, min_lr 0, eps 1e-8.
    pub fn new() -> Self {
        let mode = Mode::Min;
        Self {
            metric: Metric::Loss,
            mode,
            factor: 0.1,
            patience: 10,
            threshold: Threshold::Rel(1e-4),
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            state: PlateauState { best: mode.worst(), num_bad_epochs: 0, cooldown_counter: 0, last_epoch: 0 },
        }
    }

    /// The metric the [`Trainer`](crate::train::Trainer) passes to [`Self::step`];
    /// also sets the mode to the metric's ([`Metric::mode`]).
    pub fn monitor(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self.mode(metric.mode())
    }

    /// Whether lower (`Min`) or higher (`Max`) values are better.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self.state.best = mode.worst();
        self
    }

    /// The rate is multiplied by this (torch requires it below 1; the
    /// `Trainer` refuses other values when `fit` starts).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement that are tolerated; the next one lowers the rate.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// How much better a value must be to count ([`Threshold::Rel`] or [`Threshold::Abs`]).
    pub fn threshold(mut self, threshold: Threshold) -> Self {
        self.threshold = threshold;
        self
    }

    /// Epochs after a reduction during which bad epochs are not counted.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The rate never goes below this.
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    /// A reduction smaller than this is skipped.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// The metric it watches in a [`Trainer`](crate::train::Trainer).
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The best value seen so far.
    pub fn best(&self) -> f64 {
        self.state.best
    }

    /// Consecutive epochs without improvement, as torch's `num_bad_epochs`.
    pub fn bad_epochs(&self) -> usize {
        self.state.num_bad_epochs
    }

    /// Epochs of cooldown left, as torch's `cooldown_counter`.
    pub fn cooldown_left(&self) -> usize {
        self.state.cooldown_counter
    }

    pub(crate) fn state(&self) -> PlateauState {
        self.state
    }

    pub(crate) fn set_state(&mut self, state: PlateauState) {
        self.state = state;
    }

    /// The factor, if it can lower a rate: torch refuses a factor of 1 or more.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.factor < 1.0 && self.factor >= 0.0 {
            Ok(())
        } else {
            Err("ReduceLrOnPlateau needs a factor in [0, 1)")
        }
    }

    /// torch's `step(metrics)`: records this epoch's `value` of the metric
    /// and lowers `optimizer`'s learning rate when the plateau has lasted
    /// more than `patience` epochs.
    pub fn step<T: Float>(&mut self, value: f64, optimizer: &mut dyn Optimizer<T>) {
        let s = &mut self.state;
        s.last_epoch += 1;
        if self.mode.is_better(value, s.best, self.threshold) {
            s.best = value;
            s.num_bad_epochs = 0;
        } else {
            s.num_bad_epochs += 1;
        }
        if s.cooldown_counter > 0 {
            s.cooldown_counter -= 1;
            s.num_bad_epochs = 0;
        }
        if s.num_bad_epochs > self.patience {
            let old = optimizer.lr();
            let new = (old * self.factor).max(self.min_lr);
            if old - new > self.eps {
                optimizer.set_lr(new);
            }
            s.cooldown_counter = self.cooldown;
            s.num_bad_epochs = 0;
        }
    }
}
