//! Optimizers with torch.optim's update rules and defaults, built from parts:
//! a rule per optimizer ([`SgdRule`], [`AdamRule`], [`RmsPropRule`]) says how
//! one tensor moves given its gradient, and the [`Optim`] around it holds what
//! they share: the learning rate, weight decay and momentum. [`AdamW`] is Adam
//! with decoupled weight decay. Learning-rate schedules drive any optimizer
//! through [`Optimizer::set_lr`].
//!
//! An optimizer sees the model through [`VisitMut`] and matches its state to
//! parameter tensors by visiting order. State is allocated at the first step
//! and reused after, so a step allocates nothing.

mod adam;
mod parts;
mod rmsprop;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamRule, AdamW};
pub use rmsprop::{RmsProp, RmsPropRule};
pub use schedule::{Schedule, Scheduler};
pub use sgd::{Sgd, SgdRule};

use parts::{Decay, Momentum, Rule, Slots, Tensor, WithMomentum};

use crate::kernels::{dispatch, Float, Kernel, Level};
use crate::layer::{ParamKind, ParamMut, VisitMut};
use crate::model::Model;
use crate::snapshot::Snapshot;

/// What every optimizer offers: one update from the current gradients, and a
/// learning rate that schedules can read and set.
pub trait Optimizer<T: Float> {
    /// Updates every parameter that `visit` shows (with the gradients they
    /// carry), matching state to tensors by visiting order.
    fn step_with(&mut self, visit: &mut dyn FnMut(&mut dyn VisitMut<T>));
    /// The learning rate used by the next step.
    fn lr(&self) -> f64;
    /// Changes the learning rate of the following steps.
    fn set_lr(&mut self, lr: f64);

    /// Everything a step depends on besides the gradients and the
    /// configuration: per-tensor buffers named `{index}.{torch's name}`
    /// (`3.exp_avg`, the index counting parameters in visiting order) and
    /// step counts, for a training state. `None` for an optimizer that
    /// cannot save it, which a [`Trainer`](crate::train::Trainer) then refuses to
    /// save a training state with.
    fn state(&self) -> Option<Snapshot<T>> {
        None
    }
    /// Puts back a [`Optimizer::state`] of an optimizer of the same kind,
    /// after checking it against the parameters' lengths (`lens`, in
    /// visiting order). On error the optimizer is unchanged.
    fn set_state(&mut self, _state: &Snapshot<T>, _lens: &[usize]) -> Result<(), StateError> {
        Err(StateError::Unsupported)
    }

    /// One update of `model`'s parameters from its gradients.
    fn step<M: Model<T>>(&mut self, model: &mut M)
    where
        Self: Sized,
    {
        self.step_with(&mut |v| model.visit_mut(v));
    }
}

/// An optimizer made of a per-tensor update rule `R` ([`SgdRule`],
/// [`AdamRule`], [`RmsPropRule`]) and the parts the rules share: the learning
/// rate, weight decay and heavy-ball momentum, with the momentum buffers.
/// Use it through its names: [`Sgd`], [`Adam`], [`AdamW`], [`RmsProp`].
#[derive(Clone, Debug)]
pub struct Optim<T, R> {
    lr: f64,
    decay: WeightDecay,
    momentum: f64,
    buffers: Slots<T>,
    rule: R,
}

impl<T: Float, R: Rule<T>> Optim<T, R> {
    /// Learning rate `lr`, no weight decay, no momentum.
    fn with_rule(lr: f64, rule: R) -> Self {
        Self {
            lr,
            decay: WeightDecay { amount: 0.0, weights_only: false },
            momentum: 0.0,
            buffers: Slots::default(),
            rule,
        }
    }

