//! How the Inception networks of `examples/common/inception.rs` and
//! `tests/inception.rs` are written (the `inception!` macro) and measured
//! (`stem_gradient`), apart from the networks themselves so that the test
//! compiles only its own.

#![allow(dead_code)] // each including target uses a part

use nn::prelude::*;

/// Writes a GoogLeNet-style `network!` on (1, 8, 8) digits with 10 classes
/// from what its variants differ in:
///
/// ```text
/// inception! {
///     /// docs
///     Name: stem [conv2d(16, kernel = 3, padding = 1), relu],
///     branch_norm [batch_norm],                 // after each branch's last convolution, or []
///     modules [8, 8, 12, 4, 6, 6] [16, 12, 16, 4, 8, 8],
///     head [aux_head(weight = 0.3) { ... },]    // after each module, or []
/// }
/// ```
///
/// A module's widths are GoogLeNet's table columns: 1x1, 3x3 reduce, 3x3,
/// 5x5 reduce, 5x5, pool projection. Between the modules a `max_pool(2)`.
/// The module is written once, in the `@module` rule, which appends it to
/// the items gathered so far; the last rule hands them to `network!`.
macro_rules! inception {
    (
        $(#[$doc:meta])*
        $name:ident: stem [$($stem:tt)*],
        branch_norm [$($norm:ident)?],
        modules $first:tt $second:tt,
        head [$($head:tt)*] $(,)?
    ) => {
        inception! { @module [$(#[$doc])* $name] [$($norm)?] [$($head)*] [$($stem)*,]
            $first [max_pool(2),] $second [global_avg_pool, dense(10),] }
    };
    (
        @module $net:tt [$($norm:ident)?] [$($head:tt)*] [$($items:tt)*]
        [$c1:literal, $r3:literal, $c3:literal, $r5:literal, $c5:literal, $cp:literal] [$($after:tt)*]
        $($rest:tt)*
    ) => {
        inception! { @module $net [$($norm)?] [$($head)*] [
            $($items)*
            parallel {
                branch { conv2d($c1, kernel = 1), $($norm,)? relu },
                branch { conv2d($r3, kernel = 1), relu, conv2d($c3, kernel = 3, padding = 1), $($norm,)? relu },
                branch { conv2d($r5, kernel = 1), relu, conv2d($c5, kernel = 5, padding = 2), $($norm,)? relu },
                branch { max_pool(3, stride = 1, padding = 1), conv2d($cp, kernel = 1), $($norm,)? relu },
            },
            $($head)*
            $($after)*
        ] $($rest)* }
    };
    (@module [$(#[$doc:meta])* $name:ident] $norm:tt $head:tt [$($items:tt)*]) => {
        nn::network! {
            $(#[$doc])*
            pub struct $name((1, 8, 8) -> 10) { $($items)* }
        }
    };
}

/// The L2 norm of the stem convolution's weight gradient after one forward
/// and backward on `data`, with the auxiliary heads' weighted gradients
/// added when `heads` is set (a network without heads has none to add).
pub fn stem_gradient<M: Model<f32>>(net: &mut M, data: &Dataset<f32>, heads: bool) -> f64 {
    net.zero_grad();
    let y = net.forward_view(data.inputs().as_view()).expect("digits are 64 wide");
    let mut grad = nn::nalgebra::DMatrix::zeros(y.nrows(), y.ncols());
    Loss::SoftmaxCrossEntropy.value_and_grad(y, data.targets(), grad.as_view_mut()).expect("digit labels");
    if heads {
        for h in 0..net.aux_heads() {
            let (weight, out) = net.aux_output(h).expect("head exists");
            let mut g = nn::nalgebra::DMatrix::zeros(out.nrows(), out.ncols());
            Loss::SoftmaxCrossEntropy.value_and_grad(out, data.targets(), g.as_view_mut()).expect("digit labels");
            g *= weight as f32;
            net.set_aux_grad(h, g.as_view()).expect("same batch");
        }
    }
    net.backward_params_view(grad.as_view()).expect("same batch");
    let stem = net.parameters().into_iter().find(|p| p.name == "0.weight").expect("stem convolution");
    let norm = stem.grad.iter().map(|g| (*g as f64).powi(2)).sum::<f64>().sqrt();
    net.zero_grad();
    norm
}
