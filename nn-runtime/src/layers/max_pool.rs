//! Max pooling, as PyTorch's `MaxPool2d` (padding reads -inf, ceil_mode off).

use super::image::Window2d;
use super::pool::{Pool, Pooling};
use crate::kernels::Float;
use crate::kernels::{max_pool, max_pool_backward, over_samples, sample_parts, Argmax, Pieces};

/// `max_pool(K, stride = S, padding = P)` on `(C, H, W)` images, flattened to
/// `IN = C*H*W` inputs and `OUT = C*H'*W'` outputs.
///
/// The gradient of each output goes to the input cell that won its window:
/// the first maximum in scan order (row by row), or the last NaN, as PyTorch's
/// CPU kernel picks it.
pub type MaxPool2d<T, const IN: usize, const OUT: usize> = Pool<T, MaxPooling, IN, OUT>;

/// The kernel of [`MaxPool2d`].
#[derive(Clone, Debug)]
pub struct MaxPooling {
    window: Window2d,
    /// For every output value of the last forward, the index of its input cell
    /// within the sample.
    argmax: Vec<Argmax>,
}

impl<T: Float, const IN: usize, const OUT: usize> MaxPool2d<T, IN, OUT> {
    /// A `K x K` max pool with stride `S` and padding `P` over `(C, H, W)`; `IN`
    /// and `OUT` must be the flattened sizes and `P <= K / 2`, as PyTorch
    /// requires (checked at compile time).
    ///
    /// `MaxPool2d::<f32, { 8 * 8 * 8 }, { 8 * 4 * 4 }>::new::<8, 8, 8, 2, 2, 0>()`
    pub fn new<const C: usize, const H: usize, const W: usize, const K: usize, const S: usize, const P: usize>() -> Self
    {
        let window = const {
            let w = Window2d::new(C, H, W, K, S, P);
            assert!(2 * P <= K, "max_pool: padding must be at most half the kernel size");
            assert!(IN == w.input_len(), "max_pool: IN must be C * H * W");
            assert!(OUT == w.output_len(C), "max_pool: OUT must be C * H' * W'");
            w
        };
        Self::with(MaxPooling { window, argmax: Vec::new() })
    }

    /// The input geometry.
    pub fn window(&self) -> Window2d {
        self.pooling.window
    }
}

impl MaxPooling {
    /// Values per input and per output sample.
    fn sizes(&self) -> (usize, usize) {
        (self.window.input_len(), self.window.output_len(self.window.channels))
    }
}

impl<T: Float> Pooling<T> for MaxPooling {
    fn forward(&mut self, x: &[T], n: usize, y: &mut [T]) {
        self.argmax.resize(y.len(), 0);
        let (win, (inputs, outputs)) = (&self.window, self.sizes());
        let (y, argmax) = (Pieces::new(y), Pieces::new(&mut self.argmax));
        over_samples(sample_parts(n, inputs), n, &|_, samples| {
            let at = samples.start * outputs..samples.end * outputs;
            // SAFETY: the parts' sample ranges, and so their outputs, are disjoint.
            let (y, argmax) = unsafe { (y.piece(at.clone()), argmax.piece(at)) };
            max_pool(win, &x[samples.start * inputs..samples.end * inputs], samples.len(), y, argmax);
        });
    }

    fn predict(&self, x: &[T], n: usize, y: &mut [T]) {
        max_pool(&self.window, x, n, y, &mut vec![0; y.len()]);
    }

