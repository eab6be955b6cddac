//! Issue 21, acceptance 1: `GradientFlow` looks inside blocks. A 12-layer
//! sigmoid stack written with `repeat` gets one row per layer, the same
//! per-layer factor as the stack written out (about 0.23: sigmoid's slope is at
//! most 0.25), `relu` among the remedies, and no initializer its layers
//! already use.

use nn::data::{digits, Standardizer};
use nn::diagnostics::GradientFlow;
use nn::{Init, ItemKind, Loss, Model};

nn::network! {
    /// Twelve sigmoid layers as a new user writes them.
    pub struct Repeated(64 -> 10) { repeat(12) { dense(64), sigmoid }, dense(10) }

    /// The same stack written out.
    pub struct WrittenOut(64 -> 10) {
        dense(64), sigmoid, dense(64), sigmoid, dense(64), sigmoid, dense(64), sigmoid,
        dense(64), sigmoid, dense(64), sigmoid, dense(64), sigmoid, dense(64), sigmoid,
        dense(64), sigmoid, dense(64), sigmoid, dense(64), sigmoid, dense(64), sigmoid,
        dense(10),
    }
}

/// The flow of `net` at initialisation over 256 standardized digits.
fn measure<M: Model<f64>>(mut net: M) -> GradientFlow {
    let mut data = digits::<f64>();
    Standardizer::fit(&data).unwrap().apply(&mut data).unwrap();
    let data = data.subset(&(0..256).collect::<Vec<_>>()).unwrap();
    GradientFlow::measure(&mut net, data.inputs().as_view(), data.targets(), Loss::SoftmaxCrossEntropy).unwrap()
}

#[test]
fn a_repeated_sigmoid_stack_gets_a_row_per_layer_and_the_factor_of_the_written_out_stack() {
    let repeated = measure(Repeated::<f64>::seeded(3));
    let written = measure(WrittenOut::<f64>::seeded(3));

    // One row per layer inside the repeat, under the path its parameters are named by.
    let dense_paths: Vec<&str> =
        repeated.items.iter().filter(|i| i.kind == ItemKind::Dense).map(|i| i.path.as_str()).collect();
    let mut expected: Vec<String> = (0..12).map(|k| format!("0.{k}.0")).collect();
    expected.push("1".to_string());
    assert_eq!(dense_paths, expected);
    let sigmoids = repeated.items.iter().filter(|i| i.kind == ItemKind::Sigmoid).count();
    assert_eq!(sigmoids, 12);
    assert_eq!(repeated.weighted().count(), 13);
    assert_eq!(written.weighted().count(), 13);

    // The same seed draws the same weights in both, so the rows and the fit agree.
    let norms = |flow: &GradientFlow| flow.weighted().map(|i| i.input_grad_norm.unwrap()).collect::<Vec<_>>();
    assert_eq!(norms(&repeated), norms(&written));
    let fit = repeated.depth_fit().unwrap();
    assert_eq!(fit, written.depth_fit().unwrap());
    assert_eq!(fit.layers, 13);
    assert!((0.21..0.26).contains(&fit.factor), "{fit:?}");
    assert!(fit.r2 > 0.95, "{fit:?}");

    let verdict = repeated.verdict();
    assert!(verdict.is_vanishing(), "{verdict:?}");
    let remedies: Vec<&str> = verdict.remedies.iter().map(|r| r.spelling).collect();
    assert_eq!(remedies.first(), Some(&"relu"), "{remedies:?}");
    // Every dense already starts from Xavier (the macro's choice before a sigmoid).
    assert!(repeated.weighted().all(|i| matches!(i.init, Some(Init::XavierUniform | Init::XavierNormal))));
    assert!(!remedies.iter().any(|r| r.starts_with("init = xavier")), "{remedies:?}");
    let text = repeated.to_string();
    assert!(text.contains(&format!("factor {:.3} per weighted layer over 13 layers", fit.factor)), "{text}");
}