    /// Weight decay: an L2 penalty added to the gradient, or for [`AdamW`]
    /// the decoupled decay of the parameter.
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

impl<T: Float, R: Rule<T> + WithMomentum> Optim<T, R> {
    /// Heavy-ball momentum factor (0 turns it off; torch rejects a negative
    /// one, which is used as given here).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
}

impl<T: Float, R: Rule<T>> Optimizer<T> for Optim<T, R> {
    fn step_with(&mut self, visit: &mut dyn FnMut(&mut dyn VisitMut<T>)) {
        let step = self.rule.begin_step(self.lr);
        let (lr, decay, factor) = (self.lr, self.decay, self.momentum);
        let (rule, buffers) = (&mut self.rule, &mut self.buffers);
        for_each_param(visit, |i, p| {
            let wd = decay.for_kind(p.kind);
            let decay = if R::DECOUPLED {
                Decay { shrink: T::of(1.0 - lr * wd), l2: T::zero() }
            } else {
                Decay { shrink: T::one(), l2: T::of(wd) }
            };
            let momentum = (factor != 0.0).then(|| {
                let (buffer, fresh) = buffers.get(i, p.value.len());
                Momentum { factor: T::of(factor), buffer, fresh }
            });
            let tensor = Tensor { value: p.value, grad: p.grad, decay, momentum };
            dispatch(Update { rule: &mut *rule, step, index: i, tensor });
        });
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    /// `{i}.momentum_buffer` with momentum, then the rule's own.
    fn state(&self) -> Option<Snapshot<T>> {
        let mut out = Snapshot::empty();
        self.buffers.save("momentum_buffer", &mut out);
        self.rule.save(&mut out);
        Some(out)
    }
    fn set_state(&mut self, state: &Snapshot<T>, lens: &[usize]) -> Result<(), StateError> {
        let mut loaded = self.clone();
        loaded.buffers.load("momentum_buffer", state, lens)?;
        loaded.rule.load(state, lens)?;
        // What was taken, saved again, names every tensor of `state`: anything
        // else is not this optimizer's.
        let taken = loaded.state().unwrap_or_else(Snapshot::empty);
        if let Some(extra) = state.entries().iter().find(|e| taken.get(&e.name).is_none()) {
            return Err(StateError::Unexpected { name: extra.name.clone() });
        }
        *self = loaded;
        Ok(())
    }
}

/// An optimizer state that does not fit the optimizer or the model.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The optimizer does not implement [`Optimizer::state`].
    #[error("this optimizer cannot save or restore its state")]
    Unsupported,
    /// A tensor of the state has the wrong kind or length.
    #[error("optimizer state `{name}` should hold {expected}")]
    Tensor {
        /// The state tensor's name, e.g. `"step"`.
        name: String,
        /// What it should hold, in words.
        expected: String,
    },
    /// The state has a tensor this optimizer does not keep (another optimizer's, or momentum it does not use).
    #[error("optimizer state `{name}` belongs to another optimizer")]
    Unexpected {
        /// The state tensor's name.
        name: String,
    },
}

/// Which tensors weight decay applies to.
#[derive(Clone, Copy, Debug, PartialEq)]
struct WeightDecay {
    amount: f64,
    /// When set, biases, norm scales/shifts and slopes are not decayed.
    weights_only: bool,
}

impl WeightDecay {
    fn for_kind(&self, kind: ParamKind) -> f64 {
        if self.weights_only && kind != ParamKind::Weight {
            0.0
        } else {
            self.amount
        }
    }
}

/// Calls `f(index, parameter)` for every parameter, numbering them in visiting order.
struct Each<F> {
    index: usize,
    f: F,
}

impl<T, F: FnMut(usize, ParamMut<'_, T>)> VisitMut<T> for Each<F> {
    fn param(&mut self, p: ParamMut<'_, T>) {
        (self.f)(self.index, p);
        self.index += 1;
    }
}

/// One tensor's update as a kernel, so that [`dispatch`] compiles every
/// rule's loop for the CPU's widest vectors rather than the baseline's four
/// lanes (the rules' arithmetic is unchanged: no fused multiply-add).
struct Update<'a, 'r, T: Float, R: Rule<T>> {
    rule: &'r mut R,
    step: R::Step,
    index: usize,
    tensor: Tensor<'a, T>,
}

impl<T: Float, R: Rule<T>> Kernel for Update<'_, '_, T, R> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        self.rule.update(self.step, self.index, self.tensor)
    }
}

/// Runs `f` on every parameter `visit` shows, with its index in visiting order.
fn for_each_param<T>(visit: &mut dyn FnMut(&mut dyn VisitMut<T>), f: impl FnMut(usize, ParamMut<'_, T>)) {
    visit(&mut Each { index: 0, f });
}
