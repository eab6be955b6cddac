//! Gradient-flow diagnostics on hand-written networks built as `network!`
//! builds them: one field per item, `probe` showing each in order.

use nalgebra::{DMatrix, DMatrixView};
use rand_distr::{Distribution, StandardNormal};

use super::*;
use crate::layers::{
    Activation, ActivationFn, Dense, Elu, Gelu, Identity, LeakyRelu, Mish, Relu, Sigmoid, Softplus, Swish, Tanh,
};
use crate::testing::LayerModel;
use crate::{
    batch::Batch,
    error::ShapeError,
    init::{seeded_rng, Init},
    item::{Family, ItemKind},
    layer::{empty, view_into_batch, visit_in, visit_mut_in, BufferMut, BufferRef, Layer, Visit, VisitMut},
    loss::{Loss, LossError, Targets},
    model::{Model, Probe},
    snapshot::Snapshot,
};

/// What `network!` tells the runtime about an activation (its item table
/// states it; these tests state it for the hand-written [`Stack`]).
trait Described {
    const KIND: ItemKind;
    const FAMILY: Family;
}

macro_rules! described {
    ($($f:ident: $family:expr),* $(,)?) => {
        $(impl Described for $f {
            const KIND: ItemKind = ItemKind::$f;
            const FAMILY: Family = $family;
        })*
    };
}

described! {
    Identity: Family::Other,
    Relu: Family::Relu,
    LeakyRelu: Family::Relu,
    Elu: Family::Relu,
    Gelu: Family::Relu,
    Swish: Family::Relu,
    Mish: Family::Relu,
    Softplus: Family::Other,
    Sigmoid: Family::Saturating { low: 0.0, high: 1.0 },
    Tanh: Family::Saturating { low: -1.0, high: 1.0 },
}

/// `D` times `dense(W), F`: items 2k are the dense layers, 2k + 1 the activations.
struct Stack<F: ActivationFn, const W: usize, const D: usize> {
    dense: [Dense<f64, W, W>; D],
    act: [Activation<f64, F, W>; D],
    /// The initializer of every dense weight, if they still are as it drew them.
    init: Option<Init>,
    x: Batch<f64, W>,
    g: Batch<f64, W>,
}

impl<F: ActivationFn + Default, const W: usize, const D: usize> Stack<F, W, D> {
    fn new(seed: u64, init: Init) -> Self {
        let mut rng = seeded_rng(seed);
        Stack {
            dense: std::array::from_fn(|_| Dense::new(&mut rng, init, true)),
            act: std::array::from_fn(|_| Activation::default()),
            init: Some(init),
            x: empty(),
            g: empty(),
        }
    }

    /// Every dense weight `scale * I`, biases zero.
    fn scaled_identity(scale: f64) -> Self {
        let mut s = Self::new(0, Init::Zeros);
        s.init = None;
        for d in &mut s.dense {
            for i in 0..W {
                d.weight_mut()[i * W + i] = scale;
            }
        }
        s
    }
}

impl<F: ActivationFn + Described, const W: usize, const D: usize> Model<f64> for Stack<F, W, D> {
    const INPUT: usize = W;
    const OUTPUT: usize = W;
    const NAME: &'static str = "Stack";

