//! Average pooling, as PyTorch's `AvgPool2d` with its defaults
//! (`count_include_pad = True`, `ceil_mode = False`).

use super::image::Window2d;
use super::pool::{Pool, Pooling};
use crate::kernels::Float;
use crate::kernels::{avg_pool, avg_pool_backward};

/// `avg_pool(K, stride = S, padding = P)` on `(C, H, W)` images, flattened to
/// `IN = C*H*W` inputs and `OUT = C*H'*W'` outputs.
///
/// Padding counts as zeros, so every window is divided by `K * K` (without
/// `ceil_mode`, no window reaches past the padding).
pub type AvgPool2d<T, const IN: usize, const OUT: usize> = Pool<T, AvgPooling, IN, OUT>;

/// The kernel of [`AvgPool2d`].
#[derive(Clone, Debug)]
pub struct AvgPooling {
    window: Window2d,
}

impl<T: Float, const IN: usize, const OUT: usize> AvgPool2d<T, IN, OUT> {
    /// A `K x K` average pool with stride `S` and padding `P` over `(C, H, W)`;
    /// `IN` and `OUT` must be the flattened sizes and `P <= K / 2`, as PyTorch
    /// requires (checked at compile time).
    ///
    /// `AvgPool2d::<f32, { 8 * 8 * 8 }, { 8 * 4 * 4 }>::new::<8, 8, 8, 2, 2, 0>()`
    pub fn new<const C: usize, const H: usize, const W: usize, const K: usize, const S: usize, const P: usize>() -> Self
    {
        let window = const {
            let w = Window2d::new(C, H, W, K, S, P);
            assert!(2 * P <= K, "avg_pool: padding must be at most half the kernel size");
            assert!(IN == w.input_len(), "avg_pool: IN must be C * H * W");
            assert!(OUT == w.output_len(C), "avg_pool: OUT must be C * H' * W'");
            w
        };
        Self::with(AvgPooling { window })
    }

    /// The input geometry.
    pub fn window(&self) -> Window2d {
        self.pooling.window
    }
}

impl<T: Float> Pooling<T> for AvgPooling {
    fn forward(&mut self, x: &[T], n: usize, y: &mut [T]) {
        self.predict(x, n, y);
    }

    fn predict(&self, x: &[T], n: usize, y: &mut [T]) {
        avg_pool(&self.window, x, n, y);
    }

    fn backward(&self, g: &[T], n: usize, dx: &mut [T]) {
        avg_pool_backward(&self.window, g, n, dx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{grad_check, LayerModel};
    use crate::{batch::Batch, layer::Layer};

    #[test]
    fn forward_averages_windows() {
        let mut pool = AvgPool2d::<f64, 8, 2>::new::<1, 2, 4, 2, 2, 0>();
        let x = Batch::<f64, 8>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        // (1 + 2 + 5 + 6) / 4, (3 + 4 + 7 + 8) / 4
        assert_eq!(pool.forward(&x).as_slice(), &[3.5, 5.5]);
        assert_eq!(pool.predict(&x).as_slice(), &[3.5, 5.5]);
        let dx = pool.backward(&Batch::<f64, 2>::from_column_slice(&[4.0, 8.0]));
        assert_eq!(dx.as_slice(), &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    }

    #[test]
    fn padding_counts_in_the_divisor() {
        // 1x2x2 of ones, kernel 2, stride 1, padding 1: the corner windows hold one
        // real cell of four, the edge windows two, the centre four.
        let mut pool = AvgPool2d::<f64, 4, 9>::new::<1, 2, 2, 2, 1, 1>();
        let x = Batch::<f64, 4>::from_element(1, 1.0);
        assert_eq!(pool.forward(&x).as_slice(), &[0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        grad_check(&mut LayerModel::new(AvgPool2d::<f64, 60, { 2 * 2 * 3 }>::new::<2, 5, 6, 2, 2, 0>()), 2, 4)
            .assert_below(1e-6);
        grad_check(&mut LayerModel::new(AvgPool2d::<f64, 60, { 2 * 3 * 3 }>::new::<2, 5, 6, 3, 2, 1>()), 2, 5)
            .assert_below(1e-6);
        grad_check(&mut LayerModel::new(AvgPool2d::<f64, 60, { 2 * 3 * 4 }>::new::<2, 5, 6, 3, 1, 0>()), 2, 6)
            .assert_below(1e-6);
    }

    #[test]
    fn nan_propagates_and_empty_batches_pass() {
        let mut pool = AvgPool2d::<f32, 8, 2>::new::<1, 2, 4, 2, 2, 0>();
        let x = Batch::<f32, 8>::from_column_slice(&[f32::NAN, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        let y = pool.forward(&x);
        assert!(y[(0, 0)].is_nan());
        assert_eq!(y[(1, 0)], 1.0);
        assert_eq!(pool.forward(&Batch::<f32, 8>::zeros(0)).ncols(), 0);
        assert_eq!(pool.backward(&Batch::<f32, 2>::zeros(0)).ncols(), 0);
    }
}
