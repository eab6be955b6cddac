//! Training: the [`Trainer`] loop, its [`History`], progress reporting, and
//! evaluation of a model on a dataset.

mod evaluate;
mod history;
mod progress;
mod trainer;

pub use evaluate::{confusion_matrix, evaluate, ConfusionMatrix, Evaluation};
pub use history::{EpochStats, History};
pub use progress::Progress;
pub use trainer::{TrainError, Trainer};
