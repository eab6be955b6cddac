//! Networks checked by more than one test: the whole-network gradient checks
//! (`tests/gradcheck.rs`, `tests/image_network.rs`) and `f32` against `f64`
//! (`tests/precision.rs`) run the same ones.

#![allow(dead_code)] // each test uses some of them

nn::network! {
    /// Every activation, dense with and without bias.
    pub struct Activations(5 -> 3) {
        dense(6), relu, dense(6, bias = false), tanh, dense(6), sigmoid, identity,
        dense(6), leaky_relu(0.1), dense(6), elu(0.7), dense(6), selu, dense(6), gelu,
        dense(6), swish, dense(6), silu, dense(6), mish, dense(6), softplus,
        dense(3),
    }

    /// Two auxiliary heads whose gradients join the main path's.
    pub struct TwoHeads(4 -> 3) {
        dense(6), tanh,
        aux_head(weight = 0.3) { dense(3) },
        dense(5), relu,
        aux_head(weight = 0.7) { dense(4), tanh, dense(3) },
        dense(3),
    }

    /// repeat, residual and parallel nested in one another.
    pub struct Nested(4 -> 3) {
        dense(6), tanh,
        repeat(2) {
            residual {
                dense(6), tanh,
                parallel {
                    branch { dense(2), tanh },
                    branch { dense(4), repeat(2) { residual { dense(4), swish } } },
                },
            },
        },
        dense(3),
    }

    /// The blocks with parameters of their own.
    pub struct Blocks(4 -> 2) {
        dense(5), relu,
        residual(projection) { dense(3), tanh },
        highway { dense(3), sigmoid },
        concat { dense(2), mish },
        highway { residual { dense(5), tanh } },
        dense(2),
    }
}

/// Writes `pub struct $name`, a small GoogLeNet on (1, 6, 6) images with 3
/// classes and every image item: a stem, two Inception modules (1x1, 3x3,
/// 5x5 and pool branches), a strided convolution, two auxiliary classifiers.
/// `stem_bias` says whether the stem convolution, right before a batch norm,
/// has a bias: the gradient check checks that bias too, while `f32` against
/// `f64` must leave it out (the normalization makes its gradient exactly
/// zero, so both precisions give rounding noise).
#[allow(unused_macros)] // as the networks above, by some of the tests
macro_rules! tiny_inception {
    ($(#[$doc:meta])* $name:ident, stem_bias = $bias:literal) => {
        nn::network! {
            $(#[$doc])*
            pub struct $name((1, 6, 6) -> 3) {
                conv2d(3, kernel = 3, padding = 1, bias = $bias), batch_norm, elu,
                parallel {
                    branch { conv2d(2, kernel = 1), elu },
                    branch { conv2d(2, kernel = 1), swish, conv2d(2, kernel = 3, padding = 1), elu },
                    branch { conv2d(1, kernel = 1), tanh, conv2d(2, kernel = 5, padding = 2), gelu },
                    branch { max_pool(3, stride = 1, padding = 1), conv2d(1, kernel = 1), softplus },
                },
                aux_head(weight = 0.3) { avg_pool(3), conv2d(2, kernel = 1), elu, flatten, dense(3) },
                conv2d(4, kernel = 3, stride = 2, padding = 1, bias = false), batch_norm, tanh,
                parallel {
                    branch { conv2d(2, kernel = 1) },
                    branch { avg_pool(3, stride = 1, padding = 1), conv2d(2, kernel = 3, padding = 1) },
                },
                aux_head(weight = 0.3) { global_avg_pool, dense(3) },
                max_pool(2, stride = 1),
                global_avg_pool,
                dense(3),
            }
        }
    };
}

#[allow(unused_imports)]
pub(crate) use tiny_inception;
