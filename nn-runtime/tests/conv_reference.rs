//! The image layers against PyTorch: outputs and autograd gradients (float64)
//! recorded by `tools/reference/conv.py` in `tests/data/conv.txt`.

use nn_runtime::{
    seeded_rng, AvgPool2d, Batch, BatchNorm2d, Conv2d, GlobalAvgPool, Init, Layer, MaxPool2d, ParamMut, ParamRef,
    Visit, VisitMut, ZeroGrad,
};

const TABLE: &str = include_str!("data/conv.txt");

/// The values of `key` (lines of `key v0 v1 ...`).
fn values(key: &str) -> Vec<f64> {
    let line = TABLE.lines().find(|l| l.split_whitespace().next() == Some(key));
    let line = line.unwrap_or_else(|| panic!("reference table has no {key}"));
    line.split_whitespace().skip(1).map(|v| v.parse().expect("a float")).collect()
}

/// Agreement to 1e-10, relative to the magnitude (or absolute below 1).
#[track_caller]
fn assert_close(what: &str, ours: &[f64], torch: &[f64]) {
    assert_eq!(ours.len(), torch.len(), "{what}: length");
    for (i, (a, b)) in ours.iter().zip(torch).enumerate() {
        assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{what}[{i}] = {a:e}, PyTorch {b:e}");
    }
}

/// Sets every parameter to the table's `{prefix}.{name}`.
struct Load<'a>(&'a str);
impl VisitMut<f64> for Load<'_> {
    fn param(&mut self, p: ParamMut<'_, f64>) {
        p.value.copy_from_slice(&values(&format!("{}.{}", self.0, p.name)));
    }
}

/// Collects `(name, grad)` of every parameter.
struct Grads(Vec<(String, Vec<f64>)>);
impl Visit<f64> for Grads {
    fn param(&mut self, p: ParamRef<'_, f64>) {
        self.0.push((p.name.to_string(), p.grad.to_vec()));
    }
}

/// Loads the case's parameters into `layer`, runs one training forward and
/// backward with dL/dy = `r`, and compares output, input gradient and every
/// parameter gradient with PyTorch's. `config` is what the Rust types were
/// built with; it must be the case's. Returns the layer and its output.
fn check<L: Layer<f64, I, O>, const I: usize, const O: usize>(
    mut layer: L,
    case: &str,
    config: &[usize],
    params: &[&str],
) -> (L, Batch<f64, O>) {
    let table_config: Vec<usize> = values(&format!("{case}.config")).iter().map(|v| *v as usize).collect();
    assert_eq!(table_config, config, "{case}: the Rust layer is not the reference's configuration");
    layer.visit_mut(&mut Load(case));
    layer.visit_mut(&mut ZeroGrad);
    let x = Batch::<f64, I>::from_column_slice(&values(&format!("{case}.x")));
    let y = layer.forward(&x).clone();
    assert_close(&format!("{case}.y"), y.as_slice(), &values(&format!("{case}.y")));
    let r = Batch::<f64, O>::from_column_slice(&values(&format!("{case}.r")));
    let dx = layer.backward(&r);
    assert_close(&format!("{case}.dx"), dx.as_slice(), &values(&format!("{case}.dx")));
    let mut grads = Grads(Vec::new());
    layer.visit(&mut grads);
    let names: Vec<&str> = grads.0.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, params, "{case}: parameters");
    for (name, grad) in &grads.0 {
        assert_close(&format!("{case}.d{name}"), grad, &values(&format!("{case}.d{name}")));
    }
    (layer, y)
}

/// Checks a layer whose evaluation is its training forward.
fn check_stateless<L: Layer<f64, I, O>, const I: usize, const O: usize>(
    layer: L,
    case: &str,
    config: &[usize],
    params: &[&str],
) {
    let (layer, y) = check(layer, case, config, params);
    let x = Batch::<f64, I>::from_column_slice(&values(&format!("{case}.x")));
    assert_eq!(layer.predict(&x), y, "{case}: predict differs from forward");
}

