//! Gradient clipping, as `torch.nn.utils.clip_grad_value_` and `clip_grad_norm_`,
//! and the global gradient norm the trainer records every step.

use crate::layer::{NamePath, ParamMut, ParamRef};
use crate::{
    kernels::Float,
    layer::{Visit, VisitMut},
    model::Model,
};

/// How gradients are limited before the optimizer step.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Clip {
    /// `clip_grad_value_`: every gradient element clamped to `[-c, c]`.
    Value(f64),
    /// `clip_grad_norm_`: all gradients scaled by `min(1, max / (norm + 1e-6))`,
    /// where `norm` is the L2 norm of all gradients together.
    GlobalNorm(f64),
}

impl Clip {
    /// Clips `model`'s gradients and returns their global L2 norm before clipping.
    pub fn apply<T: Float, M: Model<T>>(&self, model: &mut M) -> f64 {
        let norm = grad_norm(model);
        self.apply_with_norm(model, norm);
        norm
    }

    /// Clips given the pre-clip global norm already measured.
    pub(crate) fn apply_with_norm<T: Float, M: Model<T>>(&self, model: &mut M, norm: f64) {
        match *self {
            Clip::Value(c) => {
                let c = T::of(c);
                // Comparisons, not min/max, so that NaN passes through as in torch.
                model.visit_mut(&mut EachGrad(|g: &mut T| {
                    if *g > c {
                        *g = c;
                    } else if *g < -c {
                        *g = -c;
                    }
                }));
            }
            Clip::GlobalNorm(max) => {
                let coef = T::of((max / (norm + 1e-6)).min(1.0));
                model.visit_mut(&mut EachGrad(|g: &mut T| *g *= coef));
            }
        }
    }
}

struct EachGrad<F>(F);

impl<T, F: FnMut(&mut T)> VisitMut<T> for EachGrad<F> {
    fn param(&mut self, p: ParamMut<'_, T>) {
        p.grad.iter_mut().for_each(&mut self.0);
    }
}

/// The L2 norm of all of `model`'s gradients taken together (NaN or infinite
/// if any gradient is).
pub fn grad_norm<T: Float, M: Model<T>>(model: &M) -> f64 {
    struct SumSquares(f64);
    impl<T: Float> Visit<T> for SumSquares {
        fn param(&mut self, p: ParamRef<'_, T>) {
            self.0 += p.grad.iter().map(|g| g.as_f64() * g.as_f64()).sum::<f64>();
        }
    }
    let mut s = SumSquares(0.0);
    model.visit(&mut s);
    s.0.sqrt()
}

/// The full name of the first parameter tensor, in visiting order, whose
/// gradient holds a NaN or an infinity.
pub fn first_non_finite_grad<T: Float, M: Model<T>>(model: &M) -> Option<String> {
    struct Find {
        path: NamePath,
        found: Option<String>,
    }
    impl<T: Float> Visit<T> for Find {
        fn enter(&mut self, segment: &str) {
            self.path.enter(segment);
        }
        fn leave(&mut self) {
            self.path.leave();
        }
        fn param(&mut self, p: ParamRef<'_, T>) {
            if self.found.is_none() && p.grad.iter().any(|g| !g.as_f64().is_finite()) {
                self.found = Some(self.path.full(p.name));
            }
        }
    }
    let mut f = Find { path: NamePath::default(), found: None };
    model.visit(&mut f);
    f.found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::{seeded_rng, Init};
    use crate::layers::Dense;
    use crate::testing::LayerModel;

    /// A model whose gradients are weight `[a, b]` and bias `[c]`.
    fn with_grads(grads: [f64; 3]) -> LayerModel<f64, Dense<f64, 2, 1>, 2, 1> {
        let mut m = LayerModel::new(Dense::new(&mut seeded_rng(0), Init::XavierNormal, true));
        let mut k = 0;
        m.visit_mut(&mut EachGrad(|g: &mut f64| {
            *g = grads[k];
            k += 1;
        }));
        m
    }

    fn grads(m: &LayerModel<f64, Dense<f64, 2, 1>, 2, 1>) -> Vec<f64> {
        m.parameters().into_iter().flat_map(|p| p.grad).collect()
    }

    #[test]
    fn global_norm_scales_only_above_the_limit() {
        let mut m = with_grads([3.0, 0.0, -4.0]);
        assert_eq!(Clip::GlobalNorm(10.0).apply(&mut m), 5.0);
        assert_eq!(grads(&m), vec![3.0, 0.0, -4.0]);
        assert_eq!(Clip::GlobalNorm(1.0).apply(&mut m), 5.0);
        let coef = 1.0 / (5.0 + 1e-6);
        assert_eq!(grads(&m), vec![3.0 * coef, 0.0, -4.0 * coef]);
    }

    #[test]
    fn value_clamps_each_element_and_lets_nan_through() {
        let mut m = with_grads([3.0, 0.0, -4.0]);
        assert_eq!(Clip::Value(1.0).apply(&mut m), 5.0);
        assert_eq!(grads(&m), vec![1.0, 0.0, -1.0]);
        let mut m = with_grads([f64::NAN, 2.0, 0.5]);
        assert!(Clip::Value(1.0).apply(&mut m).is_nan());
        let g = grads(&m);
        assert!(g[0].is_nan() && g[1] == 1.0 && g[2] == 0.5);
    }

    #[test]
    fn first_non_finite_gradient_is_named() {
        assert_eq!(first_non_finite_grad(&with_grads([1.0, 2.0, 3.0])), None);
        assert_eq!(first_non_finite_grad(&with_grads([1.0, 2.0, f64::INFINITY])).as_deref(), Some("bias"));
        assert_eq!(first_non_finite_grad(&with_grads([f64::NAN, 2.0, f64::NAN])).as_deref(), Some("weight"));
    }
}
