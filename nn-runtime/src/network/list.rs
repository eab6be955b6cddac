//! Item lists: the body of a network or of a block, as one generic type per
//! list instead of a struct generated for each. `Then<A, Rest, M>` is item
//! `A` (output width `M`) followed by the list `Rest`, and [`End`] the list
//! of no items: `dense(8), relu` is `Then<Dense<T, I, 8>, Then<Activation<T,
//! Relu, 8>, End, 8>, 8>`. A list numbers its items from 0 when it shows its
//! parameters, so `dense(8), relu, dense(2)` visits its weights as
//! `"0.weight"` and `"2.weight"`, as an `nn.Sequential` would, and a block
//! visits its body without adding a naming level. Under its number, each item
//! is shown to [`Visit::item`] before its parameters: that is how diagnostics
//! see every item at every depth, named as its parameters are.
//!
//! The slot `S` says how the item sits in the list: [`Head`] for an
//! `aux_head`, whose output and gradient the network's `Model` hooks reach;
//! [`Splice`] for a run of items given as a list of its own.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use nalgebra::DMatrixView;

use crate::layer::{visit_in, visit_mut_in};
use crate::rnn::Steps;
use crate::{
    batch::Batch,
    blocks::AuxHead,
    error::ShapeError,
    kernels::Float,
    layer::{Layer, Visit, VisitMut},
};

/// A list of items from `I` to `O` features, possibly empty ([`End`]),
/// numbered for names. Its passes lend a batch for as long as
/// both the list and the batch live, so that the empty list hands on what
/// it is given without a copy; a non-empty list is also a [`Layer`], whose
/// methods these are.
pub trait Items<T: Float, const I: usize, const O: usize> {
    /// How many items the list has (the number of the item after it).
    const LEN: usize;

    /// [`Layer::forward_steps`].
    fn list_forward<'a>(&'a mut self, x: &'a Batch<T, I>, steps: &Steps) -> &'a Batch<T, O>;
    /// [`Layer::backward`].
    fn list_backward<'a>(&'a mut self, grad: &'a Batch<T, O>) -> &'a Batch<T, I>;
    /// [`Layer::backward_params`].
    fn list_backward_params(&mut self, grad: &Batch<T, O>);
    /// [`Layer::backward_last_step`], or `Here` from the empty list: the
    /// item before it is the one that takes the last step's gradient.
    fn list_last_step<'a>(&'a mut self, grad: &'a Batch<T, O>) -> LastStep<'a, T, I>;
    /// [`Layer::backward_params_last_step`]; the empty list has nothing to do.
    fn list_params_last_step(&mut self, grad: &Batch<T, O>) -> bool;
    /// [`Layer::predict_steps`] (the empty list gives back `x`, lent or owned as it came).
    fn list_predict<'a>(&self, x: Cow<'a, Batch<T, I>>, steps: &Steps) -> Cow<'a, Batch<T, O>>;
    /// [`Layer::output`]; the empty list's is `before`'s, the output of what precedes it.
    fn list_output<'a>(&'a self, before: Option<&'a Batch<T, I>>) -> Option<&'a Batch<T, O>>;
    /// [`Layer::input_grad`]; the empty list's is `after`'s, that of what follows it.
    fn list_input_grad<'a>(&'a self, after: Option<&'a Batch<T, O>>) -> Option<&'a Batch<T, I>>;
    /// [`Layer::freeze_randomness`].
    fn list_freeze(&mut self, frozen: bool);

    /// Shows each item ([`Visit::item`]) and its parameters under its
    /// number, counting from `first`.
    fn visit_items(&self, v: &mut dyn Visit<T>, first: usize);
    /// The mutable twin of [`Items::visit_items`], same order.
    fn visit_mut_items(&mut self, v: &mut dyn VisitMut<T>, first: usize);

    /// How many auxiliary heads the list has.
    fn aux_heads(&self) -> usize;
    /// Head `i`'s loss weight and output.
    fn aux_output(&self, i: usize) -> Option<(f64, DMatrixView<'_, T>)>;
    /// Sets dL/d(output of head `i`); `None` if there is no head `i`.
    fn set_aux_grad(&mut self, i: usize, grad: &DMatrixView<'_, T>) -> Option<Result<(), ShapeError>>;
}

/// In the [`Layer`] impl of a non-empty list: its parameters are its items', numbered from 0.
macro_rules! visits_numbered_items {
    () => {
        fn visit(&self, v: &mut dyn crate::layer::Visit<T>) {
            self.visit_items(v, 0);
        }
        fn visit_mut(&mut self, v: &mut dyn crate::layer::VisitMut<T>) {
            self.visit_mut_items(v, 0);
        }
    };
}

/// In the [`Items`] impl of a non-empty list: its passes are its [`Layer`] methods.
macro_rules! passes_as_a_layer {
    () => {
        fn list_forward<'a>(&'a mut self, x: &'a Batch<T, I>, steps: &crate::rnn::Steps) -> &'a Batch<T, O> {
            self.forward_steps(x, steps)
        }
        fn list_backward<'a>(&'a mut self, grad: &'a Batch<T, O>) -> &'a Batch<T, I> {
            self.backward(grad)
        }
        fn list_backward_params(&mut self, grad: &Batch<T, O>) {
            self.backward_params(grad);
        }
        fn list_last_step<'a>(&'a mut self, grad: &'a Batch<T, O>) -> crate::network::LastStep<'a, T, I> {
            use crate::network::LastStep;
            self.backward_last_step(grad).map_or(LastStep::Spread, LastStep::Through)
        }
        fn list_params_last_step(&mut self, grad: &Batch<T, O>) -> bool {
            self.backward_params_last_step(grad)
        }
        fn list_predict<'a>(
            &self,
            x: std::borrow::Cow<'a, Batch<T, I>>,
            steps: &crate::rnn::Steps,
        ) -> std::borrow::Cow<'a, Batch<T, O>> {
            std::borrow::Cow::Owned(self.predict_steps(&x, steps))
        }
        fn list_output<'a>(&'a self, _before: Option<&'a Batch<T, I>>) -> Option<&'a Batch<T, O>> {
            self.output()
        }
        fn list_input_grad<'a>(&'a self, _after: Option<&'a Batch<T, O>>) -> Option<&'a Batch<T, I>> {
            self.input_grad()
        }
        fn list_freeze(&mut self, frozen: bool) {
            self.freeze_randomness(frozen);
        }
    };
}

