//! A network built at run time from `nn`'s own layers and blocks, since the
//! page's combinations (depths, functions, initializers, shortcuts, batch
//! norm) cannot each be a compiled `network!`: hidden layers are boxed
//! `Layer<f32, 64, 64>` objects in a [`Stack`] that implements [`Model`],
//! item by item as `network!` would number them, so `GradientFlow`, the
//! `Trainer` and the optimizers see it as they see a generated network.

use nn::layers::{
    Activation, ActivationFn, BatchNorm, Dense, Elu, Gelu, Hardsigmoid, Hardswish, LeakyRelu, Mish, Relu, Relu6, Selu,
    Sigmoid, Softplus, Softsign, Swish, Tanh,
};
use nn::nalgebra::{DMatrix, DMatrixView};
use nn::{
    empty, view_into_batch, visit_in, visit_mut_in, Batch, Family, Highway, Init, ItemKind, Layer, Model, Probe,
    Residual, SeededRng, ShapeError, Visit, VisitMut,
};

use crate::settings::{Settings, Shortcut};

/// Hidden width; the digits have 64 pixels.
pub const WIDTH: usize = 64;
/// The ten digits.
pub const CLASSES: usize = 10;

/// The output layer takes Xavier, as `network!`'s last dense does.
const HEAD_INIT: Init = Init::XavierUniform;

type Hidden = Box<dyn Layer<f32, WIDTH, WIDTH>>;

/// Layers one after the other: the body of a `residual` or `highway`.
pub struct Body(Vec<Hidden>);

impl Layer<f32, WIDTH, WIDTH> for Body {
    fn forward(&mut self, x: &Batch<f32, WIDTH>) -> &Batch<f32, WIDTH> {
        let (first, rest) = self.0.split_first_mut().expect("a body has a layer");
        rest.iter_mut().fold(first.forward(x), |h, l| l.forward(h))
    }
    fn backward(&mut self, g: &Batch<f32, WIDTH>) -> &Batch<f32, WIDTH> {
        let (last, rest) = self.0.split_last_mut().expect("a body has a layer");
        rest.iter_mut().rev().fold(last.backward(g), |g, l| l.backward(g))
    }
    fn predict(&self, x: &Batch<f32, WIDTH>) -> Batch<f32, WIDTH> {
        self.0.iter().fold(x.clone(), |h, l| l.predict(&h))
    }
    /// Numbered from 0, as a block's body in `network!`.
    fn visit(&self, v: &mut dyn Visit<f32>) {
        for (i, l) in self.0.iter().enumerate() {
            visit_in(v, &i.to_string(), |v| l.visit(v));
        }
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<f32>) {
        for (i, l) in self.0.iter_mut().enumerate() {
            visit_mut_in(v, &i.to_string(), |v| l.visit_mut(v));
        }
    }
    fn output(&self) -> Option<&Batch<f32, WIDTH>> {
        self.0.last().and_then(|l| l.output())
    }
    fn input_grad(&self) -> Option<&Batch<f32, WIDTH>> {
        self.0.first().and_then(|l| l.input_grad())
    }
}

/// A top-level hidden item, with what `network!` would tell diagnostics of it.
struct Item {
    kind: ItemKind,
    family: Family,
    /// How its weights started (a `dense`), so no remedy proposes the same.
    init: Option<Init>,
    layer: Hidden,
}

/// `depth` hidden items of width 64 and `dense(10)`, as [`Settings`] describe.
pub struct Stack {
    items: Vec<Item>,
    head: Dense<f32, WIDTH, CLASSES>,
    x: Batch<f32, WIDTH>,
    g: Batch<f32, CLASSES>,
    forward_cols: Option<usize>,
}

/// `dense(64), [batch_norm,] f` as separate items.
fn layers<F: ActivationFn>(f: F, s: &Settings, rng: &mut SeededRng) -> Vec<Item> {
    let item = |kind, init, layer| Item { kind, family: Family::Other, init, layer };
    let dense = Box::new(Dense::<f32, WIDTH, WIDTH>::new(rng, s.hidden_init(), true)) as Hidden;
    let mut out = vec![item(ItemKind::Dense, Some(s.hidden_init()), dense)];
    if s.batch_norm {
        out.push(item(ItemKind::BatchNorm, None, Box::new(BatchNorm::<f32, WIDTH>::new(0.1, 1e-5))));
    }
    let act = Box::new(Activation::<f32, F, WIDTH>::new(f));
    out.push(Item { kind: s.activation.0, family: s.activation.family(), init: None, layer: act });
    out
}

/// One hidden layer, wrapped as the shortcut says.
fn hidden<F: ActivationFn>(f: F, s: &Settings, rng: &mut SeededRng) -> Vec<Item> {
    let parts = layers(f, s, rng);
    if s.shortcut == Shortcut::None {
        return parts;
    }
    let body = Body(parts.into_iter().map(|i| i.layer).collect());
    let (kind, layer): (ItemKind, Hidden) = match s.shortcut {
        Shortcut::Residual => (ItemKind::Residual, Box::new(Residual::new(body))),
        // The gate starts Xavier, as `network!`'s highway does.
        _ => (ItemKind::Highway, Box::new(Highway::new(rng, body, Init::XavierUniform))),
    };
    vec![Item { kind, family: Family::Other, init: None, layer }]
}

