//! Training: the [`Trainer`] loop, its [`History`], progress reporting, and
//! evaluation of a model on a dataset.

mod evaluate;
mod history;
mod progress;
mod snapshot;
mod trainer;

pub use evaluate::{evaluate, Evaluation};
pub use history::{EpochStats, History};
pub use progress::Progress;
pub use trainer::{TrainError, Trainer};
