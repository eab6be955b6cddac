//! Issue 10, acceptance 3 on a smaller budget: an Inception network with two
//! auxiliary heads learns the 8x8 digits as (1, 8, 8) images, and the heads
//! add gradient at the stem convolution. The full run is
//! `examples/inception_digits.rs`.

use nn::data::{digits, stratified_split, Dataset, Standardizer};
use nn::diagnostics::GradientFlow;
use nn::nalgebra::DMatrix;
use nn::prelude::*;

nn::network! {
    pub struct SmallInception((1, 8, 8) -> 10) {
        conv2d(8, kernel = 3, padding = 1), batch_norm, relu,
        parallel {
            branch { conv2d(4, kernel = 1), relu },
            branch { conv2d(4, kernel = 1), relu, conv2d(6, kernel = 3, padding = 1), relu },
            branch { conv2d(2, kernel = 1), relu, conv2d(4, kernel = 5, padding = 2), relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(2, kernel = 1), relu },
        },
        aux_head(weight = 0.3) { avg_pool(2), conv2d(4, kernel = 1), relu, flatten, dense(10) },
        max_pool(2),
        parallel {
            branch { conv2d(8, kernel = 1), relu },
            branch { conv2d(6, kernel = 1), relu, conv2d(8, kernel = 3, padding = 1), relu },
            branch { conv2d(2, kernel = 1), relu, conv2d(4, kernel = 5, padding = 2), relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(4, kernel = 1), relu },
        },
        aux_head(weight = 0.3) { avg_pool(2), conv2d(4, kernel = 1), relu, flatten, dense(10) },
        global_avg_pool,
        dense(10),
    }
}

fn split() -> (Dataset<f32>, Dataset<f32>) {
    let (mut train, mut test) = stratified_split(&digits::<f32>(), 0.2, 42).unwrap();
    let scaler = Standardizer::fit(&train).unwrap();
    scaler.apply(&mut train).unwrap();
    scaler.apply(&mut test).unwrap();
    (train, test)
}

/// ||dL/dW_stem|| after one forward and backward on `data`, with the heads'
/// weighted gradients added when `heads` is set.
fn stem_gradient(net: &mut SmallInception, data: &Dataset<f32>, heads: bool) -> f64 {
    net.zero_grad();
    let y = net.forward_view(data.inputs().as_view()).unwrap();
    let mut grad = DMatrix::zeros(y.nrows(), y.ncols());
    Loss::SoftmaxCrossEntropy.value_and_grad(y, data.targets(), grad.as_view_mut()).unwrap();
    if heads {
        for h in 0..net.aux_heads() {
            let (weight, out) = net.aux_output(h).unwrap();
            let mut g = DMatrix::zeros(out.nrows(), out.ncols());
            Loss::SoftmaxCrossEntropy.value_and_grad(out, data.targets(), g.as_view_mut()).unwrap();
            g *= weight as f32;
            net.set_aux_grad(h, g.as_view()).unwrap();
        }
    }
    net.backward_view(grad.as_view()).unwrap();
    let stem = net.parameters().into_iter().find(|p| p.name == "0.weight").unwrap();
    let norm = stem.grad.iter().map(|g| (*g as f64).powi(2)).sum::<f64>().sqrt();
    net.zero_grad();
    norm
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
