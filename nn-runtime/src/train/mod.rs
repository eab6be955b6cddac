//! Training: the [`Trainer`] loop and what it can be given (early stopping,
//! ReduceLROnPlateau, callbacks), its [`History`], progress reporting, and
//! evaluation of a model on a dataset with its metrics.

mod callback;
mod early_stopping;
mod evaluate;
mod history;
mod monitor;
mod plateau;
mod progress;
mod state;
mod trainer;

pub use crate::loss::{predicted_classes, probabilities};
pub use callback::EpochEnd;
pub use early_stopping::EarlyStopping;
pub use evaluate::{confusion_matrix, evaluate, ConfusionMatrix, Evaluation};
pub use history::{EpochStats, History, HistoryError};
pub use monitor::{Metric, Mode, Threshold};
pub use plateau::ReduceLrOnPlateau;
pub use progress::Progress;
pub use state::{ResumeError, TrainingState};
pub use trainer::{TrainError, Trainer};
