//! The benchmark networks and one training step, shared by `benches/workloads.rs`,
//! `benches/inception.rs` and `tests/alloc.rs`: W1-W5 (and W6's network) and
//! W8 are `network!` structs trained
//! with the runtime's `Loss`, `Clip` and `Sgd`, as a user writes them, in `f32`
//! (the benchmarks) or `f64`.

#![allow(dead_code)] // each including target uses a part

use std::borrow::Borrow;

use nn::nalgebra::{DMatrixView, DMatrixViewMut};
use nn::optim::{Optimizer, Sgd};
use nn::{Batch, Clip, Float, Loss, Targets};
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

nn::network! {
    /// W8 (issue 18): LeNet-5 on 28x28 images.
    pub struct W8((1, 28, 28) -> 10) {
        conv2d(6, kernel = 5), relu, max_pool(2), conv2d(16, kernel = 5), relu, max_pool(2),
        flatten, dense(120), relu, dense(84), relu, dense(10)
    }
}

nn::network! {
    /// Every image item (convolutions 1x1, padded and strided, every pool,
    /// batch norm, parallel branches) in one network on 8x8 images, for
    /// `tests/alloc.rs`.
    pub struct Images((1, 8, 8) -> 10) {
        conv2d(8, kernel = 3, padding = 1), batch_norm, relu,
        parallel {
            branch { conv2d(4, kernel = 1), relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(4, kernel = 1), batch_norm },
        },
        avg_pool(2), conv2d(6, kernel = 3, stride = 2, padding = 1), relu, global_avg_pool, dense(10)
    }
}

/// What a training step needs of a network in `T` whose input is an `X`.
pub trait Net<T: Float, X: ?Sized, const O: usize> {
    fn net_forward(&mut self, x: &X) -> &Batch<T, O>;
    fn net_backward(&mut self, g: &Batch<T, O>);
    fn net_zero_grad(&mut self);
    /// Clips the global gradient norm to `max` (`clip_grad_norm_`).
    fn net_clip(&mut self, max: f64);
    fn net_sgd_step(&mut self, sgd: &mut Sgd<T>);
}

/// The networks' inputs: a batch of 64 or 784 features (W8: 28x28 images), a sequence of
/// batches of 32.
type In64<T> = Batch<T, 64>;
type In784<T> = Batch<T, 784>;
type Seq32<T> = [Batch<T, 32>];

nn::network! {
    /// W4: LSTM 32 -> 128 over the sequence, its last state -> dense(10).
    pub struct W4(seq 32 -> 10) { lstm(128), last, dense(10) }
}

nn::network! {
    /// W5: W4 with a GRU.
    pub struct W5(seq 32 -> 10) { gru(128), last, dense(10) }
}

/// The user's calls on a `network!` network.
macro_rules! generated_net {
    ($($net:ident($x:ident)),*) => {$(
        impl<T: Float> Net<T, $x<T>, 10> for $net<T> {
            fn net_forward(&mut self, x: &$x<T>) -> &Batch<T, 10> {
                self.forward_ref(x)
            }
            fn net_backward(&mut self, g: &Batch<T, 10>) {
                self.backward_params(g).expect("the gradient of the last forward");
            }
            fn net_zero_grad(&mut self) {
                self.zero_grad();
            }
            fn net_clip(&mut self, max: f64) {
                Clip::GlobalNorm(max).apply(self);
            }
            fn net_sgd_step(&mut self, sgd: &mut Sgd<T>) {
                sgd.step(self);
            }
        }
    )*};
}

generated_net!(W1(In64), W2(In784), W3(In64), W4(Seq32), W5(Seq32), W8(In784), Images(In64));

/// What one training step needs besides the network: a fixed input `X` (a
/// batch, or a sequence of batches), its classes, the kept loss-gradient
/// buffer and the optimizer.
pub struct Step<T: Float, X, const O: usize> {
    pub x: X,
    pub classes: Vec<usize>,
    pub grad: Batch<T, O>,
    pub sgd: Sgd<T>,
    /// `Some(max)` clips the global gradient norm before the update.
    pub clip: Option<f64>,
}

fn uniform_batch<T: Float, const I: usize>(rng: &mut nn::SeededRng, batch: usize) -> Batch<T, I> {
    Batch::<T, I>::from_fn(batch, |_, _| T::of(f64::from(rng.random_range(-1.7f32..1.7))))
}

impl<T: Float, const I: usize, const O: usize> Step<T, Batch<T, I>, O> {
    /// A seeded batch of `batch` samples with classes in `0..O`.
    pub fn new(seed: u64, batch: usize) -> Self {
        let mut rng = nn::seeded_rng(seed);
        let x = uniform_batch(&mut rng, batch);
        Self::with_input(x, &mut rng, batch)
    }
}

impl<T: Float, const I: usize, const O: usize> Step<T, Vec<Batch<T, I>>, O> {
    /// A seeded sequence of `steps` batches of `batch` samples with classes in `0..O`.
    pub fn sequence(seed: u64, steps: usize, batch: usize) -> Self {
        let mut rng = nn::seeded_rng(seed);
        let xs = (0..steps).map(|_| uniform_batch(&mut rng, batch)).collect();
        Self::with_input(xs, &mut rng, batch)
    }
}

impl<T: Float, X, const O: usize> Step<T, X, O> {
    fn with_input(x: X, rng: &mut nn::SeededRng, batch: usize) -> Self {
        let classes = (0..batch).map(|_| rng.random_range(0..O)).collect();
        Self { x, classes, grad: nn::empty(), sgd: Sgd::new(0.01), clip: None }
    }

    /// zero_grad, forward, softmax cross-entropy, backward, (clip,) SGD update;
    /// returns the loss.
    pub fn run<Y: ?Sized, N: Net<T, Y, O>>(&mut self, net: &mut N) -> f64
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