    fn backward(&self, g: &[T], n: usize, dx: &mut [T]) {
        let (win, (inputs, outputs)) = (&self.window, self.sizes());
        let dx = Pieces::new(dx);
        over_samples(sample_parts(n, inputs), n, &|_, samples| {
            // SAFETY: the parts' sample ranges, and so their cells, are disjoint.
            let dx = unsafe { dx.piece(samples.start * inputs..samples.end * inputs) };
            let (g, argmax) = (&g[samples.start * outputs..], &self.argmax[samples.start * outputs..]);
            max_pool_backward(win, g, argmax, samples.len(), dx);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{grad_check_at, LayerModel};
    use crate::{batch::Batch, layer::Layer};
    use nalgebra::DMatrix;

    #[test]
    fn forward_takes_window_maxima() {
        let mut pool = MaxPool2d::<f64, 16, 4>::new::<1, 4, 4, 2, 2, 0>();
        #[rustfmt::skip]
        let x = Batch::<f64, 16>::from_column_slice(&[
            1.0, 5.0, -1.0, 0.0,
            2.0, 3.0, -2.0, -3.0,
            0.0, 0.0, 7.0, 8.0,
            0.0, 9.0, 6.0, 5.0,
        ]);
        assert_eq!(pool.forward(&x).as_slice(), &[5.0, 0.0, 9.0, 8.0]);
        assert_eq!(pool.predict(&x).as_slice(), &[5.0, 0.0, 9.0, 8.0]);
        let g = Batch::<f64, 4>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
        #[rustfmt::skip]
        assert_eq!(pool.backward(&g).as_slice(), &[
            0.0, 1.0, 0.0, 2.0,
            0.0, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 4.0,
            0.0, 3.0, 0.0, 0.0,
        ]);
    }

    #[test]
    fn ties_send_the_gradient_to_the_first_maximum() {
        // Window 0 is all 2s, window 1 has two 3s: the first in scan order wins.
        let mut pool = MaxPool2d::<f64, 8, 2>::new::<1, 2, 4, 2, 2, 0>();
        let x = Batch::<f64, 8>::from_column_slice(&[2.0, 2.0, 1.0, 3.0, 2.0, 2.0, 3.0, 0.0]);
        pool.forward(&x);
        let dx = pool.backward(&Batch::<f64, 2>::from_column_slice(&[1.0, 1.0]));
        assert_eq!(dx.as_slice(), &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn padding_never_wins_and_overlapping_windows_add_up() {
        // All-negative 1x3x3 image, kernel 3, stride 1, padding 1: the -inf padding
        // loses, and the centre cell (-1) wins all nine windows.
        let mut pool = MaxPool2d::<f64, 9, 9>::new::<1, 3, 3, 3, 1, 1>();
        let x = Batch::<f64, 9>::from_column_slice(&[-5.0, -4.0, -3.0, -2.0, -1.0, -6.0, -7.0, -8.0, -9.0]);
        assert_eq!(pool.forward(&x).as_slice(), &[-1.0; 9]);
        let dx = pool.backward(&Batch::<f64, 9>::from_element(1, 1.0));
        assert_eq!(dx.as_slice(), &[0.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Distinct values on a 0.1 grid, shuffled: every window's maximum leads
        // the runner-up by at least 0.1, far beyond the finite-difference step.
        fn check<const K: usize, const S: usize, const P: usize, const OUT: usize>() {
            let values: Vec<f64> = (0..2 * 2 * 5 * 6).map(|i| ((i * 37) % 120) as f64 * 0.1 - 6.0).collect();
            let x = DMatrix::from_column_slice(60, 2, &values);
            let pool = MaxPool2d::<f64, 60, OUT>::new::<2, 5, 6, K, S, P>();
            grad_check_at(&mut LayerModel::new(pool), &x, 3).assert_below(1e-6);
        }
        check::<2, 2, 0, { 2 * 2 * 3 }>();
        check::<3, 2, 1, { 2 * 3 * 3 }>();
        check::<3, 1, 0, { 2 * 3 * 4 }>();
    }

    /// A batch split over samples gives the bits of one thread.
    #[cfg(feature = "threads")]
    #[test]
    fn split_batches_give_the_bits_of_one_thread() {
        use crate::kernels::{sample_parts, with_threads};
        let x = Batch::<f64, 60>::from_fn(1000, |i, j| ((i * 37 + j * 11) % 120) as f64 * 0.1 - 6.0);
        let g = Batch::<f64, 12>::from_fn(1000, |i, j| ((i * 5 + j * 3) % 17) as f64 - 8.0);
        let run = |threads: usize| {
            let mut pool = MaxPool2d::<f64, 60, 12>::new::<2, 5, 6, 2, 2, 0>();
            with_threads(threads, || {
                assert_eq!(sample_parts(1000, 60), threads, "split");
                (pool.forward(&x).clone(), pool.backward(&g).clone())
            })
        };
        let one = run(1);
        assert_eq!(run(3), one);
        assert_eq!(run(2), one);
    }

    #[test]
    fn nan_propagates_and_empty_batches_pass() {
        let mut pool = MaxPool2d::<f32, 4, 1>::new::<1, 2, 2, 2, 2, 0>();
        let x = Batch::<f32, 4>::from_column_slice(&[1.0, f32::NAN, 3.0, 2.0]);
        assert!(pool.forward(&x)[(0, 0)].is_nan());
        assert_eq!(pool.forward(&Batch::<f32, 4>::zeros(0)).ncols(), 0);
        assert_eq!(pool.backward(&Batch::<f32, 1>::zeros(0)).ncols(), 0);
    }
}
