//! Adam and AdamW, as `torch.optim.Adam` and `torch.optim.AdamW` (no amsgrad).

use super::{for_each_param, Optimizer, Slots, WeightDecay};
use crate::{Float, VisitMut};

/// `torch.optim.Adam`: weight decay is an L2 term added to the gradient.
///
/// With `g = grad + weight_decay * p`: `m = m + (1 - b1) (g - m)`,
/// `v = b2 v + (1 - b2) g^2`, `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
#[derive(Clone, Debug)]
pub struct Adam<T> {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    decay: WeightDecay,
    /// AdamW: decay multiplies the parameter by `1 - lr * weight_decay` instead.
    decoupled: bool,
    steps: i32,
    first: Slots<T>,
    second: Slots<T>,
}

impl<T: Float> Default for Adam<T> {
    /// torch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay.
    fn default() -> Self {
        Self::new(1e-3)
    }
}

impl<T: Float> Adam<T> {
    /// Adam with learning rate `lr` and torch's other defaults.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            decay: WeightDecay { amount: 0.0, weights_only: false },
            decoupled: false,
            steps: 0,
            first: Slots::default(),
            second: Slots::default(),
        }
    }
    /// Decay rates of the first and second moment averages.
    pub fn betas(mut self, b1: f64, b2: f64) -> Self {
        self.betas = (b1, b2);
        self
    }
    /// Added to the denominator for stability.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// L2 penalty added to the gradient (Adam) or decoupled decay (AdamW).
    pub fn weight_decay(mut self, amount: f64) -> Self {
        self.decay.amount = amount;
        self
    }
    /// When `true`, weight decay skips biases, norm parameters and slopes.
    pub fn decay_weights_only(mut self, only: bool) -> Self {
        self.decay.weights_only = only;
        self
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step_with(&mut self, visit: &mut dyn FnMut(&mut dyn VisitMut<T>)) {
        self.steps += 1;
        let (b1, b2) = self.betas;
        let correction1 = 1.0 - b1.powi(self.steps);
        let correction2_sqrt = T::of((1.0 - b2.powi(self.steps)).sqrt());
        let step_size = T::of(self.lr / correction1);
        let (one_minus_b1, b2t, one_minus_b2, eps) = (T::of(1.0 - b1), T::of(b2), T::of(1.0 - b2), T::of(self.eps));
        let (lr, decay, decoupled) = (self.lr, self.decay, self.decoupled);
        let (first, second) = (&mut self.first, &mut self.second);
        for_each_param(visit, |i, p| {
            let wd = decay.for_kind(p.kind);
            let (shrink, l2) = if decoupled { (T::of(1.0 - lr * wd), T::zero()) } else { (T::one(), T::of(wd)) };
            let (m, _) = first.get(i, p.value.len());
            let (v2, _) = second.get(i, p.value.len());
            for (((v, &g), m), s) in p.value.iter_mut().zip(p.grad.iter()).zip(m.iter_mut()).zip(v2.iter_mut()) {
                *v *= shrink;
                let g = g + l2 * *v;
                *m += one_minus_b1 * (g - *m);
                *s = b2t * *s + one_minus_b2 * g * g;
                *v -= step_size * *m / (s.sqrt() / correction2_sqrt + eps);
            }
        });
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// `torch.optim.AdamW`: Adam with decoupled weight decay (default 0.01),
/// `p *= 1 - lr * weight_decay` before the Adam update.
#[derive(Clone, Debug)]
pub struct AdamW<T>(Adam<T>);

impl<T: Float> Default for AdamW<T> {
    /// torch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    fn default() -> Self {
        Self::new(1e-3)
    }
}

impl<T: Float> AdamW<T> {
    /// AdamW with learning rate `lr` and torch's other defaults.
    pub fn new(lr: f64) -> Self {
        let mut adam = Adam::new(lr).weight_decay(0.01);
        adam.decoupled = true;
        Self(adam)
    }
    /// Decay rates of the first and second moment averages.
    pub fn betas(self, b1: f64, b2: f64) -> Self {
        Self(self.0.betas(b1, b2))
    }
    /// Added to the denominator for stability.
    pub fn eps(self, eps: f64) -> Self {
        Self(self.0.eps(eps))
    }
    /// Decoupled decay rate.
    pub fn weight_decay(self, amount: f64) -> Self {
        Self(self.0.weight_decay(amount))
    }
    /// When `true`, weight decay skips biases, norm parameters and slopes.
    pub fn decay_weights_only(self, only: bool) -> Self {
        Self(self.0.decay_weights_only(only))
    }
}

impl<T: Float> Optimizer<T> for AdamW<T> {
    fn step_with(&mut self, visit: &mut dyn FnMut(&mut dyn VisitMut<T>)) {
        self.0.step_with(visit);
    }
    fn lr(&self) -> f64 {
        self.0.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.0.lr = lr;
    }
}
