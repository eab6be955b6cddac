//! Layers: one file each, forward and hand-derived backward side by side.

mod activation;
mod avg_pool;
mod batch_norm;
mod batch_norm2d;
mod conv2d;
mod dense;
mod dropout;
mod embedding;
mod global_avg_pool;
mod image;
mod layer_norm;
mod max_pool;
mod pool;
mod prelu;

// Every activation function, so that adding one is an edit of `activation.rs` alone.
pub use activation::*;
pub use avg_pool::{AvgPool2d, AvgPooling};
pub use batch_norm::BatchNorm;
pub use batch_norm2d::BatchNorm2d;
pub use conv2d::Conv2d;
pub use dense::Dense;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use global_avg_pool::{GlobalAvgPool, GlobalAvgPooling};
pub use image::{Flatten, Window2d};
pub use layer_norm::LayerNorm;
pub use max_pool::{MaxPool2d, MaxPooling};
pub use pool::{Pool, Pooling};
pub use prelu::Prelu;

/// The values of `key` in a reference table written by `tools/reference/*.py`
/// (lines of `key v0 v1 ...`).
#[cfg(test)]
pub(crate) fn reference(table: &str, key: &str) -> Vec<f64> {
    let line = table.lines().find(|l| l.split_whitespace().next() == Some(key));
    let line = line.unwrap_or_else(|| panic!("reference table has no {key}"));
    line.split_whitespace().skip(1).map(|v| v.parse().expect("a float")).collect()
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use crate::testing::LayerModel;
    use crate::{layer::Layer, model::Model};

    /// Two backward calls after one forward give twice the gradients of one:
    /// layers add to the gradients, and `zero_grad` is the caller's job.
    /// Also checks the `output`/`input_grad` hooks.
    fn check<L: Layer<f64, 3, 3>>(what: &str, layer: L) {
        let mut m = LayerModel::new(layer);
        let x = DMatrix::from_fn(3, 4, |i, j| (i as f64 - 1.0) * 0.7 + (j as f64) * 0.3 - 0.4);
        let g = DMatrix::from_fn(3, 4, |i, j| (i + 2 * j) as f64 * 0.1 - 0.5);
        let y = m.forward_view(x.as_view()).unwrap().into_owned();
        assert_eq!(m.layer.output().map(|o| o.as_slice()), Some(y.as_slice()), "{what}: output hook");
        let dx = m.backward_view(g.as_view()).unwrap().into_owned();
        assert_eq!(m.layer.input_grad().map(|d| d.as_slice()), Some(dx.as_slice()), "{what}: input_grad hook");
        let once = m.parameters();
        m.backward_view(g.as_view()).unwrap();
        for (a, b) in m.parameters().iter().zip(&once) {
            assert!(b.grad.iter().any(|v| *v != 0.0), "{what}: {} has a gradient", b.name);
            for (ga, gb) in a.grad.iter().zip(&b.grad) {
                assert!((ga - 2.0 * gb).abs() < 1e-12, "{what}: {} does not accumulate", b.name);
            }
        }
        m.zero_grad();
        assert!(m.parameters().iter().all(|p| p.grad.iter().all(|v| *v == 0.0)));
    }

    #[test]
    fn gradients_add_up_over_two_backward_calls() {
        let mut bn = super::BatchNorm::new(0.1, 1e-5);
        bn.weight_mut().copy_from_slice(&[1.5, -0.5, 2.0]);
        check("batch_norm", bn);
        check("layer_norm", super::LayerNorm::new(1e-5));
        check("prelu", super::Prelu::new(0.25));
        // No parameters: only the hooks are checked.
        check("dropout", super::Dropout::new(0.3, crate::init::seeded_rng(1)));
    }
}
