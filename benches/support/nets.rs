//! The benchmark networks and one training step, shared by `benches/workloads.rs`
//! and `tests/alloc.rs`.
//!
//! The loss and the optimizer are the runtime's (`Loss::SoftmaxCrossEntropy`,
//! `optim::Sgd`). STAND-INS, to be switched when `network!` (branch `macro`)
//! lands on main:
//! - `Mlp` is W1/W2/W3 built by hand from the runtime's `Dense` and `Activation`,
//!   `SeqNet` W4/W5 from `LstmCell`/`GruCell` and `Dense`; replace them with
//!   `network!` structs, e.g.
//!   `nn::network! { pub struct W1(64 -> 10) { dense(128), relu, dense(128), relu, dense(10) } }`,
//!   `nn::network! { pub struct W4(seq 32 -> 10) { lstm(128), last, dense(10) } }`.
//! - `clip_global_norm` is `Clip::GlobalNorm(max).apply`, which needs a `Model`
//!   (the macro's networks are; these stand-ins are only `Layer`s).
//! - `Net` is what the step needs of a network; the macro's networks will give
//!   it through `Model` (`forward_view`, `backward_view`, `visit_mut`).

#![allow(dead_code)] // each including target uses a part

use std::borrow::Borrow;

use nn::layers::{Activation, ActivationFn, Dense};
use nn::nalgebra::{DMatrixView, DMatrixViewMut};
use nn::optim::{Optimizer, Sgd};
use nn::rnn::{CellMath, Recurrent, SeqGrad, SeqLayer};
use nn::{Batch, Init, Layer, Loss, ParamMut, ParamRef, Targets, Visit, VisitMut, ZeroGrad};
use rand::Rng;

/// `I -> H`, then `depth - 1` layers `H -> H`, each followed by `F`, then `H -> O`:
/// the `nn.Sequential` of PyTorch's `tools/bench/torch_bench.py`.
pub struct Mlp<F: ActivationFn, const I: usize, const H: usize, const O: usize> {
    first: Dense<f32, I, H>,
    hidden: Vec<Dense<f32, H, H>>,
    acts: Vec<Activation<f32, F, H>>,
    last: Dense<f32, H, O>,
    /// `"0"`, `"1"`, ...: the `nn.Sequential` indices, built once so visiting allocates nothing.
    names: Vec<String>,
}

impl<F: ActivationFn, const I: usize, const H: usize, const O: usize> Mlp<F, I, H, O> {
    /// `depth` hidden layers of width `H` (W1 and W2: 2, W3: 20).
    pub fn new(seed: u64, depth: usize, func: F, init: Init) -> Self {
        let mut rng = nn::seeded_rng(seed);
        let first = Dense::new(&mut rng, init, true);
        let hidden = (1..depth).map(|_| Dense::new(&mut rng, init, true)).collect();
        let last = Dense::new(&mut rng, Init::XavierUniform, true);
        let acts = (0..depth).map(|_| Activation::new(func)).collect();
        Self { first, hidden, acts, last, names: (0..2 * depth + 1).map(|i| i.to_string()).collect() }
    }
}

impl<F: ActivationFn, const I: usize, const H: usize, const O: usize> Layer<f32, I, O> for Mlp<F, I, H, O> {
    fn forward(&mut self, x: &Batch<f32, I>) -> &Batch<f32, O> {
        let (first_act, acts) = self.acts.split_first_mut().expect("depth >= 1");
        let mut h = first_act.forward(self.first.forward(x));
        for (d, a) in self.hidden.iter_mut().zip(acts) {
            h = a.forward(d.forward(h));
        }
        self.last.forward(h)
    }

    fn backward(&mut self, g: &Batch<f32, O>) -> &Batch<f32, I> {
        let (first_act, acts) = self.acts.split_first_mut().expect("depth >= 1");
        let mut g = self.last.backward(g);
        for (d, a) in self.hidden.iter_mut().zip(acts).rev() {
            g = d.backward(a.backward(g));
        }
        self.first.backward(first_act.backward(g))
    }

    fn predict(&self, x: &Batch<f32, I>) -> Batch<f32, O> {
        let mut h = self.acts[0].predict(&self.first.predict(x));
        for (d, a) in self.hidden.iter().zip(&self.acts[1..]) {
            h = a.predict(&d.predict(&h));
        }
        self.last.predict(&h)
    }