pub(super) use {passes_as_a_layer, visits_numbered_items};

/// What became of a gradient for the last step only, handed to a list (see
/// [`Layer::backward_last_step`]).
pub enum LastStep<'a, T: Float, const I: usize> {
    /// The list is empty: the item before it is the one to take the gradient.
    Here(&'a Batch<T, I>),
    /// Its last item took it: dL/d(list input).
    Through(&'a Batch<T, I>),
    /// Its last item has no such shortcut and did nothing.
    Spread,
}

/// How an item `A` (`I -> M`) sits in a list: what it is to the network
/// besides a layer ([`Plain`], [`Head`]), or a list of items itself whose
/// items count as the enclosing list's ([`Splice`]).
pub trait Slot<T: Float, A, const I: usize, const M: usize> {
    /// How many of the list's items it is.
    const LEN: usize;
    fn visit_items(item: &A, v: &mut dyn Visit<T>, first: usize);
    fn visit_mut_items(item: &mut A, v: &mut dyn VisitMut<T>, first: usize);
    fn aux_heads(_item: &A) -> usize {
        0
    }
    fn aux_output(_item: &A, _i: usize) -> Option<(f64, DMatrixView<'_, T>)> {
        None
    }
    fn set_aux_grad(_item: &mut A, _i: usize, _grad: &DMatrixView<'_, T>) -> Option<Result<(), ShapeError>> {
        None
    }
}

/// An item that is only a layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

/// An `aux_head`: its output and gradient are reached by number.
#[derive(Clone, Copy, Debug, Default)]
pub struct Head;

/// A run of items given as a list of its own, which the generator uses to
/// keep the types of long lists shallow (the compiler proves a list's bounds
/// item by item, to a limited depth). Its items are numbered as the
/// enclosing list's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Splice;

impl<T: Float, A: Layer<T, I, M>, const I: usize, const M: usize> Slot<T, A, I, M> for Plain {
    const LEN: usize = 1;
    fn visit_items(item: &A, v: &mut dyn Visit<T>, first: usize) {
        visit_in(v, Number::new(first).as_str(), |v| {
            v.item(item.output().map(|y| y.as_view()), item.input_grad().map(|dx| dx.as_view()));
            item.visit(v);
        });
    }
    fn visit_mut_items(item: &mut A, v: &mut dyn VisitMut<T>, first: usize) {
        visit_mut_in(v, Number::new(first).as_str(), |v| item.visit_mut(v));
    }
}

impl<T: Float, B: Layer<T, N, O>, const N: usize, const O: usize> Slot<T, AuxHead<T, B, N, O>, N, N> for Head {
    const LEN: usize = 1;
    fn visit_items(item: &AuxHead<T, B, N, O>, v: &mut dyn Visit<T>, first: usize) {
        <Plain as Slot<T, _, N, N>>::visit_items(item, v, first);
    }
    fn visit_mut_items(item: &mut AuxHead<T, B, N, O>, v: &mut dyn VisitMut<T>, first: usize) {
        <Plain as Slot<T, _, N, N>>::visit_mut_items(item, v, first);
    }
    fn aux_heads(_item: &AuxHead<T, B, N, O>) -> usize {
        1
    }
    fn aux_output(item: &AuxHead<T, B, N, O>, i: usize) -> Option<(f64, DMatrixView<'_, T>)> {
        (i == 0).then(|| (item.weight(), item.output().as_view()))
    }
    fn set_aux_grad(
        item: &mut AuxHead<T, B, N, O>,
        i: usize,
        grad: &DMatrixView<'_, T>,
    ) -> Option<Result<(), ShapeError>> {
        (i == 0).then(|| item.set_grad(grad))
    }
}

impl<T: Float, A: Items<T, I, M>, const I: usize, const M: usize> Slot<T, A, I, M> for Splice {
    const LEN: usize = A::LEN;
    fn visit_items(item: &A, v: &mut dyn Visit<T>, first: usize) {
        item.visit_items(v, first);
    }
    fn visit_mut_items(item: &mut A, v: &mut dyn VisitMut<T>, first: usize) {
        item.visit_mut_items(v, first);
    }
    fn aux_heads(item: &A) -> usize {
        item.aux_heads()
    }
    fn aux_output(item: &A, i: usize) -> Option<(f64, DMatrixView<'_, T>)> {
        item.aux_output(i)
    }
    fn set_aux_grad(item: &mut A, i: usize, grad: &DMatrixView<'_, T>) -> Option<Result<(), ShapeError>> {
        item.set_aux_grad(i, grad)
    }
}

/// The name of item `k`, formatted without allocating (optimizers visit every step).
pub(super) struct Number {
    digits: [u8; 20],
    start: usize,
}

impl Number {
    pub(super) fn new(mut k: usize) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (k % 10) as u8;
            k /= 10;
            if k == 0 {
                break;
            }
        }
        Number { digits, start }
    }

    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[self.start..]).expect("ASCII digits")
    }
}

