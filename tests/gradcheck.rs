//! Whole-network gradient checks through the generated `forward`/`backward`
//! (via `Model`), in f64 and train mode, for networks that together use every
//! item kind of DESIGN.md.

mod common;

use common::networks::{Activations, Blocks, Nested, TwoHeads};
use nn::testing::grad_check;

nn::network! {
    /// Normalization, learned slopes and dropout (its mask frozen by the check).
    pub struct Norms(4 -> 2) {
        dense(6), batch_norm, prelu, dense(5), layer_norm(eps = 1e-3), dropout(0.3), elu,
        dense(5), batch_norm(momentum = 0.2), tanh,
        dense(2),
    }
}

/// Every parameter tensor, as reported by the check, so a test cannot pass by checking nothing.
fn tensors<M: nn::Model<f64>>(net: &M) -> usize {
    net.parameters().len()
}

#[test]
fn activations_network_gradients_match_finite_differences() {
    let mut net = Activations::<f64>::seeded(1);
    let report = grad_check(&mut net, 4, 11);
    assert_eq!(report.tensors.len(), tensors(&net));
    report.assert_below(1e-6);
}

#[test]
fn norms_network_gradients_match_finite_differences() {
    let mut net = Norms::<f64>::seeded(2);
    let report = grad_check(&mut net, 5, 12);
    assert_eq!(report.tensors.len(), 15);
    report.assert_below(1e-6);
}

#[test]
fn two_aux_heads_gradients_match_finite_differences() {
    let mut net = TwoHeads::<f64>::seeded(3);
    assert_eq!(nn::Model::aux_heads(&net), 2);
    let report = grad_check(&mut net, 3, 13);
    // The heads' parameters are checked too, through L = <r, y> + sum_h <r_h, head_h>.
    assert!(report.tensors.iter().any(|t| t == "2.0.weight"));
    assert!(report.tensors.iter().any(|t| t == "5.2.bias"));
    report.assert_below(1e-6);
}

#[test]
fn nested_repeat_residual_parallel_gradients_match_finite_differences() {
    let mut net = Nested::<f64>::seeded(4);
    let report = grad_check(&mut net, 3, 14);
    assert!(report.tensors.iter().any(|t| t == "2.1.0.2.1.1.1.0.0.weight"), "{:?}", report.tensors);
    report.assert_below(1e-6);
}

#[test]
fn blocks_with_own_parameters_gradients_match_finite_differences() {
    let mut net = Blocks::<f64>::seeded(5);
    let report = grad_check(&mut net, 4, 15);
    for t in ["2.projection.weight", "3.gate.weight", "3.gate.bias", "5.gate.bias", "5.0.0.weight"] {
        assert!(report.tensors.iter().any(|n| n == t), "{t} not checked: {:?}", report.tensors);
    }
    report.assert_below(1e-6);
}