    fn visit(&self, v: &mut dyn Visit<f32>) {
        let mut names = self.names.iter();
        let mut enter = |v: &mut dyn Visit<f32>| v.enter(names.next().expect("a name per item"));
        enter(v);
        self.first.visit(v);
        v.leave();
        enter(v);
        v.leave();
        for d in &self.hidden {
            enter(v);
            d.visit(v);
            v.leave();
            enter(v);
            v.leave();
        }
        enter(v);
        self.last.visit(v);
        v.leave();
    }

    fn visit_mut(&mut self, v: &mut dyn VisitMut<f32>) {
        let mut names = self.names.iter();
        let mut enter = |v: &mut dyn VisitMut<f32>| v.enter(names.next().expect("a name per item"));
        enter(v);
        self.first.visit_mut(v);
        v.leave();
        enter(v);
        v.leave();
        for d in &mut self.hidden {
            enter(v);
            d.visit_mut(v);
            v.leave();
            enter(v);
            v.leave();
        }
        enter(v);
        self.last.visit_mut(v);
        v.leave();
    }
}

struct SquaredNorm(f64);

impl Visit<f32> for SquaredNorm {
    fn param(&mut self, p: ParamRef<'_, f32>) {
        self.0 += p.grad.iter().map(|g| f64::from(*g) * f64::from(*g)).sum::<f64>();
    }
}

struct Scale(f32);

impl VisitMut<f32> for Scale {
    fn param(&mut self, p: ParamMut<'_, f32>) {
        p.grad.iter_mut().for_each(|g| *g *= self.0);
    }
}

/// `clip_grad_norm_(max_norm)`: scales every gradient by `max / (norm + 1e-6)`
/// when the global norm exceeds `max`. Returns the norm before clipping.
pub fn clip_global_norm<X: ?Sized, N: Net<X, O>, const O: usize>(net: &mut N, max: f64) -> f64 {
    let mut sq = SquaredNorm(0.0);
    net.net_visit(&mut sq);
    let norm = sq.0.sqrt();
    if norm > max {
        net.net_visit_mut(&mut Scale((max / (norm + 1e-6)) as f32));
    }
    norm
}

/// What a training step needs of a network whose input is an `X`.
pub trait Net<X: ?Sized, const O: usize> {
    fn net_forward(&mut self, x: &X) -> &Batch<f32, O>;
    fn net_backward(&mut self, g: &Batch<f32, O>);
    fn net_visit(&self, v: &mut dyn Visit<f32>);
    fn net_visit_mut(&mut self, v: &mut dyn VisitMut<f32>);
}

impl<L: Layer<f32, I, O>, const I: usize, const O: usize> Net<Batch<f32, I>, O> for L {
    fn net_forward(&mut self, x: &Batch<f32, I>) -> &Batch<f32, O> {
        Layer::forward(self, x)
    }
    fn net_backward(&mut self, g: &Batch<f32, O>) {
        Layer::backward(self, g);
    }
    fn net_visit(&self, v: &mut dyn Visit<f32>) {
        Layer::visit(self, v)
    }
    fn net_visit_mut(&mut self, v: &mut dyn VisitMut<f32>) {
        Layer::visit_mut(self, v)
    }
}

/// A recurrent cell over the sequence, its last output into `dense(O)`:
/// `seq I -> lstm(H) or gru(H), last, dense(O)`.
pub struct SeqNet<C: CellMath, const I: usize, const H: usize, const O: usize> {
    cell: Recurrent<f32, C, I, H>,
    head: Dense<f32, H, O>,
}

impl<C: CellMath, const I: usize, const H: usize, const O: usize> SeqNet<C, I, H, O> {
    pub fn new(seed: u64) -> Self {
        let mut rng = nn::seeded_rng(seed);
        Self { cell: Recurrent::new(&mut rng), head: Dense::new(&mut rng, Init::XavierUniform, true) }
    }
}

impl<C: CellMath, const I: usize, const H: usize, const O: usize> Net<[Batch<f32, I>], O> for SeqNet<C, I, H, O>
where
    Recurrent<f32, C, I, H>: SeqLayer<f32, I, H>,
{
    fn net_forward(&mut self, xs: &[Batch<f32, I>]) -> &Batch<f32, O> {
        let hs = self.cell.forward_seq(xs, None).expect("a non-empty sequence of equal batch sizes");
        self.head.forward(hs.last().expect("at least one step"))
    }
    fn net_backward(&mut self, g: &Batch<f32, O>) {
        let dh = self.head.backward(g);
        self.cell.backward_seq(SeqGrad::Last(dh), None).expect("backward after forward");
    }
    fn net_visit(&self, v: &mut dyn Visit<f32>) {
        nn::visit_in(v, "0", |v| self.cell.visit(v));
        nn::visit_in(v, "2", |v| self.head.visit(v));
    }
    fn net_visit_mut(&mut self, v: &mut dyn VisitMut<f32>) {
        nn::visit_mut_in(v, "0", |v| self.cell.visit_mut(v));
        nn::visit_mut_in(v, "2", |v| self.head.visit_mut(v));
    }
}