/// Item `A` (`I -> M`) followed by the list `Rest` (`M -> O`).
pub struct Then<A, Rest, const M: usize, S = Plain> {
    head: A,
    rest: Rest,
    slot: PhantomData<S>,
}

impl<A, Rest, const M: usize, S> Then<A, Rest, M, S> {
    pub fn new(head: A, rest: Rest) -> Self {
        Self { head, rest, slot: PhantomData }
    }
    /// The first item.
    pub fn head(&self) -> &A {
        &self.head
    }
    /// The items after it.
    pub fn rest(&self) -> &Rest {
        &self.rest
    }
}

impl<A: Clone, Rest: Clone, const M: usize, S> Clone for Then<A, Rest, M, S> {
    fn clone(&self) -> Self {
        Self::new(self.head.clone(), self.rest.clone())
    }
}

impl<A: fmt::Debug, Rest: fmt::Debug, const M: usize, S> fmt::Debug for Then<A, Rest, M, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Then").field("head", &self.head).field("rest", &self.rest).finish()
    }
}

impl<T, A, Rest, S, const I: usize, const M: usize, const O: usize> Layer<T, I, O> for Then<A, Rest, M, S>
where
    T: Float,
    A: Layer<T, I, M>,
    Rest: Items<T, M, O>,
    S: Slot<T, A, I, M>,
{
    fn forward(&mut self, x: &Batch<T, I>) -> &Batch<T, O> {
        self.forward_steps(x, Steps::none())
    }
    fn forward_steps(&mut self, x: &Batch<T, I>, steps: &Steps) -> &Batch<T, O> {
        self.rest.list_forward(self.head.forward_steps(x, steps), steps)
    }
    fn backward(&mut self, grad: &Batch<T, O>) -> &Batch<T, I> {
        self.head.backward(self.rest.list_backward(grad))
    }
    fn backward_params(&mut self, grad: &Batch<T, O>) {
        self.head.backward_params(self.rest.list_backward(grad));
    }
    fn backward_last_step(&mut self, grad: &Batch<T, O>) -> Option<&Batch<T, I>> {
        match self.rest.list_last_step(grad) {
            LastStep::Here(g) => self.head.backward_last_step(g),
            LastStep::Through(g) => Some(self.head.backward(g)),
            LastStep::Spread => None,
        }
    }
    fn backward_params_last_step(&mut self, grad: &Batch<T, O>) -> bool {
        match self.rest.list_last_step(grad) {
            LastStep::Here(g) => self.head.backward_params_last_step(g),
            LastStep::Through(g) => {
                self.head.backward_params(g);
                true
            }
            LastStep::Spread => false,
        }
    }
    fn predict(&self, x: &Batch<T, I>) -> Batch<T, O> {
        self.predict_steps(x, Steps::none())
    }
    fn predict_steps(&self, x: &Batch<T, I>, steps: &Steps) -> Batch<T, O> {
        self.rest.list_predict(Cow::Owned(self.head.predict_steps(x, steps)), steps).into_owned()
    }
    visits_numbered_items!();
    fn freeze_randomness(&mut self, frozen: bool) {
        self.head.freeze_randomness(frozen);
        self.rest.list_freeze(frozen);
    }
    fn output(&self) -> Option<&Batch<T, O>> {
        self.rest.list_output(self.head.output())
    }
    fn input_grad(&self) -> Option<&Batch<T, I>> {
        self.head.input_grad()
    }
}

