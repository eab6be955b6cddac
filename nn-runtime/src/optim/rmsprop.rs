//! RMSprop, as `torch.optim.RMSprop` (not centered).

use super::{for_each_param, Optimizer, Slots, WeightDecay};
use crate::{Float, VisitMut};

/// `torch.optim.RMSprop`: with `g = grad + weight_decay * p`,
/// `s = alpha s + (1 - alpha) g^2`; the step is `g / (sqrt(s) + eps)`, through
/// a momentum buffer `b = momentum b + step` (starting at zero) when momentum > 0.
#[derive(Clone, Debug)]
pub struct RmsProp<T> {
    lr: f64,
    alpha: f64,
    eps: f64,
    momentum: f64,
    decay: WeightDecay,
    square_avg: Slots<T>,
    buffers: Slots<T>,
}

impl<T: Float> Default for RmsProp<T> {
    /// torch's defaults: lr 1e-2, alpha 0.99, eps 1e-8, no momentum or weight decay.
    fn default() -> Self {
        Self::new(1e-2)
    }
}

impl<T: Float> RmsProp<T> {
    /// RMSprop with learning rate `lr` and torch's other defaults.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            decay: WeightDecay { amount: 0.0, weights_only: false },
            square_avg: Slots::default(),
            buffers: Slots::default(),
        }
    }
    /// Smoothing constant of the squared-gradient average.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }
    /// Added to the denominator for stability.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Momentum factor (0 turns it off).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
    /// L2 penalty added to the gradient.
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

impl<T: Float> Optimizer<T> for RmsProp<T> {
    fn step_with(&mut self, visit: &mut dyn FnMut(&mut dyn VisitMut<T>)) {
        let (lr, alpha, one_minus_alpha, eps) =
            (T::of(self.lr), T::of(self.alpha), T::of(1.0 - self.alpha), T::of(self.eps));
        let (momentum, use_momentum, decay) = (T::of(self.momentum), self.momentum > 0.0, self.decay);
        let (square_avg, buffers) = (&mut self.square_avg, &mut self.buffers);
        for_each_param(visit, |i, p| {
            let wd = T::of(decay.for_kind(p.kind));
            let (sq, _) = square_avg.get(i, p.value.len());
            if use_momentum {
                let (buf, _) = buffers.get(i, p.value.len());
                for (((v, &g), s), b) in p.value.iter_mut().zip(p.grad.iter()).zip(sq.iter_mut()).zip(buf.iter_mut()) {
                    let g = g + wd * *v;
                    *s = alpha * *s + one_minus_alpha * g * g;
                    *b = momentum * *b + g / (s.sqrt() + eps);
                    *v -= lr * *b;
                }
            } else {
                for ((v, &g), s) in p.value.iter_mut().zip(p.grad.iter()).zip(sq.iter_mut()) {
                    let g = g + wd * *v;
                    *s = alpha * *s + one_minus_alpha * g * g;
                    *v -= lr * g / (s.sqrt() + eps);
                }
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
