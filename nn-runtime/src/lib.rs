//! Runtime of `nn`: layers with hand-derived backward passes, blocks, and the
//! machinery (initializers, gradient checks) that generated networks use.
//!
//! Users depend on the `nn` crate, which re-exports this one.

#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod blocks;
mod clip;
pub mod data;
pub mod diagnostics;
mod error;
pub mod export;
mod float;
mod init;
pub mod io;
pub mod kernels;
mod layer;
pub mod layers;
mod loss;
mod model;
#[doc(hidden)]
pub mod network;
pub mod optim;
pub mod rnn;
pub mod snapshot;
pub mod testing;
pub mod train;

pub use blocks::{AuxHead, Branch, Branches, Chain, Concat, Highway, Parallel, Repeat, Residual, ResidualProjection};
pub use clip::{first_non_finite_grad, grad_norm, Clip};
pub use error::ShapeError;
pub use float::{Batch, Float};
pub use init::{seeded_rng, Init, SeededRng};
pub use layer::{
    copy_batch, empty, ensure_cols, view_into_batch, visit_in, visit_mut_in, BufferMut, BufferRef, Io, Layer, NamePath,
    ParamKind, ParamMut, ParamRef, Visit, VisitMut, ZeroGrad,
};
pub use layers::*;
pub use loss::{Loss, LossError, Targets};
pub use model::{Model, NamedBuffer, NamedParam, Probe};
pub use network::{Family, ItemKind};
pub use snapshot::Snapshot;
pub use train::{History, Trainer};

/// Re-exported so users and generated code share one version.
pub use nalgebra;
pub use rand;