impl<T, A, Rest, S, const I: usize, const M: usize, const O: usize> Items<T, I, O> for Then<A, Rest, M, S>
where
    T: Float,
    A: Layer<T, I, M>,
    Rest: Items<T, M, O>,
    S: Slot<T, A, I, M>,
{
    const LEN: usize = S::LEN + Rest::LEN;
    passes_as_a_layer!();

    fn visit_items(&self, v: &mut dyn Visit<T>, first: usize) {
        S::visit_items(&self.head, v, first);
        self.rest.visit_items(v, first + S::LEN);
    }
    fn visit_mut_items(&mut self, v: &mut dyn VisitMut<T>, first: usize) {
        S::visit_mut_items(&mut self.head, v, first);
        self.rest.visit_mut_items(v, first + S::LEN);
    }
    fn aux_heads(&self) -> usize {
        S::aux_heads(&self.head) + self.rest.aux_heads()
    }
    fn aux_output(&self, i: usize) -> Option<(f64, DMatrixView<'_, T>)> {
        match i.checked_sub(S::aux_heads(&self.head)) {
            None => S::aux_output(&self.head, i),
            Some(i) => self.rest.aux_output(i),
        }
    }
    fn set_aux_grad(&mut self, i: usize, grad: &DMatrixView<'_, T>) -> Option<Result<(), ShapeError>> {
        match i.checked_sub(S::aux_heads(&self.head)) {
            None => S::set_aux_grad(&mut self.head, i, grad),
            Some(i) => self.rest.set_aux_grad(i, grad),
        }
    }
}

/// The list of no items, `N -> N`: what ends every list, and what stands
/// before `last` when it is the first item of a `seq` network, or after it
/// when it is the last. It hands on what it is given.
#[derive(Clone, Copy, Debug, Default)]
pub struct End;

impl<T: Float, const N: usize> Items<T, N, N> for End {
    const LEN: usize = 0;

