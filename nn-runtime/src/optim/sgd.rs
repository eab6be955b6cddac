//! Stochastic gradient descent, as `torch.optim.SGD` with dampening 0.

use super::{for_each_param, Optimizer, Slots, WeightDecay};
use crate::{Float, VisitMut};

/// `torch.optim.SGD`: with `g = grad + weight_decay * p`, momentum keeps
/// `b = momentum * b + g` (`b = g` at the first step); the update is
/// `p -= lr * (g + momentum * b)` with Nesterov, `p -= lr * b` without.
#[derive(Clone, Debug)]
pub struct Sgd<T> {
    lr: f64,
    momentum: f64,
    nesterov: bool,
    decay: WeightDecay,
    buffers: Slots<T>,
}

impl<T: Float> Sgd<T> {
    /// Plain SGD with learning rate `lr` (torch's default is 1e-3).
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            momentum: 0.0,
            nesterov: false,
            decay: WeightDecay { amount: 0.0, weights_only: false },
            buffers: Slots::default(),
        }
    }
    /// Heavy-ball momentum factor (0 turns it off).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
    /// Nesterov momentum; has no effect without momentum.
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
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

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step_with(&mut self, visit: &mut dyn FnMut(&mut dyn VisitMut<T>)) {
        let (lr, momentum, nesterov, use_momentum) =
            (T::of(self.lr), T::of(self.momentum), self.nesterov, self.momentum != 0.0);
        let (decay, buffers) = (self.decay, &mut self.buffers);
        for_each_param(visit, |i, p| {
            let wd = T::of(decay.for_kind(p.kind));
            if !use_momentum {
                for (v, &g) in p.value.iter_mut().zip(p.grad.iter()) {
                    *v -= lr * (g + wd * *v);
                }
                return;
            }
            let (buf, fresh) = buffers.get(i, p.value.len());
            for ((v, &g), b) in p.value.iter_mut().zip(p.grad.iter()).zip(buf.iter_mut()) {
                let d = g + wd * *v;
                *b = if fresh { d } else { momentum * *b + d };
                *v -= lr * if nesterov { d + momentum * *b } else { *b };
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
