//! The parts an optimizer is built from: the per-tensor [`Rule`] each one
//! brings, and the pieces of one tensor's step that the rules share. Public
//! only so that [`Optim`](super::Optim) can name them; not reachable from
//! outside the crate.

use super::StateError;
use crate::snapshot::Data;
use crate::{kernels::Float, snapshot::Snapshot};

/// How one optimizer moves a tensor: what SGD, Adam and RMSprop differ in.
/// [`Optim`](super::Optim) computes the shared parts ([`Decay`],
/// [`Momentum`]) and hands each tensor to [`Rule::update`], in visiting order.
pub trait Rule<T: Float>: Clone + std::fmt::Debug {
    /// Weight decay as AdamW applies it: the parameter shrinks by
    /// `lr * weight_decay` before the step, instead of an L2 term in the gradient.
    const DECOUPLED: bool = false;

    /// What a step computes once for all its tensors (the learning rate in
    /// `T`, Adam's bias corrections).
    type Step: Copy;

    /// Starts a step at learning rate `lr`.
    fn begin_step(&mut self, lr: f64) -> Self::Step;

    /// Moves tensor `index` (its position in visiting order, which matches
    /// the rule's own state to it).
    fn update(&mut self, step: Self::Step, index: usize, t: Tensor<'_, T>);

    /// Appends the rule's own state to `out` (a stateless rule has none).
    fn save(&self, _out: &mut Snapshot<T>) {}

    /// Takes back what [`Rule::save`] wrote; parameter `i` has `lens[i]` values.
    fn load(&mut self, _from: &Snapshot<T>, _lens: &[usize]) -> Result<(), StateError> {
        Ok(())
    }
}

/// Marks the rules that take heavy-ball momentum (SGD, RMSprop; Adam's first
/// moment is its own).
pub trait WithMomentum {}

/// One tensor as a [`Rule`] sees it.
pub struct Tensor<'a, T> {
    pub value: &'a mut [T],
    pub grad: &'a [T],
    /// This tensor's weight decay.
    pub decay: Decay<T>,
    /// Its momentum buffer, when momentum is on.
    pub momentum: Option<Momentum<'a, T>>,
}

/// Weight decay of one tensor, applied element by element.
#[derive(Clone, Copy, Debug)]
pub struct Decay<T> {
    /// `1 - lr * weight_decay` when decoupled (AdamW), else 1.
    pub shrink: T,
    /// `weight_decay` when it is an L2 term in the gradient, else 0.
    pub l2: T,
}

impl<T: Float> Decay<T> {
    /// Shrinks the parameter `v` and returns its gradient `g` with the L2 term.
    #[inline(always)]
    pub fn apply(&self, v: &mut T, g: T) -> T {
        *v *= self.shrink;
        g + self.l2 * *v
    }
}

/// The heavy-ball momentum buffer of one tensor (dampening 0, as torch's
/// defaults): `b = factor * b + d` for the step direction `d`.
pub struct Momentum<'a, T> {
    pub factor: T,
    pub buffer: &'a mut [T],
    /// Whether the buffer was just created (zero). torch's SGD then starts it
    /// at the first `d`; RMSprop's starts at zero either way.
    pub fresh: bool,
}

/// Per-tensor state vectors, created zeroed the first time a tensor is seen.
#[derive(Clone, Debug, Default)]
pub struct Slots<T> {
    tensors: Vec<Vec<T>>,
}

impl<T: Float> Slots<T> {
    /// The state of tensor `index` with `len` elements, and whether it was just created.
    pub fn get(&mut self, index: usize, len: usize) -> (&mut [T], bool) {
        let fresh = index >= self.tensors.len() || self.tensors[index].len() != len;
        if index >= self.tensors.len() {
            self.tensors.resize_with(index + 1, Vec::new);
        }
        if fresh {
            self.tensors[index] = vec![T::zero(); len];
        }
        (&mut self.tensors[index], fresh)
    }

    /// Appends each tensor's state as `{index}.{what}`, torch's state name
    /// (empty for a tensor not stepped yet).
    pub fn save(&self, what: &str, out: &mut Snapshot<T>) {
        for (i, t) in self.tensors.iter().enumerate() {
            out.push(format!("{i}.{what}"), vec![t.len()], Data::Buffer(t.clone()));
        }
    }

    /// Takes back what [`Slots::save`] wrote, each tensor's state empty or of
    /// its parameter's length (`lens`, in visiting order).
    pub fn load(&mut self, what: &str, from: &Snapshot<T>, lens: &[usize]) -> Result<(), StateError> {
        let mut tensors = Vec::new();
        while let Some(e) = from.get(&format!("{}.{what}", tensors.len())) {
            let i = tensors.len();
            let values = e.data.floats().filter(|_| i < lens.len());
            match values {
                Some(v) if v.is_empty() || v.len() == lens[i] => tensors.push(v.to_vec()),
                _ => {
                    let expected =
                        lens.get(i).map_or("no tensor (the model has fewer)".into(), |n| format!("{n} values"));
                    return Err(StateError::Tensor { name: e.name.clone(), expected });
                }
            }
        }
        self.tensors = tensors;
        Ok(())
    }
}
