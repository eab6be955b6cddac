//! Layers: one file each, forward and hand-derived backward side by side.

mod activation;
mod avg_pool;
mod batch_norm;
mod batch_norm2d;
mod conv2d;
mod dense;
mod dropout;
mod global_avg_pool;
mod image;
mod layer_norm;
mod max_pool;
mod prelu;

pub use activation::{
    sigmoid, softplus, Activation, ActivationFn, Elu, Gelu, Identity, LeakyRelu, Mish, Relu, Selu, Sigmoid, Silu,
    Softplus, Swish, Tanh,
};
pub use avg_pool::AvgPool2d;
pub use batch_norm::BatchNorm;
pub use batch_norm2d::BatchNorm2d;
pub use conv2d::Conv2d;
pub use dense::Dense;
pub use dropout::Dropout;
pub use global_avg_pool::GlobalAvgPool;
pub use image::{Flatten, Window2d};
pub use layer_norm::LayerNorm;
pub use max_pool::MaxPool2d;
pub use prelu::Prelu;

/// The values of `key` in a reference table written by `tools/reference/*.py`
/// (lines of `key v0 v1 ...`).
#[cfg(test)]
pub(crate) fn reference(table: &str, key: &str) -> Vec<f64> {
    let line = table.lines().find(|l| l.split_whitespace().next() == Some(key));
    let line = line.unwrap_or_else(|| panic!("reference table has no {key}"));
    line.split_whitespace().skip(1).map(|v| v.parse().expect("a float")).collect()
}
