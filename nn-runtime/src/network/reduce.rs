//! `last` in a `seq` network: the items before it run over every time step
//! (the real steps packed in one batch, see [`Steps`]), `last` keeps each
//! sequence's final step (PyTorch's `h_n` after `bidirectional`), the items
//! after it run on that one vector per sample.

use std::borrow::Cow;

use nalgebra::DMatrixView;

use super::list::{passes_as_a_layer, visits_numbered_items, Items, Number};
use crate::layer::visit_in;
use crate::rnn::{Last, Steps};
use crate::{
    batch::Batch,
    error::ShapeError,
    kernels::Float,
    layer::{Layer, Visit, VisitMut},
};

/// `Before` (`I -> H` per step), then `last` (item number `Before::LEN`),
/// then `After` (`H -> O`).
#[derive(Clone, Debug)]
pub struct Reduce<T: Float, Before, After, const H: usize> {
    before: Before,
    last: Last<T, H>,
    after: After,
}

impl<T: Float, Before, After, const H: usize> Reduce<T, Before, After, H> {
    pub fn new(before: Before, after: After) -> Self {
        Self { before, last: Last::new(), after }
    }

    /// With `last` after `bidirectional`: PyTorch's `h_n` (see [`Last::bidirectional`]).
    pub fn bidirectional(before: Before, after: After) -> Self {
        Self { before, last: Last::bidirectional(), after }
    }
    /// The items before `last`, which run over every time step.
    pub fn before(&self) -> &Before {
        &self.before
    }
    /// The items after `last`.
    pub fn after(&self) -> &After {
        &self.after
    }
}

/// The caller (a network's core) packed the batch as its steps say.
const STAGED: &str = "a sequence batch staged by the network fits its steps";

impl<T, Before, After, const I: usize, const H: usize, const O: usize> Layer<T, I, O> for Reduce<T, Before, After, H>
where
    T: Float,
    Before: Items<T, I, H>,
    After: Items<T, H, O>,
{
    /// A batch without steps is sequences of one step.
    fn forward(&mut self, x: &Batch<T, I>) -> &Batch<T, O> {
        self.forward_steps(x, Steps::none())
    }
    // After `last` a column is a sample: the items there have no steps.
    fn forward_steps(&mut self, x: &Batch<T, I>, steps: &Steps) -> &Batch<T, O> {
        let every = self.before.list_forward(x, steps);
        self.after.list_forward(self.last.forward(every, steps).expect(STAGED), Steps::none())
    }
    fn backward(&mut self, grad: &Batch<T, O>) -> &Batch<T, I> {
        self.before.list_backward(self.last.backward(self.after.list_backward(grad)))
    }
    // A recurrent layer right before `last` takes the last step's gradient as
    // it is, rather than a batch of every step that is zero but for the last.
    fn backward_params(&mut self, grad: &Batch<T, O>) {
        let g = self.after.list_backward(grad);
        if !self.before.list_params_last_step(g) {
            self.before.list_backward_params(self.last.backward(g));
        }
    }
    fn predict(&self, x: &Batch<T, I>) -> Batch<T, O> {
        self.predict_steps(x, Steps::none())
    }
    fn predict_steps(&self, x: &Batch<T, I>, steps: &Steps) -> Batch<T, O> {
        let every = self.before.list_predict(Cow::Borrowed(x), steps);
        let last = self.last.predict(&every, steps).expect(STAGED);
        self.after.list_predict(Cow::Owned(last), Steps::none()).into_owned()
    }
    visits_numbered_items!();
    fn freeze_randomness(&mut self, frozen: bool) {
        self.before.list_freeze(frozen);
        self.after.list_freeze(frozen);
    }
    fn output(&self) -> Option<&Batch<T, O>> {
        self.after.list_output(self.last.output())
    }
    fn input_grad(&self) -> Option<&Batch<T, I>> {
        self.before.list_input_grad(self.last.input_grad())
    }
}

impl<T, Before, After, const I: usize, const H: usize, const O: usize> Items<T, I, O> for Reduce<T, Before, After, H>
where
    T: Float,
    Before: Items<T, I, H>,
    After: Items<T, H, O>,
{
    const LEN: usize = Before::LEN + 1 + After::LEN;
    // Nothing reaches through `last` as a last step's gradient: the `Layer`
    // defaults of `backward_last_step` and `backward_params_last_step` say so.
    passes_as_a_layer!();

    fn visit_items(&self, v: &mut dyn Visit<T>, first: usize) {
        self.before.visit_items(v, first);
        let last = first + Before::LEN;
        visit_in(v, Number::new(last).as_str(), |v| {
            v.item(self.last.output().map(|y| y.as_view()), self.last.input_grad().map(|dx| dx.as_view()));
        });
        self.after.visit_items(v, last + 1);
    }
    fn visit_mut_items(&mut self, v: &mut dyn VisitMut<T>, first: usize) {
        self.before.visit_mut_items(v, first);
        self.after.visit_mut_items(v, first + Before::LEN + 1);
    }
    fn aux_heads(&self) -> usize {
        self.before.aux_heads() + self.after.aux_heads()
    }
    fn aux_output(&self, i: usize) -> Option<(f64, DMatrixView<'_, T>)> {
        match i.checked_sub(self.before.aux_heads()) {
            None => self.before.aux_output(i),
            Some(i) => self.after.aux_output(i),
        }
    }
    fn set_aux_grad(&mut self, i: usize, grad: &DMatrixView<'_, T>) -> Option<Result<(), ShapeError>> {
        match i.checked_sub(self.before.aux_heads()) {
            None => self.before.set_aux_grad(i, grad),
            Some(i) => self.after.set_aux_grad(i, grad),
        }
    }
}
