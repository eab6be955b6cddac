//! The benchmark networks and one training step, shared by `benches/workloads.rs`
//! and `tests/alloc.rs`.
//!
//! STAND-INS, to be switched when the parallel branches land on main:
//! - `Mlp` is W1/W2/W3 built by hand from the runtime's `Dense` and `Activation`;
//!   replace it with `network!` structs (branch `macro`), e.g.
//!   `nn::network! { pub struct W1(64 -> 10) { dense(128), relu, dense(128), relu, dense(10) } }`.
//! - `softmax_cross_entropy` and `sgd_step`/`clip_global_norm` stand for
//!   `Loss::SoftmaxCrossEntropy.value_and_grad`, `Sgd::step` and `Clip::GlobalNorm`
//!   (branch `train`); their arithmetic is the same (PyTorch's rules).
//! - W4/W5 (LSTM/GRU) need the cells of branch `rnn`; only their floors exist so far.

#![allow(dead_code)] // each including target uses a part

use nn::layers::{Activation, ActivationFn, Dense};
use nn::{Batch, Init, Layer, ParamMut, ParamRef, Visit, VisitMut, ZeroGrad};
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

/// Mean softmax cross-entropy over the columns of `y` against `classes`, with
/// dLoss/dy written into `grad` (PyTorch's `F.cross_entropy`).
pub fn softmax_cross_entropy<const O: usize>(y: &Batch<f32, O>, classes: &[usize], grad: &mut Batch<f32, O>) -> f64 {
    nn::ensure_cols(grad, y.ncols());
    let n = y.ncols() as f32;
    let mut loss = 0.0f64;
    for ((yc, gc), &class) in y.column_iter().zip(grad.column_iter_mut()).zip(classes) {
        let max = yc.max();
        let sum: f32 = yc.iter().map(|v| (v - max).exp()).sum();
        loss += f64::from(sum.ln() + max - yc[class]);
        for (i, (g, v)) in gc.into_iter().zip(yc.iter()).enumerate() {
            *g = ((v - max).exp() / sum - if i == class { 1.0 } else { 0.0 }) / n;
        }
    }
    loss / f64::from(n)
}

/// Plain SGD, `p -= lr * grad` (torch.optim.SGD without momentum).
pub struct SgdStep(pub f32);

impl VisitMut<f32> for SgdStep {
    fn param(&mut self, p: ParamMut<'_, f32>) {
        for (v, g) in p.value.iter_mut().zip(p.grad.iter()) {
            *v -= self.0 * g;
        }
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
pub fn clip_global_norm<L: Layer<f32, I, O>, const I: usize, const O: usize>(net: &mut L, max: f64) -> f64 {
    let mut sq = SquaredNorm(0.0);
    net.visit(&mut sq);
    let norm = sq.0.sqrt();
    if norm > max {
        net.visit_mut(&mut Scale((max / (norm + 1e-6)) as f32));
    }
    norm
}

/// What one training step needs besides the network: a fixed batch, its
/// classes, and the kept loss-gradient buffer.
pub struct Step<const I: usize, const O: usize> {
    pub x: Batch<f32, I>,
    pub classes: Vec<usize>,
    pub grad: Batch<f32, O>,
    pub lr: f32,
    /// `Some(max)` clips the global gradient norm before the update.
    pub clip: Option<f64>,
}

impl<const I: usize, const O: usize> Step<I, O> {
    /// A seeded standard-normal-ish batch of `batch` samples with classes in `0..O`.
    pub fn new(seed: u64, batch: usize) -> Self {
        let mut rng = nn::seeded_rng(seed);
        let x = Batch::<f32, I>::from_fn(batch, |_, _| rng.random_range(-1.0f32..1.0) * 1.7);
        let classes = (0..batch).map(|_| rng.random_range(0..O)).collect();
        Self { x, classes, grad: nn::empty(), lr: 0.01, clip: None }
    }

    /// zero_grad, forward, loss, backward, (clip,) SGD update; returns the loss.
    pub fn run<L: Layer<f32, I, O>>(&mut self, net: &mut L) -> f64 {
        net.visit_mut(&mut ZeroGrad);
        let y = net.forward(&self.x);
        let loss = softmax_cross_entropy(y, &self.classes, &mut self.grad);
        net.backward(&self.grad);
        if let Some(max) = self.clip {
            clip_global_norm(net, max);
        }
        net.visit_mut(&mut SgdStep(self.lr));
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
