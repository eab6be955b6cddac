//! The benchmark networks and one training step, shared by `benches/workloads.rs`
//! and `tests/alloc.rs`: W1-W3 (and W6's network) are `network!` structs trained
//! with the runtime's `Loss`, `Clip` and `Sgd`, as a user writes them.
//!
//! STAND-IN: `network!` has no `seq` input yet, so W4/W5 are `SeqNet`, an
//! `LstmCell`/`GruCell` whose last output feeds a `Dense`, clipped as
//! `Clip::GlobalNorm` clips a `Model`. Replace them with
//! `nn::network! { pub struct W4(seq 32 -> 10) { lstm(128), last, dense(10) } }`
//! once the macro takes sequences.

#![allow(dead_code)] // each including target uses a part

use std::borrow::Borrow;

use nn::layers::Dense;
use nn::nalgebra::{DMatrixView, DMatrixViewMut};
use nn::optim::{Optimizer, Sgd};
use nn::rnn::{CellMath, Recurrent, SeqGrad, SeqLayer};
use nn::{Batch, Clip, Init, Layer, Loss, ParamMut, ParamRef, Targets, Visit, VisitMut, ZeroGrad};
use rand::Rng;

nn::network! {
    /// W1: MLP 64-128-128-10, ReLU.
    pub struct W1(64 -> 10) { dense(128), relu, dense(128), relu, dense(10) }
}

nn::network! {
    /// W2: MLP 784-512-512-10, ReLU; W6 is its `predict` on one sample.
    pub struct W2(784 -> 10) { dense(512), relu, dense(512), relu, dense(10) }
}

nn::network! {
    /// W3: 20 hidden sigmoid layers of width 128, 64 -> 10.
    pub struct W3(64 -> 10) { dense(128), sigmoid, repeat(19) { dense(128), sigmoid }, dense(10) }
}

/// What a training step needs of a network whose input is an `X`.
pub trait Net<X: ?Sized, const O: usize> {
    fn net_forward(&mut self, x: &X) -> &Batch<f32, O>;
    fn net_backward(&mut self, g: &Batch<f32, O>);
    fn net_zero_grad(&mut self);
    /// Clips the global gradient norm to `max` (`clip_grad_norm_`).
    fn net_clip(&mut self, max: f64);
    fn net_sgd_step(&mut self, sgd: &mut Sgd<f32>);
}

/// The user's calls on a `network!` network.
macro_rules! generated_net {
    ($($net:ident($i:literal)),*) => {$(
        impl Net<Batch<f32, $i>, 10> for $net {
            fn net_forward(&mut self, x: &Batch<f32, $i>) -> &Batch<f32, 10> {
                self.forward_ref(x)
            }
            fn net_backward(&mut self, g: &Batch<f32, 10>) {
                self.backward_ref(g);
            }
            fn net_zero_grad(&mut self) {
                self.zero_grad();
            }
            fn net_clip(&mut self, max: f64) {
                Clip::GlobalNorm(max).apply(self);
            }
            fn net_sgd_step(&mut self, sgd: &mut Sgd<f32>) {
                sgd.step(self);
            }
        }
    )*};
}

generated_net!(W1(64), W2(784), W3(64));

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
    fn net_zero_grad(&mut self) {
        self.visit_mut(&mut ZeroGrad);
    }
    fn net_clip(&mut self, max: f64) {
        let mut sq = SquaredNorm(0.0);
        self.cell.visit(&mut sq);
        self.head.visit(&mut sq);
        let coef = (max / (sq.0.sqrt() + 1e-6)).min(1.0);
        self.visit_mut(&mut Scale(coef as f32));
    }
    fn net_sgd_step(&mut self, sgd: &mut Sgd<f32>) {
        sgd.step_with(&mut |v| self.visit_mut(v));
    }
}

impl<C: CellMath, const I: usize, const H: usize, const O: usize> SeqNet<C, I, H, O>
where
    Recurrent<f32, C, I, H>: SeqLayer<f32, I, H>,
{
    /// The parameters under the names `network!` would give: `0.weight_ih`, `2.weight`.
    fn visit_mut(&mut self, v: &mut dyn VisitMut<f32>) {
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
        net.net_zero_grad();
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
            net.net_clip(max);
        }
        net.net_sgd_step(&mut self.sgd);
        loss
    }
}

/// W4: LSTM 32 -> 128 over 50 steps, last state -> dense(10).
pub type W4 = SeqNet<nn::rnn::Lstm, 32, 128, 10>;
/// W5: the same with a GRU.
pub type W5 = SeqNet<nn::rnn::Gru, 32, 128, 10>;
