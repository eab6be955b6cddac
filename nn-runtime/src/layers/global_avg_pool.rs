//! Global average pooling: (C, H, W) -> C, as `AdaptiveAvgPool2d(1)` then `flatten`.

use super::pool::{Pool, Pooling};
use crate::kernels::Float;

/// `global_avg_pool` on `(C, H, W)` images: each channel's mean, `IN = C*H*W`
/// inputs to `C` outputs.
pub type GlobalAvgPool<T, const IN: usize, const C: usize> = Pool<T, GlobalAvgPooling, IN, C>;

/// The kernel of [`GlobalAvgPool`].
#[derive(Clone, Debug)]
pub struct GlobalAvgPooling {
    /// Values per channel: `H * W`.
    plane: usize,
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
        Self::with(GlobalAvgPooling { plane: H * W })
    }
}

// The layout is sample-major then channel-major, so the planes of `x` come in
// the order of the values of `y`.
impl<T: Float> Pooling<T> for GlobalAvgPooling {
    fn forward(&mut self, x: &[T], n: usize, y: &mut [T]) {
        self.predict(x, n, y);
    }

    fn predict(&self, x: &[T], _n: usize, y: &mut [T]) {
        let area = T::of(self.plane as f64);
        for (v, p) in y.iter_mut().zip(x.chunks_exact(self.plane)) {
            *v = p.iter().fold(T::zero(), |acc, x| acc + *x) / area;
        }
    }

    fn backward(&self, g: &[T], _n: usize, dx: &mut [T]) {
        let area = T::of(self.plane as f64);
        for (d, g) in dx.chunks_exact_mut(self.plane).zip(g) {
            d.fill(*g / area);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{grad_check, LayerModel};
    use crate::{batch::Batch, layer::Layer};

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
