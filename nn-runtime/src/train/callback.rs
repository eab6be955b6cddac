//! The hook a [`Trainer`](crate::train::Trainer) calls after every epoch.

use super::{EpochStats, History};

/// What a callback given to [`Trainer::on_epoch_end`](crate::train::Trainer::on_epoch_end)
/// sees after an epoch, and what it can change: the learning rate of the
/// next epochs, and whether training goes on.
///
/// ```
/// # #[cfg(feature = "datasets")] fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use nn_runtime as nn;
/// use nn::data::iris;
/// use nn::optim::Adam;
/// use nn::testing::LayerModel;
/// use nn::{seeded_rng, Dense, Init, Trainer};
///
/// let data = iris::<f64>();
/// let mut model = LayerModel::new(Dense::<f64, 4, 3>::new(&mut seeded_rng(0), Init::XavierNormal, true));
/// let mut trainer = Trainer::new(Adam::new(0.01)).epochs(50).quiet().on_epoch_end(|end| {
///     // A rate ten times lower from the fifth epoch on, and a stop after the tenth.
///     if end.stats().epoch == 4 {
///         end.set_lr(end.lr() / 10.0);
///     }
///     if end.history().epochs.len() == 10 {
///         end.stop();
///     }
/// });
/// let history = trainer.fit(&mut model, &data, None)?;
/// assert_eq!(history.epochs.len(), 10);
/// assert!(history.stopped_by_callback);
/// assert_eq!(history.epochs[4].lr, 0.001);
/// # Ok(()) }
/// # #[cfg(not(feature = "datasets"))] fn main() {}
/// ```
#[derive(Debug)]
pub struct EpochEnd<'a> {
    history: &'a History,
    lr: f64,
    stop: bool,
}

impl<'a> EpochEnd<'a> {
    pub(crate) fn new(history: &'a History, lr: f64) -> Self {
        Self { history, lr, stop: false }
    }

    /// Every epoch so far, this one last.
    pub fn history(&self) -> &History {
        self.history
    }

    /// The epoch that just ended.
    pub fn stats(&self) -> &EpochStats {
        self.history.epochs.last().expect("a callback runs after an epoch")
    }

    /// The learning rate the next step will use (after this epoch's schedule
    /// step and plateau check).
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Sets the learning rate of the following steps. A schedule
    /// ([`Trainer::schedule`](crate::train::Trainer::schedule)) sets its own rate
    /// again at its next step.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// Ends training after this epoch ([`History::stopped_by_callback`]).
    pub fn stop(&mut self) {
        self.stop = true;
    }

    /// (the learning rate asked for, whether to stop)
    pub(crate) fn outcome(&self) -> (f64, bool) {
        (self.lr, self.stop)
    }
}

/// A boxed callback, as the trainer keeps them.
pub(crate) type Callback = Box<dyn FnMut(&mut EpochEnd<'_>)>;
