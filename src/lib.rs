//! `nn`: neural networks written as a [`network!`] block, checked at compile
//! time and turned into statically shaped nalgebra code with hand-derived
//! backward passes.
#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

#[doc = include_str!("network.md")]
pub use nn_macros::network;
pub use nn_runtime::*;

/// Everything a typical program needs: `use nn::prelude::*;`.
pub mod prelude {
    pub use nn_macros::network;
    pub use nn_runtime::data::{stratified_split, Dataset, Labels, Standardizer};
    pub use nn_runtime::optim::{Adam, AdamW, Optimizer, RmsProp, Schedule, Sgd};
    pub use nn_runtime::train::{evaluate, Progress};
    pub use nn_runtime::{seeded_rng, Batch, Float, Init, Layer, Model};
    pub use nn_runtime::{Clip, History, Loss, Targets, Trainer};
}

/// The path generated code uses to reach the runtime; not a public API.
/// Also the standard items its signatures name, so that a user's own
/// `Result` or `String` cannot change what they mean.
#[doc(hidden)]
pub mod __private {
    pub use nn_runtime::*;
    pub use std::{convert::AsRef, marker::Sized, path::Path, result::Result, string::String, vec::Vec};
}