#[test]
fn conv2d_matches_pytorch() {
    let mut rng = seeded_rng(0);
    let wb: &[&str] = &["weight", "bias"];
    let conv = Conv2d::<f64, { 2 * 5 * 6 }, { 3 * 5 * 6 }>::new::<2, 5, 6, 3, 3, 1, 1>(&mut rng, Init::Zeros, true);
    check_stateless(conv, "conv.a", &[2, 5, 6, 3, 3, 1, 1, 1, 2], wb);
    let conv = Conv2d::<f64, { 3 * 7 * 7 }, { 4 * 3 * 3 }>::new::<3, 7, 7, 4, 3, 2, 0>(&mut rng, Init::Zeros, false);
    check_stateless(conv, "conv.b", &[3, 7, 7, 4, 3, 2, 0, 0, 2], &["weight"]);
    let conv = Conv2d::<f64, { 2 * 6 * 5 }, { 3 * 4 * 3 }>::new::<2, 6, 5, 3, 2, 2, 1>(&mut rng, Init::Zeros, true);
    check_stateless(conv, "conv.c", &[2, 6, 5, 3, 2, 2, 1, 1, 3], wb);
    let conv = Conv2d::<f64, { 3 * 4 * 4 }, { 2 * 4 * 4 }>::new::<3, 4, 4, 2, 1, 1, 0>(&mut rng, Init::Zeros, true);
    check_stateless(conv, "conv.d", &[3, 4, 4, 2, 1, 1, 0, 1, 2], wb);
    let conv = Conv2d::<f64, 64, { 4 * 8 * 8 }>::new::<1, 8, 8, 4, 5, 1, 2>(&mut rng, Init::Zeros, true);
    check_stateless(conv, "conv.e", &[1, 8, 8, 4, 5, 1, 2, 1, 2], wb);
}

#[test]
fn max_pool_matches_pytorch_including_ties() {
    check_stateless(MaxPool2d::<f64, 72, 18>::new::<2, 6, 6, 2, 2, 0>(), "max_pool.a", &[2, 6, 6, 2, 2, 0, 2], &[]);
    check_stateless(MaxPool2d::<f64, 70, 24>::new::<2, 5, 7, 3, 2, 1>(), "max_pool.b", &[2, 5, 7, 3, 2, 1, 2], &[]);
    // Inputs drawn from {0, 1, 2}: most windows hold tied maxima.
    check_stateless(MaxPool2d::<f64, 32, 18>::new::<2, 4, 4, 2, 1, 0>(), "max_pool.c", &[2, 4, 4, 2, 1, 0, 2], &[]);
    check_stateless(MaxPool2d::<f64, 50, 50>::new::<2, 5, 5, 3, 1, 1>(), "max_pool.d", &[2, 5, 5, 3, 1, 1, 2], &[]);
}

#[test]
fn avg_pool_matches_pytorch() {
    check_stateless(AvgPool2d::<f64, 72, 18>::new::<2, 6, 6, 2, 2, 0>(), "avg_pool.a", &[2, 6, 6, 2, 2, 0, 2], &[]);
    check_stateless(AvgPool2d::<f64, 70, 24>::new::<2, 5, 7, 3, 2, 1>(), "avg_pool.b", &[2, 5, 7, 3, 2, 1, 2], &[]);
    check_stateless(AvgPool2d::<f64, 32, 18>::new::<2, 4, 4, 2, 1, 0>(), "avg_pool.c", &[2, 4, 4, 2, 1, 0, 2], &[]);
    check_stateless(AvgPool2d::<f64, 50, 50>::new::<2, 5, 5, 3, 1, 1>(), "avg_pool.d", &[2, 5, 5, 3, 1, 1, 2], &[]);
}

#[test]
fn global_avg_pool_matches_adaptive_avg_pool_and_flatten() {
    check_stateless(GlobalAvgPool::<f64, 60, 3>::new::<3, 4, 5>(), "global_avg_pool", &[3, 4, 5, 2], &[]);
}

#[test]
fn batch_norm2d_matches_pytorch_in_training_and_evaluation() {
    let mut bn = BatchNorm2d::<f64, { 3 * 4 * 5 }>::new::<3, 4, 5>(0.1, 1e-5);
    for step in 1..=2 {
        let case = format!("batch_norm2d.step{step}");
        bn = check(bn, &case, &[3, 4, 5, 3], &["weight", "bias"]).0;
        assert_close(&format!("{case}.running_mean"), bn.running_mean(), &values(&format!("{case}.running_mean")));
        assert_close(&format!("{case}.running_var"), bn.running_var(), &values(&format!("{case}.running_var")));
        assert_eq!(bn.num_batches_tracked() as f64, values(&format!("{case}.num_batches_tracked"))[0]);
    }
    let x = Batch::<f64, 60>::from_column_slice(&values("batch_norm2d.eval.x"));
    assert_close("batch_norm2d.eval.y", bn.predict(&x).as_slice(), &values("batch_norm2d.eval.y"));
}
