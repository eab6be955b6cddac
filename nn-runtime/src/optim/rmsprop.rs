//! RMSprop, as `torch.optim.RMSprop` (not centered).

use super::parts::{Momentum, Rule, Slots, Tensor, WithMomentum};
use super::{Optim, StateError};
use crate::{kernels::Float, snapshot::Snapshot};

/// `torch.optim.RMSprop`: with `g = grad + weight_decay * p`,
/// `s = alpha s + (1 - alpha) g^2`; the step is `g / (sqrt(s) + eps)`, through
/// a momentum buffer `b = momentum b + step` (starting at zero) when momentum
/// is not 0.
pub type RmsProp<T> = Optim<T, RmsPropRule<T>>;

/// The update rule of [`RmsProp`], with each tensor's average of squared gradients.
#[derive(Clone, Debug)]
pub struct RmsPropRule<T> {
    alpha: f64,
    eps: f64,
    square_avg: Slots<T>,
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
        Self::with_rule(lr, RmsPropRule { alpha: 0.99, eps: 1e-8, square_avg: Slots::default() })
    }
    /// Smoothing constant of the squared-gradient average.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.rule.alpha = alpha;
        self
    }
    /// Added to the denominator for stability.
    pub fn eps(mut self, eps: f64) -> Self {
        self.rule.eps = eps;
        self
    }
}

impl<T: Float> WithMomentum for RmsPropRule<T> {}

/// The constants of one RMSprop step.
#[derive(Clone, Copy, Debug)]
pub struct RmsPropStep<T> {
    lr: T,
    alpha: T,
    one_minus_alpha: T,
    eps: T,
}

impl<T: Float> Rule<T> for RmsPropRule<T> {
    type Step = RmsPropStep<T>;

    fn begin_step(&mut self, lr: f64) -> RmsPropStep<T> {
        let (alpha, eps) = (T::of(self.alpha), T::of(self.eps));
        RmsPropStep { lr: T::of(lr), alpha, one_minus_alpha: T::of(1.0 - self.alpha), eps }
    }

    #[inline(always)]
    fn update(&mut self, s: RmsPropStep<T>, index: usize, t: Tensor<'_, T>) {
        let Tensor { value, grad, decay, momentum } = t;
        let (square_avg, _) = self.square_avg.get(index, value.len());
        let Some(Momentum { factor, buffer, .. }) = momentum else {
            for ((v, &g), sq) in value.iter_mut().zip(grad).zip(square_avg.iter_mut()) {
                let g = decay.apply(v, g);
                *sq = s.alpha * *sq + s.one_minus_alpha * g * g;
                *v -= s.lr * g / (sq.sqrt() + s.eps);
            }
            return;
        };
        for (((v, &g), sq), b) in value.iter_mut().zip(grad).zip(square_avg.iter_mut()).zip(buffer.iter_mut()) {
            let g = decay.apply(v, g);
            *sq = s.alpha * *sq + s.one_minus_alpha * g * g;
            *b = factor * *b + g / (sq.sqrt() + s.eps);
            *v -= s.lr * *b;
        }
    }

    /// torch's name: `{i}.square_avg`.
    fn save(&self, out: &mut Snapshot<T>) {
        self.square_avg.save("square_avg", out);
    }

    fn load(&mut self, from: &Snapshot<T>, lens: &[usize]) -> Result<(), StateError> {
        self.square_avg.load("square_avg", from, lens)
    }
}