    fn visit(&self, v: &mut dyn Visit<f64>) {
        for (i, d) in self.dense.iter().enumerate() {
            visit_in(v, &(2 * i).to_string(), |v| d.visit(v));
        }
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<f64>) {
        for (i, d) in self.dense.iter_mut().enumerate() {
            visit_mut_in(v, &(2 * i).to_string(), |v| d.visit_mut(v));
        }
    }
    fn forward_view(&mut self, x: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
        if x.nrows() != W {
            return Err(ShapeError::Width { what: "input", expected: W, found: x.nrows() });
        }
        view_into_batch(&x, &mut self.x);
        let mut y = &self.x;
        for (d, a) in self.dense.iter_mut().zip(self.act.iter_mut()) {
            y = a.forward(d.forward(y));
        }
        Ok(y.as_view())
    }
    fn backward_view(&mut self, grad: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
        if grad.ncols() != self.x.ncols() {
            return Err(ShapeError::BatchSize { forward: self.x.ncols(), backward: grad.ncols() });
        }
        view_into_batch(&grad, &mut self.g);
        let mut g = &self.g;
        for (d, a) in self.dense.iter_mut().zip(self.act.iter_mut()).rev() {
            g = d.backward(a.backward(g));
        }
        Ok(g.as_view())
    }
    fn predict_view(&self, x: DMatrixView<'_, f64>) -> Result<DMatrix<f64>, ShapeError> {
        let mut b = empty::<f64, W>();
        view_into_batch(&x, &mut b);
        for (d, a) in self.dense.iter().zip(&self.act) {
            b = a.predict(&d.predict(&b));
        }
        Ok(DMatrix::from_column_slice(W, b.ncols(), b.as_slice()))
    }
    fn probe(&self, f: &mut dyn FnMut(Probe<'_, f64>)) {
        for (i, (d, a)) in self.dense.iter().zip(&self.act).enumerate() {
            let (dense, act) = ((2 * i).to_string(), (2 * i + 1).to_string());
            f(Probe {
                index: 2 * i,
                path: &dense,
                kind: ItemKind::Dense,
                family: Family::Other,
                init: self.init,
                output: d.output().map(|y| y.as_view()),
                input_grad: d.input_grad().map(|g| g.as_view()),
            });
            f(Probe {
                index: 2 * i + 1,
                path: &act,
                kind: F::KIND,
                family: F::FAMILY,
                init: None,
                output: a.output().map(|y| y.as_view()),
                input_grad: a.input_grad().map(|g| g.as_view()),
            });
        }
    }
}

/// L = ||y||^2 / (2n): dL/dy = y / n.
fn half_square(y: DMatrixView<'_, f64>) -> (f64, DMatrix<f64>) {
    let n = y.ncols() as f64;
    (0.5 * y.norm_squared() / n, y.clone_owned() / n)
}

fn normal_batch(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = seeded_rng(seed);
    DMatrix::from_fn(rows, cols, |_, _| StandardNormal.sample(&mut rng))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn twenty_identity_layers_of_0_9_give_factor_0_9_and_ratio_0_9_pow_20() {
    let mut net = Stack::<Identity, 8, 20>::scaled_identity(0.9);
    let x = normal_batch(8, 16, 1);
    let flow = GradientFlow::measure_with(&mut net, &x, half_square).unwrap();

    assert_eq!(flow.items.len(), 40);
    let ratio = flow.ratio().unwrap();
    assert!(close(ratio, 0.121_576_654_590_569_3, 0.01), "ratio {ratio}");
    let fit = flow.depth_fit().unwrap();
    assert_eq!(fit.layers, 20);
    assert!(close(fit.factor, 0.9, 0.01), "factor {}", fit.factor);
    assert!(fit.r2 > 0.999_999, "r2 {}", fit.r2);

    // Each dense weight is 0.9 I on 8 units.
    let w = flow.items[0].weight_norm.unwrap();
    assert!(close(w, 0.9 * 8f64.sqrt(), 1e-12), "weight norm {w}");
    // The last dense layer sees x_in = 0.9^19 x and dL/dy = 0.9^20 x / n, so
    // dL/dW = 0.9^39 x x^T / n.
    let expected = 0.9f64.powi(39) * (&x * x.transpose()).norm() / 16.0;
    let last = flow.items[38].weight_grad_norm.unwrap();
    assert!(close(last, expected, 1e-9), "{last} vs {expected}");
    // Activations have no weights, and identity is neither dead nor saturated.
    assert_eq!(flow.items[1].weight_norm, None);
    assert_eq!((flow.items[1].dead_share, flow.items[1].saturated_share), (None, None));
    // 0.12 over 20 layers is a gentle decline, not a vanishing gradient.
    assert!(flow.verdict().is_healthy(), "{}", flow.verdict());
    assert_eq!(flow.verdict().headline(), "healthy");
}

#[test]
fn halving_layers_are_vanishing_with_shortcut_remedies_and_no_clipping() {
    let mut net = Stack::<Identity, 4, 12>::scaled_identity(0.5);
    let flow = GradientFlow::measure_with(&mut net, &normal_batch(4, 8, 2), half_square).unwrap();
    let v = flow.verdict();
    assert!(v.is_vanishing() && !v.is_exploding(), "{v}");
    assert_eq!(v.headline(), "vanishing");
    assert!(close(flow.depth_fit().unwrap().factor, 0.5, 1e-9));
    let spellings: Vec<&str> = v.remedies.iter().map(|r| r.spelling).collect();
    for expected in ["residual { .. }", "highway { .. }", "batch_norm", "init = xavier_normal"] {
        assert!(spellings.contains(&expected), "{expected} missing from {spellings:?}");
    }
    assert!(!spellings.iter().any(|s| s.starts_with("Clip")), "{spellings:?}");
    assert!(v.caveats.iter().any(|c| c.contains("clipping cures explosion, not vanishing")));
}

#[test]
fn growing_layers_are_exploding_and_clipping_is_offered() {
    let mut net = Stack::<Identity, 4, 12>::scaled_identity(2.0);
    let flow = GradientFlow::measure_with(&mut net, &normal_batch(4, 8, 3), half_square).unwrap();
    let v = flow.verdict();
    assert!(v.is_exploding() && !v.is_vanishing(), "{v}");
    assert!(close(flow.depth_fit().unwrap().factor, 2.0, 1e-9));
    assert_eq!(v.remedies[0].spelling, "Clip::GlobalNorm(1.0)");
    assert!(v.remedies[0].why.contains("clipping cures explosion, not vanishing"));
}

#[test]
fn a_relu_layer_with_a_large_negative_bias_is_100_percent_dead() {
    let mut net = Stack::<Relu, 6, 3>::new(4, Init::HeNormal);
    net.dense[1].bias_mut().unwrap().fill(-100.0);
    // L = mean over samples of sum(y): dL/dy = 1/n everywhere, even where y = 0.
    let sum = |y: DMatrixView<'_, f64>| (y.sum() / y.ncols() as f64, DMatrix::from_element(6, y.ncols(), 1.0 / 64.0));
    let flow = GradientFlow::measure_with(&mut net, &normal_batch(6, 64, 5), sum).unwrap();
    assert_eq!(flow.items[3].dead_share, Some(1.0));
    assert_eq!(flow.items[1].dead_share, Some(0.0));
    let v = flow.verdict();
    assert!(v.has_dead_units(3) && !v.has_dead_units(1), "{v}");
    assert_eq!(v.headline(), "vanishing, dead units");
    // Nothing passes the dead layer, so the input sees no gradient at all.
    assert_eq!(flow.ratio(), Some(0.0));
    assert!(v.is_vanishing());
    assert!(v.remedies.iter().any(|r| r.spelling == "leaky_relu(slope = 0.01)"));
}

/// Share of dead units in item 1 of `dense(4), F` with bias -50, and whether the verdict flags it.
fn dead_after_negative_bias<F: ActivationFn + Default + Described>() -> (Option<f64>, bool) {
    let mut net = Stack::<F, 4, 1>::new(18, Init::HeNormal);
    net.dense[0].bias_mut().unwrap().fill(-50.0);
    let flow = GradientFlow::measure_with(&mut net, &normal_batch(4, 32, 19), half_square).unwrap();
    (flow.items[1].dead_share, flow.verdict().has_dead_units(1))
}

#[test]
fn every_relu_family_kind_is_checked_for_dead_units_and_others_are_not() {
    assert_eq!(dead_after_negative_bias::<LeakyRelu>(), (Some(1.0), true));
    assert_eq!(dead_after_negative_bias::<Elu>(), (Some(1.0), true));
    assert_eq!(dead_after_negative_bias::<Gelu>(), (Some(1.0), true));
    assert_eq!(dead_after_negative_bias::<Swish>(), (Some(1.0), true));
    assert_eq!(dead_after_negative_bias::<Mish>(), (Some(1.0), true));
    // Softplus is always positive, tanh is judged for saturation instead.
    assert_eq!(dead_after_negative_bias::<Softplus>(), (None, false));
    assert_eq!(dead_after_negative_bias::<Tanh>(), (None, false));
}

/// A batch whose every entry is `+a` or `-a`.
fn plus_minus(rows: usize, cols: usize, a: f64) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |i, j| if (i + j) % 2 == 0 { a } else { -a })
}

