//! Global average pooling: (C, H, W) -> C, as `AdaptiveAvgPool2d(1)` then `flatten`.

use crate::layer::{empty, ensure_cols};
use crate::{Batch, Float, Layer};

/// `global_avg_pool` on `(C, H, W)` images: each channel's mean, `IN = C*H*W`
/// inputs to `C` outputs.
#[derive(Clone, Debug)]
pub struct GlobalAvgPool<T: Float, const IN: usize, const C: usize> {
    y: Batch<T, C>,
    dx: Batch<T, IN>,
}

impl<T: Float, const IN: usize, const C: usize> GlobalAvgPool<T, IN, C> {
    /// The pool over `(C, H, W)`; `IN` must be `C * H * W` (checked at compile time).
    ///
    /// `GlobalAvgPool::<f32, { 16 * 4 * 4 }, 16>::new::<16, 4, 4>()`
    pub fn new<const CH: usize, const H: usize, const W: usize>() -> Self {
        const {
            assert!(CH == C, "global_avg_pool: the output width must be the channel count");
            assert!(C >= 1, "global_avg_pool: no channels");
            assert!(H >= 1 && W >= 1, "global_avg_pool: empty image");
            assert!(IN == CH * H * W, "global_avg_pool: IN must be C * H * W");
        }
        Self { y: empty(), dx: empty() }
    }

    /// Values per channel: `H * W`.
    const PLANE: usize = IN / C;
}

/// Each plane's mean. The layout is sample-major then channel-major, so the
/// planes of `x` come in the order of the values of `y`.
fn channel_means<T: Float>(x: &[T], plane: usize, y: &mut [T]) {
    let area = T::of(plane as f64);
    for (v, p) in y.iter_mut().zip(x.chunks_exact(plane)) {
        *v = p.iter().fold(T::zero(), |acc, x| acc + *x) / area;
    }
}

impl<T: Float, const IN: usize, const C: usize> Layer<T, IN, C> for GlobalAvgPool<T, IN, C> {
    fn forward(&mut self, x: &Batch<T, IN>) -> &Batch<T, C> {
        ensure_cols(&mut self.y, x.ncols());
        channel_means(x.as_slice(), Self::PLANE, self.y.as_mut_slice());
        &self.y
    }

    fn backward(&mut self, g: &Batch<T, C>) -> &Batch<T, IN> {
        ensure_cols(&mut self.dx, g.ncols());
        let area = T::of(Self::PLANE as f64);
        for (d, g) in self.dx.as_mut_slice().chunks_exact_mut(Self::PLANE).zip(g.as_slice()) {
            d.fill(*g / area);
        }
        &self.dx
    }

    fn predict(&self, x: &Batch<T, IN>) -> Batch<T, C> {
        let mut y = empty();
        ensure_cols(&mut y, x.ncols());
        channel_means(x.as_slice(), Self::PLANE, y.as_mut_slice());
        y
    }

    fn output(&self) -> Option<&Batch<T, C>> {
        Some(&self.y)
    }

    fn input_grad(&self) -> Option<&Batch<T, IN>> {
        Some(&self.dx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn forward_and_backward_by_hand() {
        let mut pool = GlobalAvgPool::<f64, 8, 2>::new::<2, 2, 2>();
        let x = Batch::<f64, 8>::from_column_slice(&[1.0, 2.0, 3.0, 6.0, -1.0, -1.0, 0.0, 10.0]);
        assert_eq!(pool.forward(&x).as_slice(), &[3.0, 2.0]);
        assert_eq!(pool.predict(&x).as_slice(), &[3.0, 2.0]);
        let dx = pool.backward(&Batch::<f64, 2>::from_column_slice(&[4.0, -8.0]));
        assert_eq!(dx.as_slice(), &[1.0, 1.0, 1.0, 1.0, -2.0, -2.0, -2.0, -2.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        grad_check(&mut LayerModel::new(GlobalAvgPool::<f64, { 3 * 4 * 5 }, 3>::new::<3, 4, 5>()), 3, 8)
            .assert_below(1e-6);
    }

    #[test]
    fn empty_batches_pass() {
        let mut pool = GlobalAvgPool::<f32, 8, 2>::new::<2, 2, 2>();
        assert_eq!(pool.forward(&Batch::<f32, 8>::zeros(0)).ncols(), 0);
        assert_eq!(pool.backward(&Batch::<f32, 2>::zeros(0)).ncols(), 0);
    }
}
