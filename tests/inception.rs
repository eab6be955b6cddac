//! Issue 10, acceptance 3 on a smaller budget: an Inception network with two
//! auxiliary heads learns the 8x8 digits as (1, 8, 8) images, and the heads
//! add gradient at the stem convolution. The full run is
//! `examples/inception_digits.rs`.

use nn::data::{digits, stratified_split, Dataset, Standardizer};
use nn::diagnostics::GradientFlow;
use nn::prelude::*;

#[path = "../examples/common/inception_parts.rs"]
#[macro_use]
mod inception_parts;

use inception_parts::stem_gradient;

inception! {
    /// The example's `Heads` at half its widths, with batch norm after the stem.
    SmallInception: stem [conv2d(8, kernel = 3, padding = 1), batch_norm, relu],
    branch_norm [],
    modules [4, 4, 6, 2, 4, 2] [8, 6, 8, 2, 4, 4],
    head [aux_head(weight = 0.3) { avg_pool(2), conv2d(4, kernel = 1), relu, flatten, dense(10) },],
}

fn split() -> (Dataset<f32>, Dataset<f32>) {
    let (mut train, mut test) = stratified_split(&digits::<f32>(), 0.2, 42).unwrap();
    let scaler = Standardizer::fit(&train).unwrap();
    scaler.apply(&mut train).unwrap();
    scaler.apply(&mut test).unwrap();
    (train, test)
}

#[test]
fn aux_heads_add_gradient_at_the_stem() {
    let (train, _) = split();
    let mut net = SmallInception::<f32>::seeded(42);
    let with = stem_gradient(&mut net, &train, true);
    let without = stem_gradient(&mut net, &train, false);
    // Without heads our measurement is the diagnostics' one.
    let flow = GradientFlow::measure(&mut net, train.inputs(), train.targets(), Loss::SoftmaxCrossEntropy).unwrap();
    let diag = flow.items[0].weight_grad_norm.unwrap();
    assert!((diag - without).abs() <= 1e-4 * without, "GradientFlow {diag} vs {without}");
    assert!(with > 1.1 * without, "stem gradient with heads {with}, without {without}");
}

#[test]
fn inception_with_aux_heads_learns_the_digits() {
    let (train, test) = split();
    let mut net = SmallInception::<f32>::seeded(42);
    let mut trainer = Trainer::new(Adam::new(3e-3))
        .epochs(15)
        .batch_size(32)
        .seed(42)
        .schedule(Schedule::Cosine { t_max: 15, eta_min: 1e-4 })
        .quiet();
    trainer.fit(&mut net, &train, None).unwrap();
    let accuracy = evaluate(&net, Loss::SoftmaxCrossEntropy, &test).unwrap().accuracy.unwrap();
    assert!(accuracy >= 0.9, "test accuracy {accuracy}");
}