#[test]
fn a_sigmoid_layer_fed_plus_minus_10_is_saturated_and_fed_plus_minus_1_is_not() {
    let mut net = Stack::<Sigmoid, 4, 1>::scaled_identity(1.0);
    let flow = GradientFlow::measure_with(&mut net, &plus_minus(4, 10, 10.0), half_square).unwrap();
    assert_eq!(flow.items[1].saturated_share, Some(1.0));
    assert!(flow.verdict().is_saturated(1), "{}", flow.verdict());
    assert!(flow.verdict().remedies.iter().any(|r| r.spelling == "batch_norm"));

    let flow = GradientFlow::measure_with(&mut net, &plus_minus(4, 10, 1.0), half_square).unwrap();
    assert_eq!(flow.items[1].saturated_share, Some(0.0));
    assert!(!flow.verdict().is_saturated(1));
}

#[test]
fn tanh_saturates_beyond_2_and_sigmoid_beyond_4() {
    // Pre-activations 3 and 1: tanh is saturated for 3 only; sigmoid for neither.
    let x = DMatrix::from_row_slice(2, 2, &[3.0, -3.0, 1.0, -1.0]);
    let mut t = Stack::<Tanh, 2, 1>::scaled_identity(1.0);
    let flow = GradientFlow::measure_with(&mut t, &x, half_square).unwrap();
    assert_eq!(flow.items[1].saturated_share, Some(0.5));
    let mut s = Stack::<Sigmoid, 2, 1>::scaled_identity(1.0);
    let flow = GradientFlow::measure_with(&mut s, &x, half_square).unwrap();
    assert_eq!(flow.items[1].saturated_share, Some(0.0));
    let flow = GradientFlow::measure_with(&mut s, &(x * 1.5), half_square).unwrap();
    assert_eq!(flow.items[1].saturated_share, Some(0.5));
}

