//! `relu6`, `hardswish`, `hardsigmoid` and `softsign` (PyTorch's functions)
//! in vector, image and `seq` networks: gradients through the generated
//! networks against finite differences (f64, train mode, inputs away from the
//! kinks), the default initializer each family gives the layer before it, and
//! the family the diagnostics see. Their values and derivatives against
//! PyTorch are checked in `nn-runtime/src/layers/activation.rs`.

use nn::diagnostics::GradientFlow;
use nn::nalgebra::DMatrix;
use nn::testing::grad_check_at;
use nn::{Family, ItemKind, Loss, Model, Targets};

nn::network! {
    /// Each new activation after a dense layer.
    pub struct Vector(4 -> 3) {
        dense(6), relu6, dense(6), hardswish, dense(6), hardsigmoid, dense(6), softsign, dense(3),
    }

    /// Through convolutions, pooling and a block.
    pub struct Image((1, 5, 5) -> 2) {
        conv2d(2, kernel = 3, padding = 1), hardswish,
        residual { conv2d(2, kernel = 3, padding = 1), softsign },
        conv2d(3, kernel = 3), relu6, avg_pool(3), flatten, dense(4), hardsigmoid, dense(2),
    }

    /// Before and after `last`.
    pub struct Sequence(seq 3 -> 2) {
        dense(4), hardsigmoid, lstm(4), softsign, last, dense(3), relu6, dense(3), hardswish, dense(2),
    }
}

/// Random inputs in [-3, 3): every piece of the functions is reached.
fn random(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    use nn::rand::{Rng, SeedableRng};
    let mut rng = nn::SeededRng::seed_from_u64(seed);
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-3.0..3.0))
}

#[test]
fn vector_network_gradients_match_finite_differences() {
    let mut net = Vector::<f64>::seeded(1);
    let report = grad_check_at(&mut net, &random(4, 5, 2), 3);
    assert_eq!(report.tensors.len(), 10);
    report.assert_below(1e-6);
}

#[test]
fn image_network_gradients_match_finite_differences() {
    let mut net = Image::<f64>::seeded(4);
    let report = grad_check_at(&mut net, &random(25, 3, 5), 6);
    assert!(report.tensors.iter().any(|t| t == "2.0.weight"), "{:?}", report.tensors);
    report.assert_below(1e-6);
}

#[test]
fn sequence_network_gradients_match_finite_differences() {
    for (steps, seed) in [(1, 7), (5, 8)] {
        let mut net = Sequence::<f64>::seeded(seed);
        let report = grad_check_at(&mut net, &random(3 * steps, 3, seed + 10), seed + 20);
        assert!(report.tensors.iter().any(|t| t == "2.weight_hh"), "{:?}", report.tensors);
        report.assert_below(1e-6);
    }
}

#[test]
fn the_layer_before_each_starts_as_its_family_says() {
    let s = Vector::<f32>::seeded(0).summary();
    let init = |row: &str| {
        let line = s.lines().find(|l| l.starts_with(&format!("{row} "))).unwrap_or_else(|| panic!("{row}: {s}"));
        // name, kind, in, ->, out, params, then the initializer
        line.split_whitespace().skip(6).collect::<Vec<_>>().join(" ")
    };
    // He before relu6 and hardswish (the ReLU family), Xavier before the saturating ones.
    assert_eq!(init("0"), "he_normal (default)", "{s}");
    assert_eq!(init("2"), "he_normal (default)", "{s}");
    assert_eq!(init("4"), "xavier_uniform (default)", "{s}");
    assert_eq!(init("6"), "xavier_uniform (default)", "{s}");
    assert!(s.lines().any(|l| l.starts_with("1 ") && l.contains("relu6") && l.contains("6 -> 6")), "{s}");
}

#[test]
fn diagnostics_see_each_family() {
    let mut net = Vector::<f64>::seeded(9);
    let x = random(4, 16, 10);
    let y = DMatrix::from_fn(3, 16, |i, j| (i as f64 - j as f64 * 0.1).sin());
    let flow = GradientFlow::measure(&mut net, x.as_view(), Targets::Real(y.as_view()), Loss::Mse).unwrap();
    let item = |k: usize| &flow.items[k];
    assert_eq!((item(1).kind, item(1).family), (ItemKind::Relu6, Family::Relu));
    assert_eq!((item(3).kind, item(3).family), (ItemKind::Hardswish, Family::Relu));
    assert_eq!(item(5).family, Family::Saturating { low: 0.0, high: 1.0 });
    assert_eq!(item(7).family, Family::Saturating { low: -1.0, high: 1.0 });
    // Dead units are looked for in the ReLU family, saturation in the saturating one.
    for k in [1, 3] {
        assert!(item(k).dead_share.is_some() && item(k).saturated_share.is_none(), "{:?}", item(k));
    }
    for k in [5, 7] {
        assert!(item(k).saturated_share.is_some() && item(k).dead_share.is_none(), "{:?}", item(k));
    }
    assert_eq!(item(1).kind.to_string(), "relu6");
    assert!(flow.to_string().contains("hardsigmoid"), "{flow}");
}

#[test]
fn a_hardsigmoid_fed_large_inputs_is_saturated() {
    nn::network! { struct Saturated(2 -> 2) { dense(2, init = constant(10.0)), hardsigmoid } }
    let mut net = Saturated::<f64>::seeded(0);
    let x = DMatrix::from_row_slice(2, 4, &[1.0, -1.0, 2.0, -2.0, 1.0, -1.0, 2.0, -2.0]);
    let flow = GradientFlow::measure(&mut net, x.as_view(), Targets::Real(x.as_view()), Loss::Mse).unwrap();
    // Pre-activations of +-20 and +-40: outputs exactly 0 or 1.
    assert_eq!(flow.items[1].saturated_share, Some(1.0));
    assert!(flow.verdict().is_saturated(1), "{}", flow.verdict());
    assert_eq!(net.parameter_count(), 6);
}