/// What one training step needs besides the network: a fixed input `X` (a
/// batch, or a sequence of batches), its classes, the kept loss-gradient
/// buffer and the optimizer.
pub struct Step<X, const O: usize> {
    pub x: X,
    pub classes: Vec<usize>,
    pub grad: Batch<f32, O>,
    pub sgd: Sgd<f32>,
    /// `Some(max)` clips the global gradient norm before the update.
    pub clip: Option<f64>,
}

fn uniform_batch<const I: usize>(rng: &mut nn::SeededRng, batch: usize) -> Batch<f32, I> {
    Batch::<f32, I>::from_fn(batch, |_, _| rng.random_range(-1.7f32..1.7))
}

impl<const I: usize, const O: usize> Step<Batch<f32, I>, O> {
    /// A seeded batch of `batch` samples with classes in `0..O`.
    pub fn new(seed: u64, batch: usize) -> Self {
        let mut rng = nn::seeded_rng(seed);
        let x = uniform_batch(&mut rng, batch);
        Self::with_input(x, &mut rng, batch)
    }
}

impl<const I: usize, const O: usize> Step<Vec<Batch<f32, I>>, O> {
    /// A seeded sequence of `steps` batches of `batch` samples with classes in `0..O`.
    pub fn sequence(seed: u64, steps: usize, batch: usize) -> Self {
        let mut rng = nn::seeded_rng(seed);
        let xs = (0..steps).map(|_| uniform_batch(&mut rng, batch)).collect();
        Self::with_input(xs, &mut rng, batch)
    }
}

impl<X, const O: usize> Step<X, O> {
    fn with_input(x: X, rng: &mut nn::SeededRng, batch: usize) -> Self {
        let classes = (0..batch).map(|_| rng.random_range(0..O)).collect();
        Self { x, classes, grad: nn::empty(), sgd: Sgd::new(0.01), clip: None }
    }

    /// zero_grad, forward, softmax cross-entropy, backward, (clip,) SGD update;
    /// returns the loss.
    pub fn run<Y: ?Sized, N: Net<Y, O>>(&mut self, net: &mut N) -> f64
    where
        X: Borrow<Y>,
    {
        net.net_visit_mut(&mut ZeroGrad);
        let y = net.net_forward(self.x.borrow());
        let n = y.ncols();
        nn::ensure_cols(&mut self.grad, n);
        let loss = Loss::SoftmaxCrossEntropy
            .value_and_grad(
                DMatrixView::from_slice(y.as_slice(), O, n),
                Targets::Classes(&self.classes),
                DMatrixViewMut::from_slice(self.grad.as_mut_slice(), O, n),
            )
            .expect("classes below O, one per sample");
        net.net_backward(&self.grad);
        if let Some(max) = self.clip {
            clip_global_norm(net, max);
        }
        self.sgd.step_with(&mut |v| net.net_visit_mut(v));
        loss
    }
}

/// W1: MLP 64-128-128-10, ReLU.
pub type W1 = Mlp<nn::layers::Relu, 64, 128, 10>;
/// W2: MLP 784-512-512-10, ReLU (and W6's network).
pub type W2 = Mlp<nn::layers::Relu, 784, 512, 10>;
/// W3: 20 hidden sigmoid layers of width 128, 64 -> 10.
pub type W3 = Mlp<nn::layers::Sigmoid, 64, 128, 10>;

pub fn w1() -> W1 {
    Mlp::new(1, 2, nn::layers::Relu, Init::HeUniform)
}
pub fn w2() -> W2 {
    Mlp::new(2, 2, nn::layers::Relu, Init::HeUniform)
}
pub fn w3() -> W3 {
    Mlp::new(3, 20, nn::layers::Sigmoid, Init::XavierUniform)
}

/// W4: LSTM 32 -> 128 over 50 steps, last state -> dense(10).
pub type W4 = SeqNet<nn::rnn::Lstm, 32, 128, 10>;
/// W5: the same with a GRU.
pub type W5 = SeqNet<nn::rnn::Gru, 32, 128, 10>;