/// A stack with a batch counter, as batch_norm's `num_batches_tracked` and a
/// running statistic, to see that measuring leaves buffers alone.
struct Counted {
    net: Stack<Relu, 3, 2>,
    batches: i64,
    running: [f64; 3],
}

impl Model<f64> for Counted {
    const INPUT: usize = 3;
    const OUTPUT: usize = 3;
    const NAME: &'static str = "Counted";
    fn visit(&self, v: &mut dyn Visit<f64>) {
        self.net.visit(v);
        v.buffer(BufferRef::Count { name: "num_batches_tracked", value: self.batches });
        v.buffer(BufferRef::Float { name: "running_mean", shape: &[3], value: &self.running });
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<f64>) {
        self.net.visit_mut(v);
        v.buffer(BufferMut::Count { name: "num_batches_tracked", value: &mut self.batches });
        v.buffer(BufferMut::Float { name: "running_mean", shape: &[3], value: &mut self.running });
    }
    fn forward_view(&mut self, x: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
        self.batches += 1;
        self.running.iter_mut().for_each(|r| *r += 1.0);
        self.net.forward_view(x)
    }
    fn backward_view(&mut self, grad: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
        self.net.backward_view(grad)
    }
    fn predict_view(&self, x: DMatrixView<'_, f64>) -> Result<DMatrix<f64>, ShapeError> {
        self.net.predict_view(x)
    }
    fn probe(&self, f: &mut dyn FnMut(Probe<'_, f64>)) {
        self.net.probe(f)
    }
}

#[test]
fn measuring_leaves_gradients_buffers_and_weights_as_they_were() {
    let mut m = Counted { net: Stack::new(6, Init::HeNormal), batches: 0, running: [0.0; 3] };
    let x = normal_batch(3, 5, 7);
    let y = m.forward_view(x.as_view()).unwrap().clone_owned();
    m.backward_view((y * 0.5).as_view()).unwrap();
    let (params, buffers) = (m.parameters(), m.buffers());
    assert!(params.iter().any(|p| p.grad.iter().any(|g| *g != 0.0)));

    let flow = GradientFlow::measure_with(&mut m, &normal_batch(3, 9, 8), half_square).unwrap();
    assert_eq!(m.parameters(), params);
    assert_eq!(m.buffers(), buffers);
    // The measurement saw this batch's gradients only: item 2 is the last dense,
    // whose weight gradient is d(y/n) x^T for the new batch alone.
    let alone = {
        let mut fresh = Counted { net: Stack::new(6, Init::HeNormal), batches: 0, running: [0.0; 3] };
        GradientFlow::measure_with(&mut fresh, &normal_batch(3, 9, 8), half_square).unwrap()
    };
    assert_eq!(flow.items[2].weight_grad_norm, alone.items[2].weight_grad_norm);
}

#[test]
fn update_ratio_is_the_relative_change_of_each_items_weights() {
    let mut net = Stack::<Tanh, 4, 3>::new(9, Init::XavierNormal);
    let before = Snapshot::of(&net);
    // A pretend optimizer step: layer 0 grows by 1 %, layer 2 shrinks by 3 %, layer 4 stays.
    net.dense[0].weight_mut().iter_mut().for_each(|w| *w *= 1.01);
    net.dense[1].weight_mut().iter_mut().for_each(|w| *w *= 0.97);
    let flow = GradientFlow::measure_with(&mut net, &normal_batch(4, 6, 10), half_square)
        .unwrap()
        .with_update(&before, &net)
        .unwrap();
    let ratios: Vec<Option<f64>> = flow.items.iter().map(|i| i.update_ratio).collect();
    assert!(close(ratios[0].unwrap(), 0.01, 1e-9), "{ratios:?}");
    assert!(close(ratios[2].unwrap(), 0.03, 1e-9), "{ratios:?}");
    assert_eq!(ratios[4], Some(0.0));
    assert_eq!(ratios[1], None);

    let other = Snapshot::of(&Stack::<Tanh, 4, 2>::new(9, Init::XavierNormal));
    let err = flow.with_update(&other, &net).unwrap_err();
    assert!(matches!(err, DiagnosticsError::SnapshotMismatch { tensor: 2, expected: 0, found: 16 }), "{err:?}");
}

#[test]
fn bad_input_gives_typed_errors() {
    let mut net = Stack::<Relu, 4, 2>::new(11, Init::HeNormal);
    let err = GradientFlow::measure_with(&mut net, &DMatrix::<f64>::zeros(4, 0), half_square).unwrap_err();
    assert!(matches!(err, DiagnosticsError::EmptyBatch));
    let err = GradientFlow::measure_with(&mut net, &DMatrix::<f64>::zeros(3, 2), half_square).unwrap_err();
    assert!(matches!(err, DiagnosticsError::Shape(ShapeError::Width { expected: 4, found: 3, .. })), "{err:?}");
    let err =
        GradientFlow::measure_with(&mut net, &DMatrix::<f64>::zeros(4, 2), |y| (0.0, DMatrix::zeros(4, y.ncols() + 1)))
            .unwrap_err();
    assert!(matches!(err, DiagnosticsError::Shape(ShapeError::BatchSize { .. })), "{err:?}");

    let mut plain = LayerModel::new(Dense::<f64, 2, 2>::new(&mut seeded_rng(0), Init::HeNormal, true));
    let err =
        GradientFlow::measure_with(&mut plain, &DMatrix::<f64>::zeros(2, 2), |y| (0.0, y.clone_owned())).unwrap_err();
    assert!(err.to_string().contains("LayerModel shows no items through Model::probe"), "{err}");
}

#[test]
fn depth_fit_is_least_squares_of_the_log_norm_and_skips_zeros() {
    let fit = verdict::fit_depth(&[1.0, 2.0, 4.0, 8.0]).unwrap();
    assert!(close(fit.factor, 0.5, 1e-12) && close(fit.r2, 1.0, 1e-12), "{fit:?}");
    let fit = verdict::fit_depth(&[0.0, 2.0, 0.0, 8.0]).unwrap();
    assert!(close(fit.factor, 0.5, 1e-12) && fit.layers == 2, "{fit:?}");
    // ln norms 0, 1, 0, 1 against 0..3: slope 0.2, one outlier-free line it is not.
    let e = std::f64::consts::E;
    let fit = verdict::fit_depth(&[1.0, e, 1.0, e]).unwrap();
    assert!(close(fit.factor, (-0.2f64).exp(), 1e-12) && close(fit.r2, 0.2, 1e-12), "{fit:?}");
    assert_eq!(verdict::fit_depth(&[3.0]), None);
}

#[test]
fn display_is_an_aligned_table_with_the_fit_and_verdict() {
    let mut net = Stack::<Identity, 4, 12>::scaled_identity(0.5);
    let flow =
        GradientFlow::measure_with(&mut net, &normal_batch(4, 8, 12), half_square).unwrap().with_label("halving");
    let text = flow.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Gradient flow of halving"), "{text}");
    let table = &lines[1..=flow.items.len() + 1];
    assert!(table[0].contains("|dL/dx|") && table[0].contains("saturated"), "{text}");
    assert!(table.iter().all(|l| l.len() == table[0].len()), "ragged table:\n{text}");
    // Paths and kinds are left-aligned under their headers, numbers right-aligned.
    assert!(table[0].starts_with("  item  kind  ") && table[1].starts_with("  0     dense     "), "{text}");
    assert!(text.contains("per-layer factor: 0.5000 (least squares over 12 weighted layers"), "{text}");
    assert!(text.contains("vanishing gradient: the gradient reaching the input is 2.441e-4"), "{text}");
    assert!(text.contains("\n  residual { .. }  "), "{text}");
}

/// Polylines with more than two points: the plotted lines (legend samples have two).
#[cfg(feature = "plot")]
fn plotted_lines(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .filter(|n| n.attribute("points").is_some_and(|p| p.split_whitespace().count() > 2))
        .map(|n| n.attribute("stroke").unwrap_or_default().to_string())
        .collect()
}

#[cfg(feature = "plot")]
#[test]
fn svg_parses_and_has_one_line_per_network() {
    let x = normal_batch(4, 8, 13);
    let flows = vec![
        GradientFlow::measure_with(&mut Stack::<Identity, 4, 12>::scaled_identity(0.9), &x, half_square)
            .unwrap()
            .with_label("identity 0.9"),
        GradientFlow::measure_with(&mut Stack::<Identity, 4, 12>::scaled_identity(0.5), &x, half_square)
            .unwrap()
            .with_label("identity 0.5"),
        GradientFlow::measure_with(&mut Stack::<Tanh, 4, 6>::new(14, Init::XavierNormal), &x, half_square)
            .unwrap()
            .with_label("tanh"),
    ];
    let svg = compare_svg(&flows).unwrap();
    let lines = plotted_lines(&svg);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0] != lines[1] && lines[1] != lines[2] && lines[0] != lines[2], "{lines:?}");
    for label in ["identity 0.9", "identity 0.5", "tanh", "weighted layer (0 = input side)"] {
        assert!(svg.contains(label), "{label} missing");
    }

    let path = std::env::temp_dir().join(format!("nn-gradient-flow-{}.svg", std::process::id()));
    flows[1].to_svg(&path).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(plotted_lines(&written).len(), 1);

    let bad = std::env::temp_dir().join("no-such-dir-for-nn").join("x.svg");
    assert!(matches!(flows[0].to_svg(&bad), Err(DiagnosticsError::Io { .. })));
    let mut dead = flows[0].clone();
    dead.items.iter_mut().for_each(|i| i.input_grad_norm = Some(0.0));
    assert!(matches!(compare_svg(&[dead]), Err(DiagnosticsError::NothingToPlot)));
}

