//! Layers: one file each, forward and hand-derived backward side by side.

mod activation;
mod avg_pool;
mod batch_norm2d;
mod conv2d;
mod dense;
mod global_avg_pool;
mod image;
mod max_pool;
mod prelu;

pub use activation::{
    sigmoid, softplus, Activation, ActivationFn, Elu, Gelu, Identity, LeakyRelu, Mish, Relu, Selu, Sigmoid, Silu,
    Softplus, Swish, Tanh,
};
pub use avg_pool::AvgPool2d;
pub use batch_norm2d::BatchNorm2d;
pub use conv2d::Conv2d;
pub use dense::Dense;
pub use global_avg_pool::GlobalAvgPool;
pub use image::{Flatten, Window2d};
pub use max_pool::MaxPool2d;
pub use prelu::Prelu;
