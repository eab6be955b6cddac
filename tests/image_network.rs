//! Image networks through `network!`: shapes, names, summary, run-time shape
//! errors, and a whole Inception network with auxiliary heads checked against
//! finite differences through the generated forward/backward (f64, train mode).
//!
//! The checked network uses smooth activations: with biases starting at zero,
//! a ReLU after a 1x1 convolution of a ReLU output sits exactly at its kink
//! wherever the input was zeroed, where finite differences are meaningless.

mod common;

use common::networks::tiny_inception;
use nn::nalgebra::DMatrix;
use nn::testing::grad_check;
use nn::{Model, ShapeError};

tiny_inception! {
    /// A small GoogLeNet: stem, two Inception modules (1x1, 3x3, 5x5 and pool
    /// branches), a strided convolution, two auxiliary classifiers.
    TinyInception, stem_bias = true
}

#[test]
fn inception_with_aux_heads_gradients_match_finite_differences() {
    let mut net = TinyInception::<f64>::seeded(7);
    assert_eq!(net.aux_heads(), 2);
    let report = grad_check(&mut net, 3, 17);
    for t in [
        "0.weight",
        "0.bias",
        "1.weight",
        "3.2.2.weight",
        "3.3.1.bias",
        "4.1.weight",
        "4.4.bias",
        "5.weight",
        "8.1.1.weight",
        "9.1.weight",
        "12.weight",
    ] {
        assert!(report.tensors.iter().any(|n| n == t), "{t} not checked: {:?}", report.tensors);
    }
    report.assert_below(1e-6);
}

#[test]
fn parameter_names_and_shapes_follow_nn_sequential() {
    let net = TinyInception::<f32>::seeded(1);
    let params: Vec<(String, Vec<usize>)> = net.parameters().into_iter().map(|p| (p.name, p.shape.to_vec())).collect();
    let find = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone());
    assert_eq!(find("0.weight"), Some(vec![3, 1, 3, 3]));
    assert_eq!(find("1.weight"), Some(vec![3]));
    assert_eq!(find("3.2.2.weight"), Some(vec![2, 1, 5, 5]));
    assert_eq!(find("3.3.1.weight"), Some(vec![1, 3, 1, 1]));
    // The concatenation has 2 + 2 + 2 + 1 = 7 channels.
    assert_eq!(find("5.weight"), Some(vec![4, 7, 3, 3]));
    assert_eq!(find("5.bias"), None);
    assert_eq!(find("4.4.weight"), Some(vec![3, 8]));
    assert_eq!(find("12.weight"), Some(vec![3, 4]));
    let buffers: Vec<String> = net.buffers().into_iter().map(|b| b.name().to_string()).collect();
    assert!(buffers.iter().any(|b| b == "1.running_mean"), "{buffers:?}");
}

#[test]
fn summary_states_image_shapes_and_default_initializers() {
    let s = TinyInception::<f32>::seeded(1).summary();
    assert!(s.starts_with("TinyInception ((1, 6, 6) -> 3)"), "{s}");
    let row = |name: &str| {
        s.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}: {s}")).to_string()
    };
    assert!(row("0").contains("(1, 6, 6) -> (3, 6, 6)"), "{s}");
    // 3 * 1 * 3 * 3 weights and 3 biases, He before the ELU (through batch_norm).
    assert!(row("0").contains(" 30 ") && row("0").contains("he_normal (default)"), "{s}");
    assert!(row("3").contains("(3, 6, 6) -> (7, 6, 6)"), "{s}");
    assert!(row("4.3").contains("(2, 2, 2) -> 8"), "{s}");
    assert!(row("5").contains("conv2d(4, kernel = 3, stride = 2, padding = 1, bias = false)"), "{s}");
    assert!(row("5").contains("(7, 6, 6) -> (4, 3, 3)") && row("5").contains("xavier_uniform (default)"), "{s}");
    assert!(row("10").contains("max_pool(2, stride = 1)") && row("10").contains("(4, 3, 3) -> (4, 2, 2)"), "{s}");
    assert!(row("11").contains("(4, 2, 2) -> 4"), "{s}");
    assert_eq!(TinyInception::INPUT, 36);
}

#[test]
fn input_of_the_wrong_size_is_a_shape_error() {
    let mut net = TinyInception::<f64>::seeded(2);
    let x = DMatrix::<f64>::zeros(35, 2);
    assert_eq!(net.forward_view(x.as_view()).err(), Some(ShapeError::Width { what: "input", expected: 36, found: 35 }));
    assert_eq!(net.predict_view(x.as_view()).err(), Some(ShapeError::Width { what: "input", expected: 36, found: 35 }));
    let g = DMatrix::<f64>::zeros(3, 2);
    assert_eq!(net.backward_view(g.as_view()).err(), Some(ShapeError::NoForward));
    let good = DMatrix::<f64>::from_fn(36, 2, |i, j| (i + j) as f64 / 36.0);
    let y = net.predict_view(good.as_view()).unwrap();
    assert_eq!(y.shape(), (3, 2));
    assert!(y.iter().all(|v| v.is_finite()));
}