#[test]
fn measuring_with_a_loss_uses_its_gradient_and_reports_bad_targets() {
    let mut net = Stack::<Tanh, 3, 4>::new(15, Init::XavierNormal);
    let x = normal_batch(3, 7, 16);
    let t = normal_batch(3, 7, 17);
    let with_loss = GradientFlow::measure(&mut net, &x, Targets::Real(t.as_view()), Loss::Mse).unwrap();
    // nn.MSELoss: mean over all 21 elements, so dL/dy = 2 (y - t) / 21.
    let by_hand = GradientFlow::measure_with(&mut net, &x, |y| {
        let d = y - &t;
        (d.norm_squared() / 21.0, d * (2.0 / 21.0))
    })
    .unwrap();
    assert!(close(with_loss.loss, by_hand.loss, 1e-12));
    for (a, b) in with_loss.items.iter().zip(&by_hand.items) {
        assert!(close(a.input_grad_norm.unwrap(), b.input_grad_norm.unwrap(), 1e-12), "{a:?} vs {b:?}");
    }

    let before = net.parameters();
    let err = GradientFlow::measure(&mut net, &x, Targets::Classes(&[0, 1, 2, 3, 0, 1, 2]), Loss::SoftmaxCrossEntropy)
        .unwrap_err();
    assert!(matches!(err, DiagnosticsError::Loss(LossError::ClassOutOfRange { sample: 3, class: 3, .. })), "{err:?}");
    assert_eq!(net.parameters(), before);
}

