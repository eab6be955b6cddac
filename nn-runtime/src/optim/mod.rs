//! Optimizers with torch.optim's update rules and defaults, and learning-rate
//! schedules that drive any of them through [`Optimizer::set_lr`].
//!
//! An optimizer sees the model through [`VisitMut`] and matches its state to
//! parameter tensors by visiting order. State is allocated at the first step
//! and reused after, so a step allocates nothing.

mod adam;
mod rmsprop;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamW};
pub use rmsprop::RmsProp;
pub use schedule::{Schedule, Scheduler};
pub use sgd::Sgd;

use crate::layer::ParamMut;
use crate::{Float, Model, ParamKind, VisitMut};

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

    /// One update of `model`'s parameters from its gradients.
    fn step<M: Model<T>>(&mut self, model: &mut M)
    where
        Self: Sized,
    {
        self.step_with(&mut |v| model.visit_mut(v));
    }
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

/// Per-tensor state vectors, created zeroed the first time a tensor is seen.
#[derive(Clone, Debug, Default)]
struct Slots<T> {
    tensors: Vec<Vec<T>>,
}

impl<T: Float> Slots<T> {
    /// The state of tensor `index` with `len` elements, and whether it was just created.
    fn get(&mut self, index: usize, len: usize) -> (&mut [T], bool) {
        let fresh = index >= self.tensors.len() || self.tensors[index].len() != len;
        if index >= self.tensors.len() {
            self.tensors.resize_with(index + 1, Vec::new);
        }
        if fresh {
            self.tensors[index] = vec![T::zero(); len];
        }
        (&mut self.tensors[index], fresh)
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

/// Runs `f` on every parameter `visit` shows, with its index in visiting order.
fn for_each_param<T>(visit: &mut dyn FnMut(&mut dyn VisitMut<T>), f: impl FnMut(usize, ParamMut<'_, T>)) {
    visit(&mut Each { index: 0, f });
}
