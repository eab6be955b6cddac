//! Stochastic gradient descent, as `torch.optim.SGD` with dampening 0.

use super::parts::{Momentum, Rule, Tensor, WithMomentum};
use super::Optim;
use crate::kernels::Float;

/// `torch.optim.SGD`: with `g = grad + weight_decay * p`, momentum keeps
/// `b = momentum * b + g` (`b = g` at the first step); the update is
/// `p -= lr * (g + momentum * b)` with Nesterov, `p -= lr * b` without.
pub type Sgd<T> = Optim<T, SgdRule>;

/// The update rule of [`Sgd`].
#[derive(Clone, Copy, Debug)]
pub struct SgdRule {
    nesterov: bool,
}

impl<T: Float> Sgd<T> {
    /// Plain SGD with learning rate `lr` (torch's default is 1e-3).
    pub fn new(lr: f64) -> Self {
        Self::with_rule(lr, SgdRule { nesterov: false })
    }
    /// Nesterov momentum; has no effect without momentum.
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.rule.nesterov = nesterov;
        self
    }
}

impl WithMomentum for SgdRule {}

impl<T: Float> Rule<T> for SgdRule {
    /// The learning rate.
    type Step = T;

    fn begin_step(&mut self, lr: f64) -> T {
        T::of(lr)
    }

    #[inline(always)]
    fn update(&mut self, lr: T, _index: usize, t: Tensor<'_, T>) {
        let Tensor { value, grad, decay, momentum } = t;
        let Some(Momentum { factor, buffer, fresh }) = momentum else {
            for (v, &g) in value.iter_mut().zip(grad) {
                let d = decay.apply(v, g);
                *v -= lr * d;
            }
            return;
        };
        for ((v, &g), b) in value.iter_mut().zip(grad).zip(buffer.iter_mut()) {
            let d = decay.apply(v, g);
            *b = if fresh { d } else { factor * *b + d };
            *v -= lr * if self.nesterov { d + factor * *b } else { *b };
        }
    }
}