#[test]
fn the_trainer_measures_every_n_epochs_without_changing_the_training() {
    use crate::data::{Dataset, Labels};
    use crate::optim::Sgd;
    use crate::train::Trainer;

    let data = Dataset::new(normal_batch(4, 40, 20), Labels::Real(normal_batch(4, 40, 21) * 0.5)).unwrap();
    let probe = data.subset(&(0..16).collect::<Vec<_>>()).unwrap();
    let train = |hook: bool| {
        let mut net = Stack::<Tanh, 4, 3>::new(22, Init::XavierNormal);
        let mut trainer = Trainer::new(Sgd::new(0.1)).loss(Loss::Mse).epochs(5).batch_size(8).quiet();
        if hook {
            trainer = trainer.gradient_flow(2, probe.clone());
        }
        let history = trainer.fit(&mut net, &data, None).unwrap();
        (net.parameters(), history)
    };
    let (plain_weights, plain) = train(false);
    let (hooked_weights, hooked) = train(true);
    assert_eq!(hooked_weights, plain_weights);
    let losses = |h: &crate::train::History| h.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>();
    assert_eq!(losses(&hooked), losses(&plain));
    assert!(plain.gradient_flows.is_empty());

    let epochs: Vec<usize> = hooked.gradient_flows.iter().map(|(e, _)| *e).collect();
    assert_eq!(epochs, [2, 4]);
    for (_, flow) in &hooked.gradient_flows {
        assert_eq!(flow.batch, 16);
        for item in flow.weighted() {
            // One SGD step of lr 0.1 moves a weight by a small fraction of its size.
            let r = item.update_ratio.unwrap();
            assert!(r > 0.0 && r < 0.2, "item {} update ratio {r}", item.index);
        }
    }

    let mut net = Stack::<Tanh, 4, 3>::new(22, Init::XavierNormal);
    let err = Trainer::new(Sgd::new(0.1)).loss(Loss::Mse).gradient_flow(0, probe).quiet().fit(&mut net, &data, None);
    assert!(matches!(err, Err(crate::train::TrainError::Empty { .. })), "{err:?}");
}
