//! The generated API of DESIGN.md, used from a crate that depends on `nn`
//! alone: construction, forward/backward/predict, refusal of bad gradients,
//! the `Model` view and its auxiliary-head hooks.

use nn::prelude::*;
use nn::{ItemKind, ShapeError};

nn::network! {
    /// Deterministic in training (no dropout, no batch statistics), so
    /// `predict` must equal `forward`. Attributes carry over: derives included.
    #[derive(Clone, Debug)]
    pub struct Plain(3 -> 2) { dense(4), tanh, residual { dense(4), relu }, dense(2) }

    pub struct Headed(3 -> 2) {
        dense(4), tanh,
        aux_head(weight = 0.25) { dense(2) },
        dense(4), relu,
        aux_head(weight = 0.75) { dense(2) },
        dense(2),
    }
}

fn input(cols: usize) -> Batch<f64, 3> {
    Batch::<f64, 3>::from_fn(cols, |i, j| (i as f64 - 1.0) * 0.5 + j as f64 * 0.25)
}

fn grads<M: Model<f64>>(net: &M) -> Vec<f64> {
    net.parameters().into_iter().flat_map(|p| p.grad).collect()
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() {
    let a = Plain::<f64>::seeded(9).parameters();
    let b = Plain::<f64>::seeded(9).parameters();
    let c = Plain::<f64>::seeded(10).parameters();
    assert_eq!(a, b);
    assert_ne!(a[0].value, c[0].value);
    let mut rng = seeded_rng(9);
    assert_eq!(Plain::<f64>::new(&mut rng).parameters(), a);
}

#[test]
fn f32_network_is_the_rounded_f64_network() {
    let w64 = Plain::<f64>::seeded(3).parameters();
    let w32 = Plain::<f32>::seeded(3).parameters();
    for (a, b) in w64.iter().zip(&w32) {
        for (x, y) in a.value.iter().zip(&b.value) {
            assert_eq!(*x as f32, *y);
        }
    }
}

#[test]
fn predict_equals_forward_without_stochastic_layers() {
    let mut net = Plain::<f64>::seeded(1);
    let x = input(5);
    let y = net.forward(&x);
    assert_eq!(net.predict(&x), y);
    assert_eq!(net.forward_ref(&x), &y);
    let view = net.forward_view(x.as_view()).unwrap().into_owned();
    assert_eq!(view.as_slice(), y.as_slice());
}

#[test]
fn backward_matches_model_backward_view_and_accumulates() {
    let mut net = Plain::<f64>::seeded(2);
    let x = input(4);
    let g = Batch::<f64, 2>::from_fn(4, |i, j| 1.0 - i as f64 + 0.1 * j as f64);
    net.forward(&x);
    let dx = net.backward(&g);
    let once = grads(&net);
    assert!(once.iter().any(|v| *v != 0.0));
    let dx_view = net.backward_view(g.as_view()).unwrap().into_owned();
    assert_eq!(dx_view.as_slice(), dx.as_slice());
    for (twice, once) in grads(&net).iter().zip(&once) {
        assert!((twice - 2.0 * once).abs() < 1e-12);
    }
    net.zero_grad();
    assert!(grads(&net).iter().all(|v| *v == 0.0));
}

/// The message of the panic `f` raises (it must raise one).
fn panic_message(f: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("a panic");
    payload.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn backward_before_forward_is_refused_without_touching_gradients() {
    let mut net = Plain::<f64>::seeded(3);
    let g = Batch::<f64, 2>::from_element(4, 1.0);
    assert_eq!(net.try_backward(&g), Err(ShapeError::NoForward));
    let message = panic_message(|| drop(net.backward(&g)));
    assert_eq!(
        message,
        "backward: backward called before a training forward; run `forward` on the batch first \
         (`try_backward` returns this as a `ShapeError`)"
    );
    assert!(grads(&net).iter().all(|v| *v == 0.0));
    assert_eq!(net.backward_view(g.as_view()).unwrap_err(), ShapeError::NoForward);
}

#[test]
fn gradient_of_another_batch_size_is_refused_without_touching_gradients() {
    let mut net = Plain::<f64>::seeded(4);
    net.forward(&input(3));
    let g = Batch::<f64, 2>::from_element(2, 1.0);
    assert_eq!(net.try_backward(&g), Err(ShapeError::BatchSize { forward: 3, backward: 2 }));
    let message = panic_message(|| {
        net.backward_ref(&g);
    });
    assert!(message.starts_with("backward: gradient has 2 columns (samples) but the last forward had 3;"), "{message}");
    assert!(grads(&net).iter().all(|v| *v == 0.0));
    let ok = net.try_backward(&Batch::<f64, 2>::from_element(3, 1.0)).unwrap();
    assert_eq!(ok.ncols(), 3);
}

#[test]
#[should_panic(expected = "backward: gradient has 4 columns (samples) but the last forward had 3;")]
fn backward_with_more_samples_than_the_forward_panics_naming_both() {
    let mut net = Plain::<f64>::seeded(4);
    net.forward(&input(3));
    net.backward(&Batch::<f64, 2>::from_element(4, 1.0));
}

#[test]
fn model_views_report_wrong_widths() {
    let mut net = Plain::<f64>::seeded(5);
    let wide = nn::nalgebra::DMatrix::<f64>::zeros(4, 2);
    assert_eq!(
        net.forward_view(wide.as_view()).unwrap_err(),
        ShapeError::Width { what: "input", expected: 3, found: 4 }
    );
    assert_eq!(
        net.predict_view(wide.as_view()).unwrap_err(),
        ShapeError::Width { what: "input", expected: 3, found: 4 }
    );
    net.forward(&input(2));
    assert_eq!(
        net.backward_view(wide.as_view()).unwrap_err(),
        ShapeError::Width { what: "gradient", expected: 2, found: 4 }
    );
    assert_eq!(<Plain<f64> as Model<f64>>::NAME, "Plain");
    assert_eq!((Plain::INPUT, Plain::OUTPUT), (3, 2));
}

#[test]
fn aux_heads_are_exposed_in_network_order_with_their_weights() {
    let mut net = Headed::<f64>::seeded(6);
    assert_eq!(net.aux_heads(), 2);
    net.forward(&input(3));
    let (w0, h0) = net.aux_output(0).unwrap();
    assert_eq!((w0, h0.nrows(), h0.ncols()), (0.25, 2, 3));
    assert_eq!(net.aux_output(1).unwrap().0, 0.75);
    assert!(net.aux_output(2).is_none());
    let g = nn::nalgebra::DMatrix::<f64>::from_element(2, 3, 1.0);
    assert_eq!(net.set_aux_grad(2, g.as_view()), Err(ShapeError::NoSuchAuxHead { index: 2, heads: 2 }));
    let short = nn::nalgebra::DMatrix::<f64>::from_element(2, 1, 1.0);
    assert_eq!(net.set_aux_grad(0, short.as_view()), Err(ShapeError::BatchSize { forward: 3, backward: 1 }));
}

#[test]
fn an_aux_gradient_changes_only_the_parameters_before_its_head() {
    let x = input(3);
    let zero = Batch::<f64, 2>::zeros(3);
    let mut net = Headed::<f64>::seeded(7);
    net.forward(&x);
    let g = nn::nalgebra::DMatrix::<f64>::from_element(2, 3, 1.0);
    net.set_aux_grad(0, g.as_view()).unwrap();
    net.backward(&zero);
    for p in net.parameters() {
        let touched = p.grad.iter().any(|v| *v != 0.0);
        let upstream = p.name.starts_with("0.") || p.name.starts_with("2.");
        assert_eq!(touched, upstream, "{}", p.name);
    }
    // Used once, then cleared: a second backward with a zero main gradient adds nothing.
    let before = grads(&net);
    net.backward(&zero);
    assert_eq!(grads(&net), before);
}

#[test]
fn probe_shows_every_item_in_order_under_its_parameter_prefix() {
    let mut net = Plain::<f64>::seeded(8);
    net.forward(&input(2));
    net.backward(&Batch::<f64, 2>::from_element(2, 1.0));
    let mut seen = Vec::new();
    net.probe(&mut |p| {
        let grad = p.input_grad.map(|g| g.shape());
        seen.push((p.index, p.path.to_string(), p.kind, p.init, p.output.map(|o| o.shape()), grad))
    });
    let row = |index, path: &str, kind, init, output, grad| (index, path.to_string(), kind, init, output, grad);
    assert_eq!(
        seen,
        [
            row(0, "0", ItemKind::Dense, Some(Init::XavierUniform), Some((4, 2)), Some((3, 2))),
            row(1, "1", ItemKind::Tanh, None, Some((4, 2)), Some((4, 2))),
            row(2, "2", ItemKind::Residual, None, Some((4, 2)), Some((4, 2))),
            row(2, "2.0", ItemKind::Dense, Some(Init::HeNormal), Some((4, 2)), Some((4, 2))),
            row(2, "2.1", ItemKind::Relu, None, Some((4, 2)), Some((4, 2))),
            row(3, "3", ItemKind::Dense, Some(Init::XavierUniform), Some((2, 2)), Some((4, 2))),
        ]
    );
}

#[test]
fn summary_shows_widths_parameters_and_default_initializers() {
    let net = Plain::<f32>::seeded(0);
    let s = net.summary();
    assert!(s.starts_with("Plain (3 -> 2)\n"), "{s}");
    // dense(4) before tanh: Xavier; dense(4) before relu inside the residual: He.
    assert!(
        s.lines().any(|l| l.starts_with("0 ")
            && l.contains("3 -> 4")
            && l.contains("16")
            && l.contains("xavier_uniform (default)")),
        "{s}"
    );
    assert!(s.lines().any(|l| l.starts_with("2.0 ") && l.contains("he_normal (default)")), "{s}");
    assert!(s.ends_with(&format!("total parameters: {}\n", net.parameter_count())));
}

#[test]
fn derived_clone_copies_weights_and_keeps_gradients_apart() {
    let mut net = Plain::<f64>::seeded(11);
    let copy = net.clone();
    let x = input(2);
    assert_eq!(copy.predict(&x), net.predict(&x));
    net.forward(&x);
    net.backward(&Batch::<f64, 2>::from_element(2, 1.0));
    assert!(grads(&net).iter().any(|v| *v != 0.0));
    assert!(grads(&copy).iter().all(|v| *v == 0.0));
    assert!(format!("{copy:?}").starts_with("Plain"));
}
