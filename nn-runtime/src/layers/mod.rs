//! Layers: one file each, forward and hand-derived backward side by side.

mod activation;
mod batch_norm;
mod dense;
mod dropout;
mod layer_norm;
mod prelu;

pub use activation::{
    sigmoid, softplus, Activation, ActivationFn, Elu, Gelu, Identity, LeakyRelu, Mish, Relu, Selu, Sigmoid, Silu,
    Softplus, Swish, Tanh,
};
pub use batch_norm::BatchNorm;
pub use dense::Dense;
pub use dropout::Dropout;
pub use layer_norm::LayerNorm;
pub use prelu::Prelu;

/// The values of `key` in a reference table written by `tools/reference/*.py`
/// (lines of `key v0 v1 ...`).
#[cfg(test)]
pub(crate) fn reference(table: &str, key: &str) -> Vec<f64> {
    let line = table.lines().find(|l| l.split_whitespace().next() == Some(key));
    let line = line.unwrap_or_else(|| panic!("reference table has no {key}"));
    line.split_whitespace().skip(1).map(|v| v.parse().expect("a float")).collect()
}
