//! Learning-rate schedules, as torch.optim.lr_scheduler's closed forms, driving
//! any [`Optimizer`] through `set_lr`.

use std::f64::consts::PI;

use super::Optimizer;
use crate::kernels::Float;

/// How the learning rate moves with the number of scheduler steps `t`
/// (torch's `last_epoch`), relative to the optimizer's starting rate `base`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Schedule {
    /// `base` throughout.
    Constant,
    /// `StepLR`: `base * gamma^(t / step_size)`.
    Step {
        /// Scheduler steps between decays.
        step_size: usize,
        /// Factor of each decay.
        gamma: f64,
    },
    /// `CosineAnnealingLR`: `eta_min + (base - eta_min) (1 + cos(pi t / t_max)) / 2`.
    Cosine {
        /// Scheduler steps from `base` down to `eta_min`.
        t_max: usize,
        /// The lowest learning rate.
        eta_min: f64,
    },
    /// `LinearLR` to 1: the factor rises from `start_factor` to 1 over `steps`, then stays.
    LinearWarmup {
        /// Factor of `base` at step 0.
        start_factor: f64,
        /// Scheduler steps to reach `base`.
        steps: usize,
    },
    /// `SequentialLR`: `first` before step `at`, then `then` counted from `at`.
    Sequence {
        /// The schedule before step `at`.
        first: Box<Schedule>,
        /// The scheduler step where `then` takes over.
        at: usize,
        /// The schedule from step `at` on, its steps counted from `at`.
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// This schedule until step `at`, then `next` (its steps counted from `at`):
    /// `LinearWarmup {..}.then(5, Cosine {..})` is warmup followed by annealing.
    pub fn then(self, at: usize, next: Schedule) -> Schedule {
        Schedule::Sequence { first: Box::new(self), at, then: Box::new(next) }
    }

    /// The learning rate after `t` scheduler steps.
    pub fn lr(&self, base: f64, t: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Step { step_size, gamma } => base * gamma.powi((t / (*step_size).max(1)) as i32),
            Schedule::Cosine { t_max, eta_min } => {
                eta_min + (base - eta_min) * (1.0 + (PI * t as f64 / (*t_max).max(1) as f64).cos()) / 2.0
            }
            Schedule::LinearWarmup { start_factor, steps } => {
                let progress = if *steps == 0 { 1.0 } else { t.min(*steps) as f64 / *steps as f64 };
                base * (start_factor + (1.0 - start_factor) * progress)
            }
            Schedule::Sequence { first, at, then } => {
                if t < *at {
                    first.lr(base, t)
                } else {
                    then.lr(base, t - at)
                }
            }
        }
    }
}

/// Applies a [`Schedule`] to an optimizer: call [`Scheduler::step`] after each
/// optimizer step or epoch, as torch's `scheduler.step()`.
#[derive(Clone, Debug)]
pub struct Scheduler {
    schedule: Schedule,
    base: Option<f64>,
    t: usize,
}

impl Scheduler {
    /// A scheduler at step 0 of `schedule`.
    pub fn new(schedule: Schedule) -> Self {
        Self { schedule, base: None, t: 0 }
    }

    /// Sets the starting learning rate (step 0): the optimizer's current rate
    /// becomes the base. Torch does this when the scheduler is constructed.
    pub fn start<T: Float>(&mut self, optimizer: &mut dyn Optimizer<T>) {
        let base = *self.base.get_or_insert(optimizer.lr());
        optimizer.set_lr(self.schedule.lr(base, self.t));
    }

    /// Where the schedule stands, for a training state: the base rate (once
    /// started) and the steps taken.
    pub(crate) fn position(&self) -> (Option<f64>, usize) {
        (self.base, self.t)
    }

    /// Puts back a [`Scheduler::position`].
    pub(crate) fn set_position(&mut self, (base, t): (Option<f64>, usize)) {
        (self.base, self.t) = (base, t);
    }

    /// Advances one step and sets the optimizer's learning rate.
    pub fn step<T: Float>(&mut self, optimizer: &mut dyn Optimizer<T>) {
        let base = *self.base.get_or_insert(optimizer.lr());
        self.t += 1;
        optimizer.set_lr(self.schedule.lr(base, self.t));
    }
}
