//! Layers: one file each, forward and hand-derived backward side by side.

mod activation;
mod dense;
mod prelu;

pub use activation::{
    sigmoid, softplus, Activation, ActivationFn, Elu, Gelu, Identity, LeakyRelu, Mish, Relu, Selu, Sigmoid, Silu,
    Softplus, Swish, Tanh,
};
pub use dense::Dense;
pub use prelu::Prelu;
