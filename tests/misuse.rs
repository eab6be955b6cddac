//! No silent misuse at run time (issue 19, item 3): a backward that does not
//! belong to the last forward, and a training batch of one sample through a
//! `batch_norm`, are refused with messages that name the sizes and the item,
//! as errors from the `try_` methods and the `Model` view and as panics from
//! the typed methods without `try_`, for a network and for every layer alone.

use nn::data::Dataset;
use nn::prelude::*;
use nn::testing::{grad_check, LayerModel};
use nn::train::TrainError;
use nn::{
    Activation, AuxHead, AvgPool2d, BatchNorm, BatchNorm2d, Branch, Chain, Concat, Conv2d, Dense, Dropout, Flatten,
    GlobalAvgPool, Highway, LayerNorm, MaxPool2d, Parallel, ParamRef, Prelu, Relu, Repeat, Residual,
    ResidualProjection, ShapeError, Sigmoid, Visit,
};

nn::network! {
    pub struct Normed(3 -> 2) { dense(4), batch_norm, relu, dense(2) }
    pub struct NestedNorm(3 -> 2) { dense(4), relu, repeat(2) { residual { dense(4), batch_norm }, relu }, dense(2) }
    /// Four values per channel from one sample: PyTorch trains on it, and so does nn.
    pub struct Pixels((2, 2, 2) -> 2) { conv2d(3, kernel = 1), batch_norm, relu, global_avg_pool, dense(2) }
    /// The kernel covers the whole image: one value per channel from one sample.
    pub struct OnePixel((2, 2, 2) -> 2) { conv2d(3, kernel = 2), batch_norm, flatten, dense(2) }
}