    fn list_forward<'a>(&'a mut self, x: &'a Batch<T, N>, _steps: &Steps) -> &'a Batch<T, N> {
        x
    }
    fn list_backward<'a>(&'a mut self, grad: &'a Batch<T, N>) -> &'a Batch<T, N> {
        grad
    }
    fn list_backward_params(&mut self, _grad: &Batch<T, N>) {}
    fn list_last_step<'a>(&'a mut self, grad: &'a Batch<T, N>) -> LastStep<'a, T, N> {
        LastStep::Here(grad)
    }
    fn list_params_last_step(&mut self, _grad: &Batch<T, N>) -> bool {
        true
    }
    fn list_predict<'a>(&self, x: Cow<'a, Batch<T, N>>, _steps: &Steps) -> Cow<'a, Batch<T, N>> {
        x
    }
    fn list_output<'a>(&'a self, before: Option<&'a Batch<T, N>>) -> Option<&'a Batch<T, N>> {
        before
    }
    fn list_input_grad<'a>(&'a self, after: Option<&'a Batch<T, N>>) -> Option<&'a Batch<T, N>> {
        after
    }
    fn list_freeze(&mut self, _frozen: bool) {}

    fn visit_items(&self, _v: &mut dyn Visit<T>, _first: usize) {}
    fn visit_mut_items(&mut self, _v: &mut dyn VisitMut<T>, _first: usize) {}
    fn aux_heads(&self) -> usize {
        0
    }
    fn aux_output(&self, _i: usize) -> Option<(f64, DMatrixView<'_, T>)> {
        None
    }
    fn set_aux_grad(&mut self, _i: usize, _grad: &DMatrixView<'_, T>) -> Option<Result<(), ShapeError>> {
        None
    }
}

/// The body of a network whose declaration has errors. It has no values, so
/// such a network can never be built: the build stops at the errors, and the
/// network's struct and API only keep the rest of the user's code quiet.
#[derive(Clone, Copy, Debug)]
pub enum Unbuilt {}

impl<T: Float, const I: usize, const O: usize> Layer<T, I, O> for Unbuilt {
    fn forward(&mut self, _x: &Batch<T, I>) -> &Batch<T, O> {
        match *self {}
    }
    fn backward(&mut self, _grad: &Batch<T, O>) -> &Batch<T, I> {
        match *self {}
    }
    fn predict(&self, _x: &Batch<T, I>) -> Batch<T, O> {
        match *self {}
    }
}

impl<T: Float, const I: usize, const O: usize> Items<T, I, O> for Unbuilt {
    const LEN: usize = 0;

    fn list_forward<'a>(&'a mut self, _x: &'a Batch<T, I>, _steps: &Steps) -> &'a Batch<T, O> {
        match *self {}
    }
    fn list_backward<'a>(&'a mut self, _grad: &'a Batch<T, O>) -> &'a Batch<T, I> {
        match *self {}
    }
    fn list_backward_params(&mut self, _grad: &Batch<T, O>) {
        match *self {}
    }
    fn list_last_step<'a>(&'a mut self, _grad: &'a Batch<T, O>) -> LastStep<'a, T, I> {
        match *self {}
    }
    fn list_params_last_step(&mut self, _grad: &Batch<T, O>) -> bool {
        match *self {}
    }
    fn list_predict<'a>(&self, _x: Cow<'a, Batch<T, I>>, _steps: &Steps) -> Cow<'a, Batch<T, O>> {
        match *self {}
    }
    fn list_output<'a>(&'a self, _before: Option<&'a Batch<T, I>>) -> Option<&'a Batch<T, O>> {
        match *self {}
    }
    fn list_input_grad<'a>(&'a self, _after: Option<&'a Batch<T, O>>) -> Option<&'a Batch<T, I>> {
        match *self {}
    }
    fn list_freeze(&mut self, _frozen: bool) {
        match *self {}
    }
    fn visit_items(&self, _v: &mut dyn Visit<T>, _first: usize) {
        match *self {}
    }
    fn visit_mut_items(&mut self, _v: &mut dyn VisitMut<T>, _first: usize) {
        match *self {}
    }
    fn aux_heads(&self) -> usize {
        match *self {}
    }
    fn aux_output(&self, _i: usize) -> Option<(f64, DMatrixView<'_, T>)> {
        match *self {}
    }
    fn set_aux_grad(&mut self, _i: usize, _grad: &DMatrixView<'_, T>) -> Option<Result<(), ShapeError>> {
        match *self {}
    }
}
