//! [`Core`]: everything a generated network does beyond its layers, written
//! once: the batch-size checks, the copies between the typed API and the
//! `Model` view, the refusals of bad input as [`ShapeError`]s, the
//! auxiliary-head hooks and the probes. A generated network owns one and
//! delegates each method of its API to the method of the same name here.
//!
//! A refusal is an error from the `try_` methods and the `Model` view, and a
//! panic with the same message from the typed method without `try_`, which
//! has no other way to say it (it used to return an empty batch).

use std::fmt;

use nalgebra::{DMatrix, DMatrixView};

use super::kinds::{InputKind, OutputKind, Vector};
use super::list::Items;
use crate::item::ItemInfo;
use crate::layer::{NamePath, ParamRef, ZeroGrad};
use crate::rnn::Steps;
use crate::{
    batch::Batch,
    error::ShapeError,
    kernels::Float,
    layer::{Layer, Visit, VisitMut},
    model::Probe,
};

/// The body `B` (`I -> O` features) of a network with input kind `In` and
/// output kind `Out`, with the state its API keeps between calls.
pub struct Core<T: Float, B, const I: usize, const O: usize, In: InputKind = Vector, Out: OutputKind = Vector> {
    body: B,
    /// Every item, in visiting order, as the macro describes it.
    items: &'static [ItemInfo],
    /// Samples of the last training forward; `None` before the first, and
    /// after a refused one (whose layers did not run).
    forward_cols: Option<usize>,
    input: In::State<T, I>,
    output: Out::State<T, O>,
}

impl<T: Float, B: Clone, const I: usize, const O: usize, In: InputKind, Out: OutputKind> Clone
    for Core<T, B, I, O, In, Out>
{
    fn clone(&self) -> Self {
        Self {
            body: self.body.clone(),
            items: self.items,
            forward_cols: self.forward_cols,
            input: self.input.clone(),
            output: self.output.clone(),
        }
    }
}

impl<T: Float, B: fmt::Debug, const I: usize, const O: usize, In: InputKind, Out: OutputKind> fmt::Debug
    for Core<T, B, I, O, In, Out>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core").field("body", &self.body).field("forward_cols", &self.forward_cols).finish()
    }
}

type Grads<T, In, const I: usize> = <In as InputKind>::Grads<T, I>;
type Owned<T, In, const I: usize> = <Grads<T, In, I> as ToOwned>::Owned;
type Output<T, Out, const O: usize> = <Out as OutputKind>::Data<T, O>;

