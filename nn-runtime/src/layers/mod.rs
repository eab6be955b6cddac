//! Layers: one file each, forward and hand-derived backward side by side.

mod activation;
mod conv2d;
mod dense;
mod image;

pub use activation::{sigmoid, Activation, ActivationFn, Identity, Relu, Sigmoid, Tanh};
pub use conv2d::Conv2d;
pub use dense::Dense;
pub use image::{Flatten, Window2d};
