//! Gradient-flow diagnostics: per top-level item of a network, how large the
//! gradient reaching its input is, how large its weights and their gradients
//! are, how many of its units are dead or saturated; then a verdict
//! (vanishing, exploding, dead units, saturation, healthy) with the remedies
//! that fit, each in its `network!` spelling, and an SVG plot (feature `plot`).
//!
//! [`GradientFlow::measure`] runs one training-mode forward and backward on
//! a batch; the measurement prints as a table with the verdict and the
//! remedies, and [`GradientFlow::to_svg`] (feature `plot`) plots |dL/dx| per
//! layer on a log axis. Items are seen through
//! [`Model::probe`](crate::model::Model::probe), which `network!` implements (a
//! model that does not implement it has nothing to measure, and
//! [`GradientFlow::measure`] says so); so the examples are on the page of the
//! crate that has the macro, the facade `nn-static` (library `nn`), in its
//! section "Seeing the gradient vanish".
//!
//! For a `seq` network, [`GradientFlow::steps`] holds the gradient reaching
//! each time step's input, and [`steps_svg`] plots it over time: the
//! vanishing gradient through time of a tanh RNN against an LSTM or GRU.
//!
//! # During training
//!
//! Measuring does not disturb training: parameter gradients and buffers
//! (batch-norm running statistics) are saved before the measuring forward and
//! backward and restored afterwards, and no weight changes. Only dropout's
//! random stream advances. So it can run between optimizer steps. A
//! [`Trainer`](crate::train::Trainer) measures every N epochs by itself, with the
//! update-to-weight ratio of each measured epoch's last step
//! ([`Trainer::gradient_flow`](crate::train::Trainer::gradient_flow); the
//! measurements are in [`History::gradient_flows`](crate::train::History::gradient_flows)).

mod gradient_flow;
#[cfg(feature = "plot")]
mod svg;
mod verdict;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use gradient_flow::{GradientFlow, ItemFlow};
#[cfg(feature = "plot")]
pub use svg::{compare_svg, steps_svg, write_compare_svg, write_steps_svg};
pub use verdict::{DepthFit, Finding, Problem, Remedy, Thresholds, Verdict};

use crate::{error::ShapeError, loss::LossError};

/// Why a measurement or a plot could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiagnosticsError {
    /// The batch or the loss gradient did not fit the network.
    #[error("gradient-flow measurement: {0}")]
    Shape(#[from] ShapeError),
    /// The targets did not fit the outputs or the loss.
    #[error("gradient-flow measurement: {0}")]
    Loss(#[from] LossError),
    /// A batch with no samples: per-sample norms are undefined.
    #[error("gradient-flow measurement needs at least one sample; the batch has none")]
    EmptyBatch,
    /// The network shows no items through `Model::probe` (a hand-written
    /// `Model` that does not implement it).
    #[error(
        "{network} shows no items through Model::probe, so there is nothing to measure \
         (networks made by network! implement it; implement it for a hand-written Model)"
    )]
    NoItems {
        /// The network's name (`Model::NAME`).
        network: &'static str,
    },
    /// A [`Snapshot`](crate::snapshot::Snapshot) taken of a different network.
    #[error(
        "weight snapshot does not match the network: weight tensor {tensor} had {expected} \
         elements in the snapshot and has {found} now (take the snapshot of the same network)"
    )]
    SnapshotMismatch {
        /// The weight tensor, counted from 0 in visiting order.
        tensor: usize,
        /// Elements it had in the snapshot.
        expected: usize,
        /// Elements it has now.
        found: usize,
    },
    /// Nothing to plot: no measurement has a positive, finite gradient norm.
    #[error("nothing to plot: no measurement has a positive, finite gradient norm")]
    NothingToPlot,
    /// The plotting library failed.
    #[error("plotting failed: {0}")]
    Plot(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Writing the SVG file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why writing it failed.
        source: std::io::Error,
    },
}
