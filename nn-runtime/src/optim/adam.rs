//! Adam and AdamW, as `torch.optim.Adam` and `torch.optim.AdamW` (no amsgrad):
//! one rule, AdamW being Adam with decoupled weight decay.

use super::parts::{Rule, Slots, Tensor};
use super::{Optim, StateError};
use crate::snapshot::Data;
use crate::{kernels::Float, snapshot::Snapshot};

/// `torch.optim.Adam`: weight decay is an L2 term added to the gradient.
///
/// With `g = grad + weight_decay * p`: `m = m + (1 - b1) (g - m)`,
/// `v = b2 v + (1 - b2) g^2`, `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
pub type Adam<T> = Optim<T, AdamRule<T, false>>;

/// `torch.optim.AdamW`: Adam with decoupled weight decay (default 0.01),
/// `p *= 1 - lr * weight_decay` before the Adam update.
pub type AdamW<T> = Optim<T, AdamRule<T, true>>;

/// The update rule of [`Adam`] (and, `DECOUPLED`, of [`AdamW`]), with each
/// tensor's first and second moment averages.
#[derive(Clone, Debug)]
pub struct AdamRule<T, const DECOUPLED: bool> {
    betas: (f64, f64),
    eps: f64,
    steps: i32,
    first: Slots<T>,
    second: Slots<T>,
}

impl<T: Float, const DECOUPLED: bool> Optim<T, AdamRule<T, DECOUPLED>> {
    /// torch's defaults but the learning rate: betas (0.9, 0.999), eps 1e-8.
    fn adam(lr: f64) -> Self {
        let rule =
            AdamRule { betas: (0.9, 0.999), eps: 1e-8, steps: 0, first: Slots::default(), second: Slots::default() };
        Self::with_rule(lr, rule)
    }
    /// Decay rates of the first and second moment averages.
    pub fn betas(mut self, b1: f64, b2: f64) -> Self {
        self.rule.betas = (b1, b2);
        self
    }
    /// Added to the denominator for stability.
    pub fn eps(mut self, eps: f64) -> Self {
        self.rule.eps = eps;
        self
    }
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
        Self::adam(lr)
    }
}

impl<T: Float> Default for AdamW<T> {
    /// torch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    fn default() -> Self {
        Self::new(1e-3)
    }
}

impl<T: Float> AdamW<T> {
    /// AdamW with learning rate `lr` and torch's other defaults.
    pub fn new(lr: f64) -> Self {
        Self::adam(lr).weight_decay(0.01)
    }
}

/// The constants of one Adam step.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep<T> {
    /// `lr / (1 - b1^t)`.
    step_size: T,
    /// `sqrt(1 - b2^t)`.
    correction2_sqrt: T,
    one_minus_b1: T,
    b2: T,
    one_minus_b2: T,
    eps: T,
}

impl<T: Float, const DECOUPLED: bool> Rule<T> for AdamRule<T, DECOUPLED> {
    const DECOUPLED: bool = DECOUPLED;
    type Step = AdamStep<T>;

    fn begin_step(&mut self, lr: f64) -> AdamStep<T> {
        self.steps += 1;
        let (b1, b2) = self.betas;
        AdamStep {
            step_size: T::of(lr / (1.0 - b1.powi(self.steps))),
            correction2_sqrt: T::of((1.0 - b2.powi(self.steps)).sqrt()),
            one_minus_b1: T::of(1.0 - b1),
            b2: T::of(b2),
            one_minus_b2: T::of(1.0 - b2),
            eps: T::of(self.eps),
        }
    }

    #[inline(always)]
    fn update(&mut self, s: AdamStep<T>, index: usize, t: Tensor<'_, T>) {
        let Tensor { value, grad, decay, .. } = t;
        let (m, _) = self.first.get(index, value.len());
        let (v2, _) = self.second.get(index, value.len());
        for (((v, &g), m), sq) in value.iter_mut().zip(grad).zip(m.iter_mut()).zip(v2.iter_mut()) {
            let g = decay.apply(v, g);
            *m += s.one_minus_b1 * (g - *m);
            *sq = s.b2 * *sq + s.one_minus_b2 * g * g;
            *v -= s.step_size * *m / (sq.sqrt() / s.correction2_sqrt + s.eps);
        }
    }

    /// torch's names: the step count `step`, `{i}.exp_avg`, `{i}.exp_avg_sq`.
    fn save(&self, out: &mut Snapshot<T>) {
        out.push("step".into(), Vec::new(), Data::Count(i64::from(self.steps)));
        self.first.save("exp_avg", out);
        self.second.save("exp_avg_sq", out);
    }

    fn load(&mut self, from: &Snapshot<T>, lens: &[usize]) -> Result<(), StateError> {
        let steps = match from.get("step").map(|e| &e.data) {
            Some(Data::Count(c)) => i32::try_from(*c).ok().filter(|c| *c >= 0),
            _ => None,
        };
        let expected = "a step count from 0 to 2^31 - 1".to_string();
        self.steps = steps.ok_or(StateError::Tensor { name: "step".into(), expected })?;
        self.first.load("exp_avg", from, lens)?;
        self.second.load("exp_avg_sq", from, lens)
    }
}