/// The message of the panic `f` raises (it must raise one).
fn panic_message(f: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("a panic");
    payload.downcast_ref::<String>().cloned().or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

fn batch<const N: usize>(cols: usize) -> Batch<f64, N> {
    Batch::<f64, N>::from_fn(cols, |i, j| ((i * 7 + j * 3) % 5) as f64 * 0.3 - 0.5)
}

/// The sum of |gradient| over every parameter.
fn grad_sum<V: FnOnce(&mut dyn Visit<f64>)>(visit: V) -> f64 {
    struct Sum(f64);
    impl Visit<f64> for Sum {
        fn param(&mut self, p: ParamRef<'_, f64>) {
            self.0 += p.grad.iter().map(|g| g.abs()).sum::<f64>();
        }
    }
    let mut sum = Sum(0.0);
    visit(&mut sum);
    sum.0
}

const ONE_VALUE: &str = "(batch_norm) would get 1 value per channel from this training batch of 1 sample, and batch \
                         statistics need more than 1 (as PyTorch says, \"Expected more than 1 value per channel when \
                         training\"); train on batches of at least 2 samples, or use `predict` (running statistics) \
                         for one sample";

#[test]
fn one_sample_through_a_batch_norm_is_refused_naming_the_item() {
    let mut net = Normed::<f64>::seeded(1);
    let x = batch::<3>(1);
    let expected = ShapeError::OneValuePerChannel { item: "1" };
    assert_eq!(net.forward_view(x.as_view()).unwrap_err(), expected);
    assert_eq!(net.try_forward(&x).unwrap_err(), expected);
    assert_eq!(net.try_forward_ref(&x).unwrap_err(), expected);
    assert_eq!(expected.to_string(), format!("item 1 {ONE_VALUE}"));
    assert_eq!(
        panic_message(|| drop(net.forward(&x))),
        format!("forward: item 1 {ONE_VALUE} (`try_forward` returns this as a `ShapeError`)")
    );
    // Nothing ran, so there is nothing to go back through, and no statistic moved.
    assert_eq!(net.try_backward(&Batch::zeros(1)).unwrap_err(), ShapeError::NoForward);
    let running = |net: &Normed<f64>| net.buffers();
    let before = running(&net);
    assert!(net.try_forward(&x).is_err());
    assert_eq!(running(&net), before);
    // One sample predicts with the running statistics; two samples train.
    assert!(net.predict(&x).iter().all(|v| v.is_finite()));
    assert_eq!(net.forward(&batch::<3>(2)).ncols(), 2);
    assert_ne!(running(&net), before);
}

#[test]
fn the_item_is_named_by_its_path_inside_blocks() {
    let mut net = NestedNorm::<f64>::seeded(2);
    let x = batch::<3>(1);
    assert_eq!(net.try_forward(&x).unwrap_err(), ShapeError::OneValuePerChannel { item: "2.0.0.1" });
    assert_eq!(net.forward(&batch::<3>(3)).ncols(), 3);
}

#[test]
fn an_image_batch_norm_refuses_one_sample_only_at_one_pixel() {
    let mut pixels = Pixels::<f64>::seeded(3);
    assert!(pixels.try_forward(&batch::<8>(1)).is_ok());
    pixels.backward(&Batch::from_element(1, 0.5));
    let mut one = OnePixel::<f64>::seeded(4);
    assert_eq!(one.try_forward(&batch::<8>(1)).unwrap_err(), ShapeError::OneValuePerChannel { item: "1" });
    assert!(one.try_forward(&batch::<8>(2)).is_ok());
}

#[test]
fn the_trainer_reports_a_last_batch_of_one_sample() {
    let rows: Vec<[f64; 3]> = (0..5).map(|i| [i as f64, 1.0 - i as f64, 0.5 * i as f64]).collect();
    let data = Dataset::from_rows_classes(&rows, &[0, 1, 0, 1, 0], 2).unwrap();
    let mut net = Normed::<f64>::seeded(5);
    let error = Trainer::new(Sgd::new(0.1)).epochs(1).batch_size(2).fit(&mut net, &data, None).unwrap_err();
    assert!(matches!(error, TrainError::Shape(ShapeError::OneValuePerChannel { item: "1" })), "{error}");
    // Batches of 2 and 3 samples train.
    let mut net = Normed::<f64>::seeded(5);
    Trainer::new(Sgd::new(0.1)).epochs(1).batch_size(3).fit(&mut net, &data, None).unwrap();
}

#[test]
fn a_network_still_passes_its_gradient_check_with_batch_norm_in_blocks() {
    grad_check(&mut NestedNorm::<f64>::seeded(6), 3, 7).assert_below(1e-6);
}

/// Runs a backward before any forward, then a forward of 3 samples through
/// `layer` and backwards of 2 and of 4 samples: each must panic naming both
/// sizes and leave every gradient at zero. Then a backward of 3 must work.
fn refuses_other_batch_sizes<L: Layer<f64, I, O>, const I: usize, const O: usize>(what: &str, mut layer: L) {
    let message = panic_message(|| {
        layer.backward(&Batch::from_element(3, 0.5));
    });
    let expected = "Layer::backward: dL/dy has 3 samples (columns) but the last training forward had 0 (or there was \
                    none); give backward the gradient of the last forward's output";
    assert_eq!(message, expected, "{what}");
    assert_eq!(grad_sum(|v| layer.visit(v)), 0.0, "{what}: a backward without forward added to a gradient");
    layer.forward(&batch::<I>(3));
    for cols in [2, 4] {
        let g = Batch::<f64, O>::from_element(cols, 0.5);
        for params_only in [false, true] {
            let message = panic_message(|| {
                if params_only {
                    layer.backward_params(&g);
                } else {
                    layer.backward(&g);
                }
            });
            let expected = format!(
                "Layer::backward: dL/dy has {cols} samples (columns) but the last training forward had 3; give \
                 backward the gradient of the last forward's output"
            );
            assert_eq!(message, expected, "{what}");
            assert_eq!(grad_sum(|v| layer.visit(v)), 0.0, "{what}: a refused backward added to a gradient");
        }
    }
    assert_eq!(layer.backward(&Batch::from_element(3, 0.5)).ncols(), 3, "{what}");
}

#[test]
fn every_layer_refuses_a_backward_without_forward_or_of_another_batch_size() {
    let rng = &mut seeded_rng(8);
    let dense = |rng: &mut _| Dense::<f64, 4, 4>::new(rng, Init::XavierUniform, true);
    refuses_other_batch_sizes("dense", Dense::<f64, 4, 3>::new(rng, Init::HeNormal, true));
    refuses_other_batch_sizes("relu", Activation::<f64, Relu, 4>::default());
    refuses_other_batch_sizes("sigmoid", Activation::<f64, Sigmoid, 4>::default());
    refuses_other_batch_sizes("prelu", Prelu::<f64, 4>::new(0.25));
    refuses_other_batch_sizes("batch_norm", BatchNorm::<f64, 4>::new(0.1, 1e-5));
    refuses_other_batch_sizes("batch_norm 2d", BatchNorm2d::<f64, 8>::new::<2, 2, 2>(0.1, 1e-5));
    refuses_other_batch_sizes("layer_norm", LayerNorm::<f64, 4>::new(1e-5));
    refuses_other_batch_sizes("dropout", Dropout::<f64, 4>::new(0.5, seeded_rng(9)));
    refuses_other_batch_sizes("conv2d", Conv2d::<f64, 8, 12>::new::<2, 2, 2, 3, 1, 1, 0>(rng, Init::HeNormal, true));
    refuses_other_batch_sizes("max_pool", MaxPool2d::<f64, 8, 2>::new::<2, 2, 2, 2, 2, 0>());
    refuses_other_batch_sizes("avg_pool", AvgPool2d::<f64, 8, 2>::new::<2, 2, 2, 2, 2, 0>());
    refuses_other_batch_sizes("global_avg_pool", GlobalAvgPool::<f64, 8, 2>::new::<2, 2, 2>());
    refuses_other_batch_sizes("flatten", Flatten::<f64, 8>::default());
    refuses_other_batch_sizes("residual", Residual::<f64, _, 4>::new(dense(rng)));
    let body = Dense::<f64, 4, 3>::new(rng, Init::HeNormal, true);
    refuses_other_batch_sizes(
        "residual(projection)",
        ResidualProjection::<f64, _, 4, 3>::new(rng, body, Init::XavierUniform),
    );
    let body = dense(rng);
    refuses_other_batch_sizes("highway", Highway::<f64, _, 4>::new(rng, body, Init::XavierUniform));
    refuses_other_batch_sizes(
        "concat",
        Concat::<f64, _, 4, 2, 6>::new(Dense::<f64, 4, 2>::new(rng, Init::HeNormal, true)),
    );
    let (a, b) =
        (Dense::<f64, 4, 2>::new(rng, Init::HeNormal, true), Dense::<f64, 4, 3>::new(rng, Init::HeNormal, true));
    refuses_other_batch_sizes("parallel", Parallel::<f64, _, 4, 5>::new((Branch::<_, 2>(a), Branch::<_, 3>(b))));
    refuses_other_batch_sizes(
        "aux_head",
        AuxHead::<f64, _, 4, 2>::new(Dense::<f64, 4, 2>::new(rng, Init::HeNormal, true), 0.5),
    );
    refuses_other_batch_sizes("repeat", Repeat::<f64, _, 4, 2>::from_fn(|_| dense(rng)));
    refuses_other_batch_sizes("chain", Chain::new(dense(rng), Activation::<f64, Relu, 4>::default()));
}

#[test]
fn a_refused_layer_backward_keeps_its_gradient_and_a_model_view_says_why() {
    // Through the `Model` view of a layer, the same mismatch is an error.
    let mut model = LayerModel::new(Dense::<f64, 3, 2>::new(&mut seeded_rng(10), Init::HeNormal, true));
    model.forward_view(batch::<3>(3).as_view()).unwrap();
    let g = nn::nalgebra::DMatrix::<f64>::from_element(2, 2, 1.0);
    assert_eq!(model.backward_view(g.as_view()).unwrap_err(), ShapeError::BatchSize { forward: 3, backward: 2 });
    assert!(model.parameters().iter().all(|p| p.grad.iter().all(|g| *g == 0.0)));
}