impl<T, B, const I: usize, const O: usize, In, Out> Core<T, B, I, O, In, Out>
where
    T: Float,
    B: Layer<T, I, O> + Items<T, I, O>,
    In: InputKind,
    Out: OutputKind,
{
    /// The core of `body`, whose items (at every depth, in visiting order) `items` describes.
    pub fn new(body: B, items: &'static [ItemInfo]) -> Self {
        Self { body, items, forward_cols: None, input: Default::default(), output: Default::default() }
    }

    /// Refuses a training batch of `cols` samples that an item cannot train
    /// on: one sample for a `batch_norm` with one value per channel. The
    /// layers have not run, so there is nothing to go back through.
    fn check_training(&mut self, cols: usize) -> Result<(), ShapeError> {
        match self.items.iter().find(|i| i.one_value_per_channel) {
            Some(item) if cols == 1 => {
                self.forward_cols = None;
                Err(ShapeError::OneValuePerChannel { item: item.path })
            }
            _ => Ok(()),
        }
    }

    /// The network's items (for `nn::export`).
    pub fn body(&self) -> &B {
        &self.body
    }

    /// Refuses a gradient before any forward or for another batch size.
    fn check_batch(&self, cols: usize) -> Result<(), ShapeError> {
        match self.forward_cols {
            None => Err(ShapeError::NoForward),
            Some(n) if n != cols => Err(ShapeError::BatchSize { forward: n, backward: cols }),
            Some(_) => Ok(()),
        }
    }

    /// The samples of a staged batch.
    fn samples(x: &Batch<T, I>, steps: &Steps) -> usize {
        if steps.is_none() {
            x.ncols()
        } else {
            steps.samples()
        }
    }

    /// The training forward of a staged input.
    fn run(&mut self, x: &In::Data<T, I>) -> &Output<T, Out, O> {
        let (x, steps) = (In::staged(x, &self.input), In::steps(&self.input));
        self.forward_cols = Some(Self::samples(x, steps));
        let y = self.body.forward_steps(x, steps);
        Out::present(y, steps, &mut self.output)
    }

    /// Training-mode forward: caches what backward needs; the output stays here.
    pub fn try_forward_ref(&mut self, x: &In::Data<T, I>) -> Result<&Output<T, Out, O>, ShapeError> {
        In::stage(x, None, &mut self.input)?;
        self.check_training(Self::samples(In::staged(x, &self.input), In::steps(&self.input)))?;
        Ok(self.run(x))
    }

    /// [`Core::try_forward_ref`], panicking for an input it refuses.
    pub fn forward_ref(&mut self, x: &In::Data<T, I>) -> &Output<T, Out, O> {
        self.try_forward_ref(x).unwrap_or_else(|e| refused("forward", e))
    }

    pub fn try_forward(&mut self, x: &In::Data<T, I>) -> Result<<Output<T, Out, O> as ToOwned>::Owned, ShapeError> {
        self.try_forward_ref(x).map(ToOwned::to_owned)
    }

    pub fn forward(&mut self, x: &In::Data<T, I>) -> <Output<T, Out, O> as ToOwned>::Owned {
        self.forward_ref(x).to_owned()
    }

    /// Training-mode forward of sequences of different lengths: `x` padded
    /// to its steps, `lengths[j]` the real steps of sample `j`.
    pub fn forward_padded_ref(
        &mut self,
        x: &In::Data<T, I>,
        lengths: &[usize],
    ) -> Result<&Output<T, Out, O>, ShapeError> {
        In::stage(x, Some(lengths), &mut self.input)?;
        self.check_training(Self::samples(In::staged(x, &self.input), In::steps(&self.input)))?;
        Ok(self.run(x))
    }

    pub fn forward_padded(
        &mut self,
        x: &In::Data<T, I>,
        lengths: &[usize],
    ) -> Result<<Output<T, Out, O> as ToOwned>::Owned, ShapeError> {
        self.forward_padded_ref(x, lengths).map(ToOwned::to_owned)
    }

    /// The body's backward for dL/dy of the last forward; dL/dx with `grads`.
    fn back(&mut self, grad: &Output<T, Out, O>, grads: bool) -> Result<Option<&Grads<T, In, I>>, ShapeError> {
        self.check_batch(Out::grad_cols(grad))?;
        let g = Out::intake(grad, In::steps(&self.input), &mut self.output)?;
        if !grads {
            self.body.backward_params(g);
            return Ok(None);
        }
        let dx = self.body.backward(g);
        Ok(Some(In::grads(dx, &mut self.input)))
    }

    /// Adds the parameter gradients for dL/dy of the last forward and returns
    /// dL/dx; for a gradient that does not fit, touches nothing and panics.
    pub fn backward_ref(&mut self, grad: &Output<T, Out, O>) -> &Grads<T, In, I> {
        match self.back(grad, true) {
            Ok(dx) => dx.expect("asked for dL/dx"),
            Err(e) => refused("backward", e),
        }
    }

    pub fn backward(&mut self, grad: &Output<T, Out, O>) -> Owned<T, In, I> {
        self.backward_ref(grad).to_owned()
    }

    pub fn try_backward(&mut self, grad: &Output<T, Out, O>) -> Result<Owned<T, In, I>, ShapeError> {
        Ok(self.back(grad, true)?.expect("asked for dL/dx").to_owned())
    }

    /// The parameter gradients of [`Core::backward`] without dL/dx, which a
    /// training step does not read (see `Layer::backward_params`).
    pub fn backward_params(&mut self, grad: &Output<T, Out, O>) -> Result<(), ShapeError> {
        self.back(grad, false).map(drop)
    }

    /// Evaluation-mode forward.
    pub fn try_predict(&self, x: &In::Data<T, I>) -> Result<<Output<T, Out, O> as ToOwned>::Owned, ShapeError> {
        let (x, steps) = In::stage_owned(x, None)?;
        Ok(Out::predicted(self.body.predict_steps(&x, &steps), &steps))
    }

    /// [`Core::try_predict`], panicking for an input it refuses.
    pub fn predict(&self, x: &In::Data<T, I>) -> <Output<T, Out, O> as ToOwned>::Owned {
        self.try_predict(x).unwrap_or_else(|e| refused("predict", e))
    }

    /// Evaluation-mode forward of sequences of different lengths (see [`Core::forward_padded_ref`]).
    pub fn predict_padded(
        &self,
        x: &In::Data<T, I>,
        lengths: &[usize],
    ) -> Result<<Output<T, Out, O> as ToOwned>::Owned, ShapeError> {
        let (x, steps) = In::stage_owned(x, Some(lengths))?;
        Ok(Out::predicted(self.body.predict_steps(&x, &steps), &steps))
    }

    pub fn zero_grad(&mut self) {
        self.body.visit_mut(&mut ZeroGrad);
    }

    // What the network's `Model` implementation calls.

    pub fn visit(&self, v: &mut dyn Visit<T>) {
        self.body.visit(v);
    }

    pub fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        self.body.visit_mut(v);
    }

    /// `Model::forward_view` (`lengths: None`) and `Model::forward_seq_view`.
    pub fn forward_view(
        &mut self,
        x: DMatrixView<'_, T>,
        lengths: Option<&[usize]>,
    ) -> Result<DMatrixView<'_, T>, ShapeError> {
        In::stage_view(&x, lengths, &mut self.input)?;
        self.check_training(Self::samples(In::staged_view(&self.input), In::steps(&self.input)))?;
        let (x, steps) = (In::staged_view(&self.input), In::steps(&self.input));
        self.forward_cols = Some(Self::samples(x, steps));
        let y = self.body.forward_steps(x, steps);
        Ok(Out::output_view(y, steps, &mut self.output))
    }

    /// The body's backward for a `Model` gradient; dL/dx with `grads`.
    fn back_view(&mut self, grad: DMatrixView<'_, T>, grads: bool) -> Result<Option<DMatrixView<'_, T>>, ShapeError> {
        self.check_batch(grad.ncols())?;
        Out::intake_view(&grad, In::steps(&self.input), &mut self.output)?;
        let g = Out::grad_of_view(&self.output);
        if !grads {
            self.body.backward_params(g);
            return Ok(None);
        }
        let dx = self.body.backward(g);
        Ok(Some(In::grads_view(dx, &mut self.input)))
    }

    pub fn backward_view(&mut self, grad: DMatrixView<'_, T>) -> Result<DMatrixView<'_, T>, ShapeError> {
        Ok(self.back_view(grad, true)?.expect("asked for dL/dx"))
    }

    pub fn backward_params_view(&mut self, grad: DMatrixView<'_, T>) -> Result<(), ShapeError> {
        self.back_view(grad, false).map(drop)
    }

    /// `Model::predict_view` (`lengths: None`) and `Model::predict_seq_view`.
    pub fn predict_view(&self, x: DMatrixView<'_, T>, lengths: Option<&[usize]>) -> Result<DMatrix<T>, ShapeError> {
        let (x, steps) = In::stage_view_owned(&x, lengths)?;
        Ok(Out::predicted_view(self.body.predict_steps(&x, &steps), &steps))
    }

    pub fn freeze_randomness(&mut self, frozen: bool) {
        self.body.freeze_randomness(frozen);
    }

    pub fn aux_heads(&self) -> usize {
        self.body.aux_heads()
    }

    pub fn aux_output(&self, i: usize) -> Option<(f64, DMatrixView<'_, T>)> {
        self.body.aux_output(i)
    }

    pub fn set_aux_grad(&mut self, i: usize, grad: DMatrixView<'_, T>) -> Result<(), ShapeError> {
        let heads = self.aux_heads();
        if i >= heads {
            return Err(ShapeError::NoSuchAuxHead { index: i, heads });
        }
        self.check_batch(grad.ncols())?;
        self.body.set_aux_grad(i, &grad).unwrap_or(Err(ShapeError::NoSuchAuxHead { index: i, heads }))
    }

    /// Shows every item, at every depth and in visiting order, to `f`.
    pub fn probe(&self, f: &mut dyn FnMut(Probe<'_, T>)) {
        self.body.visit(&mut Probing { path: NamePath::default(), items: self.items, next: 0, f });
    }
}

/// The panic of a typed method for what its `try_` twin returns as an error.
fn refused(method: &str, e: ShapeError) -> ! {
    panic!("{method}: {e} (`try_{method}` returns this as a `ShapeError`)")
}

/// Turns the items a visit shows ([`Visit::item`]) into [`Probe`]s,
/// described by the macro's item at the same path.
struct Probing<'f, T: Float> {
    path: NamePath,
    items: &'static [ItemInfo],
    /// Where to look first: items come in the order the macro lists them.
    next: usize,
    f: &'f mut dyn FnMut(Probe<'_, T>),
}

impl<T: Float> Visit<T> for Probing<'_, T> {
    fn enter(&mut self, segment: &str) {
        self.path.enter(segment);
    }
    fn leave(&mut self) {
        self.path.leave();
    }
    fn param(&mut self, _: ParamRef<'_, T>) {}
    fn item(&mut self, output: Option<DMatrixView<'_, T>>, input_grad: Option<DMatrixView<'_, T>>) {
        let path = self.path.prefix();
        let at = |items: &[ItemInfo]| items.iter().position(|i| i.path == path);
        let found = at(&self.items[self.next..]).map(|k| self.next + k).or_else(|| at(self.items));
        let Some(k) = found else { return };
        self.next = k + 1;
        (self.f)(Probe::of(&self.items[k], output, input_grad));
    }
}
