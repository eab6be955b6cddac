//! Layers: one file each, forward and hand-derived backward side by side.

mod activation;
mod dense;

pub use activation::{sigmoid, Activation, ActivationFn, Identity, Relu, Sigmoid, Tanh};
pub use dense::Dense;