impl Stack {
    pub fn new(s: &Settings) -> Stack {
        let rng = &mut nn::seeded_rng(s.seed);
        let mut items = Vec::new();
        for _ in 0..s.depth {
            items.extend(match s.activation.0 {
                ItemKind::Sigmoid => hidden(Sigmoid, s, rng),
                ItemKind::Tanh => hidden(Tanh, s, rng),
                ItemKind::LeakyRelu => hidden(LeakyRelu::default(), s, rng),
                ItemKind::Elu => hidden(Elu::default(), s, rng),
                ItemKind::Selu => hidden(Selu, s, rng),
                ItemKind::Gelu => hidden(Gelu, s, rng),
                ItemKind::Swish => hidden(Swish, s, rng),
                ItemKind::Mish => hidden(Mish, s, rng),
                ItemKind::Softplus => hidden(Softplus, s, rng),
                ItemKind::Relu6 => hidden(Relu6, s, rng),
                ItemKind::Hardswish => hidden(Hardswish, s, rng),
                ItemKind::Hardsigmoid => hidden(Hardsigmoid, s, rng),
                ItemKind::Softsign => hidden(Softsign, s, rng),
                // Settings hold only the functions of `Activation::ALL`; relu is the rest.
                _ => hidden(Relu, s, rng),
            });
        }
        let head = Dense::new(rng, HEAD_INIT, true);
        Stack { items, head, x: empty(), g: empty(), forward_cols: None }
    }
}

fn rows(what: &'static str, m: &DMatrixView<'_, f32>, expected: usize) -> Result<(), ShapeError> {
    if m.nrows() == expected {
        Ok(())
    } else {
        Err(ShapeError::Width { what, expected, found: m.nrows() })
    }
}

impl Model<f32> for Stack {
    const INPUT: usize = WIDTH;
    const OUTPUT: usize = CLASSES;
    const NAME: &'static str = "Stack";

    fn visit(&self, v: &mut dyn Visit<f32>) {
        for (i, item) in self.items.iter().enumerate() {
            visit_in(v, &i.to_string(), |v| item.layer.visit(v));
        }
        visit_in(v, &self.items.len().to_string(), |v| self.head.visit(v));
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<f32>) {
        let n = self.items.len();
        for (i, item) in self.items.iter_mut().enumerate() {
            visit_mut_in(v, &i.to_string(), |v| item.layer.visit_mut(v));
        }
        visit_mut_in(v, &n.to_string(), |v| self.head.visit_mut(v));
    }
    fn forward_view(&mut self, x: DMatrixView<'_, f32>) -> Result<DMatrixView<'_, f32>, ShapeError> {
        rows("input", &x, WIDTH)?;
        view_into_batch(&x, &mut self.x);
        self.forward_cols = Some(x.ncols());
        let h = self.items.iter_mut().fold(&self.x, |h, item| item.layer.forward(h));
        Ok(self.head.forward(h).as_view())
    }
    fn backward_view(&mut self, grad: DMatrixView<'_, f32>) -> Result<DMatrixView<'_, f32>, ShapeError> {
        rows("gradient", &grad, CLASSES)?;
        match self.forward_cols {
            None => return Err(ShapeError::NoForward),
            Some(n) if n != grad.ncols() => return Err(ShapeError::BatchSize { forward: n, backward: grad.ncols() }),
            Some(_) => {}
        }
        view_into_batch(&grad, &mut self.g);
        let g = self.head.backward(&self.g);
        Ok(self.items.iter_mut().rev().fold(g, |g, item| item.layer.backward(g)).as_view())
    }
    fn predict_view(&self, x: DMatrixView<'_, f32>) -> Result<DMatrix<f32>, ShapeError> {
        rows("input", &x, WIDTH)?;
        let mut h = empty::<f32, WIDTH>();
        view_into_batch(&x, &mut h);
        let h = self.items.iter().fold(h, |h, item| item.layer.predict(&h));
        let y = self.head.predict(&h);
        Ok(DMatrix::from_column_slice(CLASSES, y.ncols(), y.as_slice()))
    }
    fn probe(&self, f: &mut dyn FnMut(Probe<'_, f32>)) {
        for (index, item) in self.items.iter().enumerate() {
            f(Probe {
                index,
                path: &index.to_string(),
                kind: item.kind,
                family: item.family,
                init: item.init,
                output: item.layer.output().map(|y| y.as_view()),
                input_grad: item.layer.input_grad().map(|g| g.as_view()),
            });
        }
        f(Probe {
            index: self.items.len(),
            path: &self.items.len().to_string(),
            kind: ItemKind::Dense,
            family: Family::Other,
            init: Some(HEAD_INIT),
            output: self.head.output().map(|y| y.as_view()),
            input_grad: self.head.input_grad().map(|g| g.as_view()),
        });
    }
}
