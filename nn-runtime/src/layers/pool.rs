//! What the pooling layers share: no parameters, a [`Pooling`] kernel for the
//! numerics (one per file: `max_pool.rs`, `avg_pool.rs`,
//! `global_avg_pool.rs`), and the layer around it that owns the buffers.
//!
//! A kernel sees whole batches as slices, samples one after the other and
//! each sample channel-major, so a vectorized kernel replaces one of these
//! without touching the layer.

use crate::layer::Io;
use crate::{batch::Batch, kernels::Float, layer::Layer};

/// The numerics of one kind of pooling, over `n` samples of `IN` inputs to
/// `OUT` outputs each, as the [`Pool`] around it fixes them.
pub trait Pooling<T: Float>: Clone + std::fmt::Debug {
    /// Training forward: pools `x` into `y`, keeping what
    /// [`Pooling::backward`] needs (where each maximum was).
    fn forward(&mut self, x: &[T], n: usize, y: &mut [T]);
    /// Evaluation forward: the same output, nothing kept.
    fn predict(&self, x: &[T], n: usize, y: &mut [T]);
    /// dL/dx of the last training forward from dL/dy; sets every value of `dx`.
    fn backward(&self, g: &[T], n: usize, dx: &mut [T]);
}

/// A pooling layer from `IN = C*H*W` inputs to `OUT` outputs per sample:
/// [`MaxPool2d`](super::MaxPool2d), [`AvgPool2d`](super::AvgPool2d) and
/// [`GlobalAvgPool`](super::GlobalAvgPool) are this with their kernel.
#[derive(Clone, Debug)]
pub struct Pool<T: Float, P, const IN: usize, const OUT: usize> {
    pub(super) pooling: P,
    io: Io<T, IN, OUT>,
}

impl<T: Float, P: Pooling<T>, const IN: usize, const OUT: usize> Pool<T, P, IN, OUT> {
    /// The layer around `pooling`, whose geometry the caller has checked.
    pub(super) fn with(pooling: P) -> Self {
        Self { pooling, io: Io::default() }
    }
}

impl<T: Float, P: Pooling<T>, const IN: usize, const OUT: usize> Layer<T, IN, OUT> for Pool<T, P, IN, OUT> {
    fn forward(&mut self, x: &Batch<T, IN>) -> &Batch<T, OUT> {
        let pooling = &mut self.pooling;
        self.io.write_output(x.ncols(), |y| pooling.forward(x.as_slice(), x.ncols(), y))
    }

    fn backward(&mut self, g: &Batch<T, OUT>) -> &Batch<T, IN> {
        let pooling = &self.pooling;
        self.io.write_input_grad(g.ncols(), |dx| pooling.backward(g.as_slice(), g.ncols(), dx))
    }

    fn predict(&self, x: &Batch<T, IN>) -> Batch<T, OUT> {
        let mut y = Batch::zeros(x.ncols());
        self.pooling.predict(x.as_slice(), x.ncols(), y.as_mut_slice());
        y
    }

    fn io(&self) -> Option<&Io<T, IN, OUT>> {
        Some(&self.io)
    }
}
