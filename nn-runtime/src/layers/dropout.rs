//! Inverted dropout (Srivastava et al. 2014): in training each element is
//! zeroed with probability `p` and the survivors scaled by `1 / (1 - p)`, so
//! evaluation is the identity.

use rand::Rng;

use crate::layer::{empty, ensure_cols, Io};
use crate::{
    batch::Batch,
    init::SeededRng,
    kernels::Float,
    layer::{Layer, Visit, VisitMut},
};

/// `dropout(p)` on `N` features, drawing its masks from its own generator.
#[derive(Clone, Debug)]
pub struct Dropout<T: Float, const N: usize> {
    p: f64,
    rng: SeededRng,
    frozen: bool,
    // 0 for a dropped element, 1 / (1 - p) for a kept one.
    mask: Batch<T, N>,
    io: Io<T, N, N>,
}

impl<T: Float, const N: usize> Dropout<T, N> {
    /// `p` is the drop probability. `network!` checks `0 <= p < 1` at compile
    /// time; here a `p` outside `[0, 1]` is clamped (NaN counts as 0) rather than
    /// rejected, and `p = 1` drops everything (output 0, never NaN).
    pub fn new(p: f64, rng: SeededRng) -> Self {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        Self { p, rng, frozen: false, mask: empty(), io: Io::default() }
    }
    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
    /// The mask of the last training forward (0 or `1 / (1 - p)` per element).
    pub fn mask(&self) -> &Batch<T, N> {
        &self.mask
    }

    fn draw_mask(&mut self, cols: usize) {
        ensure_cols(&mut self.mask, cols);
        let keep = if self.p < 1.0 { T::of(1.0 / (1.0 - self.p)) } else { T::zero() };
        for m in self.mask.iter_mut() {
            *m = if self.rng.random::<f64>() < self.p { T::zero() } else { keep };
        }
    }
}

fn multiply<T: Float>(a: &[T], b: &[T], out: &mut [T]) {
    for ((o, a), b) in out.iter_mut().zip(a).zip(b) {
        *o = *a * *b;
    }
}

impl<T: Float, const N: usize> Layer<T, N, N> for Dropout<T, N> {
    /// While frozen, the last mask is reused; a new batch size still needs a new mask.
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        if !self.frozen || self.mask.ncols() != x.ncols() {
            self.draw_mask(x.ncols());
        }
        let mask = self.mask.as_slice();
        self.io.write_output(x.ncols(), |y| multiply(x.as_slice(), mask, y))
    }

    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        let mask = self.mask.as_slice();
        self.io.write_input_grad(g.ncols(), |dx| multiply(g.as_slice(), mask, dx))
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        x.clone()
    }

    fn io(&self) -> Option<&Io<T, N, N>> {
        Some(&self.io)
    }

    fn freeze_randomness(&mut self, frozen: bool) {
        self.frozen = frozen;
    }

    /// Only its generator, which a training state saves and restores.
    fn visit(&self, v: &mut dyn Visit<T>) {
        v.rng("rng", &self.rng);
    }

    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        v.rng("rng", &mut self.rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::seeded_rng;
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn gradients_match_finite_differences_with_a_fixed_mask() {
        let mut m = LayerModel::new(Dropout::<f64, 6>::new(0.4, seeded_rng(1)));
        grad_check(&mut m, 5, 2).assert_below(1e-6);
        let mask = m.layer.mask();
        assert!(mask.iter().any(|v| *v == 0.0) && mask.iter().any(|v| *v != 0.0), "the mask drops some, keeps some");
    }

    #[test]
    fn drops_about_p_and_scales_survivors() {
        let mut d = Dropout::<f64, 100>::new(0.3, seeded_rng(3));
        let x = Batch::<f64, 100>::from_element(100, 2.0);
        let y = d.forward(&x).clone();
        let dropped = y.iter().filter(|v| **v == 0.0).count() as f64 / 10_000.0;
        assert!((dropped - 0.3).abs() < 0.015, "dropped {dropped}");
        assert!(y.iter().all(|v| *v == 0.0 || (*v - 2.0 / 0.7).abs() < 1e-12));
        assert!((y.mean() - 2.0).abs() < 0.05, "the mean is kept: {}", y.mean());
        assert_eq!(d.predict(&x), x);
        let g = Batch::<f64, 100>::from_element(100, 1.0);
        let dx = d.backward(&g).clone();
        assert_eq!(&dx, d.mask());
    }

    #[test]
    fn same_seed_same_masks_and_frozen_reuses_the_mask() {
        let x = Batch::<f32, 4>::from_element(8, 1.0);
        let mut a = Dropout::<f32, 4>::new(0.5, seeded_rng(7));
        let mut b = Dropout::<f32, 4>::new(0.5, seeded_rng(7));
        let first = a.forward(&x).clone();
        assert_eq!(&first, b.forward(&x));
        assert_ne!(&first, a.forward(&x), "a new mask each step");
        a.freeze_randomness(true);
        let frozen = a.forward(&x).clone();
        assert_eq!(&frozen, a.forward(&x));
        a.freeze_randomness(false);
        assert_ne!(&frozen, a.forward(&x));
    }

    #[test]
    fn p_at_the_edges_and_out_of_range_is_clamped() {
        let x = Batch::<f64, 3>::from_element(4, 1.5);
        assert_eq!(Dropout::<f64, 3>::new(0.0, seeded_rng(1)).forward(&x), &x);
        assert_eq!(Dropout::<f64, 3>::new(f64::NAN, seeded_rng(1)).p(), 0.0);
        assert_eq!(Dropout::<f64, 3>::new(-0.5, seeded_rng(1)).p(), 0.0);
        let mut all = Dropout::<f64, 3>::new(7.0, seeded_rng(1));
        assert_eq!(all.p(), 1.0);
        assert!(all.forward(&x).iter().all(|v| *v == 0.0));
        assert!(all.backward(&x).iter().all(|v| *v == 0.0));
    }

    #[test]
    fn empty_batch_and_nan_do_not_panic() {
        let mut d = Dropout::<f32, 2>::new(0.5, seeded_rng(4));
        assert_eq!(d.forward(&Batch::zeros(0)).ncols(), 0);
        assert_eq!(d.backward(&Batch::zeros(0)).ncols(), 0);
        let y = d.forward(&Batch::from_element(3, f32::NAN)).clone();
        assert!(y.iter().all(|v| v.is_nan()), "NaN times the mask (0 included) is NaN");
    }
}
