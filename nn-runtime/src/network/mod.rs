//! How a network of `network!` is put together at run time. The macro
//! generates, for each network, its struct, the types of its item lists and
//! one-line methods; everything else is here, written once:
//!
//! - item lists are generic types ([`Then`] ... [`End`], [`Reduce`] for `last`),
//!   which number their items for parameter names and probes;
//! - a [`Core`] owns the top-level list and does what the API does around
//!   it: checks, copies between the typed API and the `Model` view, errors,
//!   auxiliary heads, probes; its input and output kinds ([`Vector`],
//!   [`Sequence`]) say what the API takes and gives;
//! - the struct implements the hidden [`Network`] trait (its core and what
//!   the macro knows of its items), which gives it [`Model`].
//!
//! Nothing here is meant to be named by users: it is public because generated
//! code in the user's crate reaches it (through `nn::__private`).

mod core;
mod kinds;
mod list;
mod reduce;

use std::path::Path;

use nalgebra::{DMatrix, DMatrixView};

pub use self::core::Core;
pub use crate::item::{Family, ItemInfo, ItemKind};
pub use kinds::{
    InputKind, OutputKind, PerStep, PerStepState, Sequence, SequenceState, Tokens, TokensState, Vector, VectorState,
};
pub use list::{End, Head, Items, LastStep, Plain, Slot, Splice, Then, Unbuilt};
pub use reduce::Reduce;

use crate::io::LoadError;
use crate::{
    error::ShapeError,
    kernels::Float,
    layer::{Layer, Visit, VisitMut},
    model::{Model, Probe},
};

/// A generated network: its core and what the macro knows of it. Every
/// network struct of `network!` implements it, and through it [`Model`].
pub trait Network: Sized {
    /// The core, `Core<T, Body, I, O, In, Out>`.
    type Core;
    /// The struct's name.
    const NAME: &'static str;

    fn core(&self) -> &Self::Core;
    fn core_mut(&mut self) -> &mut Self::Core;
}

impl<T, N, B, const I: usize, const O: usize, In, Out> Model<T> for N
where
    T: Float,
    N: Network<Core = Core<T, B, I, O, In, Out>>,
    B: Layer<T, I, O> + Items<T, I, O> + 'static,
    In: InputKind + 'static,
    Out: OutputKind + 'static,
{
    const INPUT: usize = I;
    const OUTPUT: usize = O;
    const NAME: &'static str = N::NAME;
    const SEQUENCE: bool = In::SEQUENCE;
    const TOKENS: bool = In::TOKENS;
    const PER_STEP: bool = Out::PER_STEP;

    fn visit(&self, v: &mut dyn Visit<T>) {
        self.core().visit(v);
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        self.core_mut().visit_mut(v);
    }
    fn forward_view(&mut self, x: DMatrixView<'_, T>) -> Result<DMatrixView<'_, T>, ShapeError> {
        self.core_mut().forward_view(x, None)
    }
    fn forward_seq_view(&mut self, x: DMatrixView<'_, T>, lengths: &[usize]) -> Result<DMatrixView<'_, T>, ShapeError> {
        self.core_mut().forward_view(x, Some(lengths))
    }
    fn backward_view(&mut self, grad: DMatrixView<'_, T>) -> Result<DMatrixView<'_, T>, ShapeError> {
        self.core_mut().backward_view(grad)
    }
    fn backward_params_view(&mut self, grad: DMatrixView<'_, T>) -> Result<(), ShapeError> {
        self.core_mut().backward_params_view(grad)
    }
    fn predict_view(&self, x: DMatrixView<'_, T>) -> Result<DMatrix<T>, ShapeError> {
        self.core().predict_view(x, None)
    }
    fn predict_seq_view(&self, x: DMatrixView<'_, T>, lengths: &[usize]) -> Result<DMatrix<T>, ShapeError> {
        self.core().predict_view(x, Some(lengths))
    }
    fn freeze_randomness(&mut self, frozen: bool) {
        self.core_mut().freeze_randomness(frozen);
    }
    fn aux_heads(&self) -> usize {
        self.core().aux_heads()
    }
    fn aux_output(&self, i: usize) -> Option<(f64, DMatrixView<'_, T>)> {
        self.core().aux_output(i)
    }
    fn set_aux_grad(&mut self, i: usize, grad: DMatrixView<'_, T>) -> Result<(), ShapeError> {
        self.core_mut().set_aux_grad(i, grad)
    }
    fn probe(&self, f: &mut dyn FnMut(Probe<'_, T>)) {
        self.core().probe(f);
    }
}

/// `load_safetensors` of a generated network: `net` (freshly built) with the
/// weights and buffers of the file at `path`, checked strictly. Loading
/// overwrites every parameter and buffer, so only `net`'s dropout streams
/// remain of how it was built.
pub fn loaded<T: Float, M: Model<T>>(mut net: M, path: impl AsRef<Path>) -> Result<M, LoadError> {
    crate::io::load_safetensors_into(&mut net, path)?;
    Ok(net)
}
