//! The contract between layers, blocks and generated networks: the [`Layer`]
//! trait, and the visitors through which parameters and buffers are seen.
//!
//! What layers are made of lives beside it: [`Io`], the output and
//! input-gradient buffers every layer and block keeps, and `Param`, the tensor
//! a layer trains, listed once per layer by `visit_parts!` (in `param.rs`);
//! and what the contract speaks of for sequences: [`Steps`], the layout of a
//! batch of sequences, and [`Carry`], a recurrent layer's carried state (both
//! shown to users as `nn::rnn::Steps` and `nn::rnn::Carry`).

mod carry;
mod io;
mod param;
mod steps;

pub use carry::Carry;
pub use io::{copy_batch, empty, ensure_cols, view_into_batch, Io};
pub(crate) use param::{visit_mut_under, visit_parts, visit_under, Buffer, Param, Tensor};
pub use steps::Steps;

use nalgebra::DMatrixView;

use crate::{batch::Batch, init::SeededRng, kernels::Float};

/// A layer (or a block of layers) from `I` features to `O` features.
///
/// Outputs and input gradients live in buffers the layer owns and reuses, so
/// a training step allocates nothing once the batch size is fixed.
pub trait Layer<T: Float, const I: usize, const O: usize> {
    /// Training-mode forward: caches what [`Layer::backward`] needs and returns
    /// the output, which stays in the layer until the next forward.
    fn forward(&mut self, x: &Batch<T, I>) -> &Batch<T, O>;

    /// Given dL/dy for the last forward, adds dL/dparameters to the gradients
    /// and returns dL/dx.
    ///
    /// `grad` must have the batch size of the last forward; networks check this
    /// once at their entry, so layers do not repeat it.
    fn backward(&mut self, grad: &Batch<T, O>) -> &Batch<T, I>;

    /// As [`Layer::backward`] for a caller that never reads dL/dx: the first
    /// layer of a training step, whose input is data. A layer may then skip
    /// the product that computes dL/dx (as PyTorch does for an input that does
    /// not require a gradient), after which [`Layer::input_grad`] is stale.
    /// The parameter gradients are the same as `backward`'s.
    fn backward_params(&mut self, grad: &Batch<T, O>) {
        self.backward(grad);
    }

    /// Evaluation-mode forward (running statistics, no dropout).
    fn predict(&self, x: &Batch<T, I>) -> Batch<T, O>;

    /// Shows every parameter and buffer, in a fixed order, to `v`. nn's
    /// layers write this and [`Layer::visit_mut`] from one list of their
    /// parts (`visit_parts!`), so the two orders cannot differ.
    fn visit(&self, _v: &mut dyn Visit<T>) {}

    /// Shows every parameter and buffer, mutably, in the same order as [`Layer::visit`].
    fn visit_mut(&mut self, _v: &mut dyn VisitMut<T>) {}

    /// While frozen, stochastic layers (dropout) reuse the randomness of their
    /// last forward, so that a gradient check sees one deterministic function.
    fn freeze_randomness(&mut self, _frozen: bool) {}

    /// The buffers in which the layer keeps its output and dL/dx, which the
    /// two hooks below read. `None` for a layer that keeps neither (its hooks
    /// may then answer from its inner layers).
    fn io(&self) -> Option<&Io<T, I, O>> {
        None
    }

    /// The output of the last training forward, for diagnostics (dead or
    /// saturated units). `None` if the layer keeps no copy of it.
    fn output(&self) -> Option<&Batch<T, O>> {
        self.io().map(Io::output)
    }

    /// dL/dx of the last backward, for diagnostics (gradient flow). `None` if
    /// the layer keeps no copy of it.
    fn input_grad(&self) -> Option<&Batch<T, I>> {
        self.io().map(Io::input_grad)
    }

    /// Training-mode forward over a batch of sequences, as a `seq` network
    /// runs its items: `steps` says how the columns are laid out (PyTorch's
    /// packed sequences: step after step, each step a block of the sequences
    /// still running, longest first). A position-wise layer treats every
    /// column as a sample (this default); a recurrent layer runs over the
    /// steps; `last` keeps each sequence's last step. A block passes `steps`
    /// on to its body. [`Layer::forward`] is this with [`Steps::none`].
    fn forward_steps(&mut self, x: &Batch<T, I>, _steps: &Steps) -> &Batch<T, O> {
        self.forward(x)
    }

    /// The evaluation-mode twin of [`Layer::forward_steps`].
    fn predict_steps(&self, x: &Batch<T, I>, _steps: &Steps) -> Batch<T, O> {
        self.predict(x)
    }

    /// As [`Layer::backward`] after a [`Layer::forward_steps`] whose output
    /// reaches the loss through each sequence's last step only (a `last`
    /// follows): `grad` is dL/d(what `last` took), one column per sequence,
    /// the other steps' being zero. A recurrent layer takes it as it is;
    /// `None` (this default) asks the caller to spread it over every step and
    /// call [`Layer::backward`] instead.
    fn backward_last_step(&mut self, _grad: &Batch<T, O>) -> Option<&Batch<T, I>> {
        None
    }

    /// [`Layer::backward_last_step`] for a caller that never reads dL/dx, as
    /// [`Layer::backward_params`]; `false` (this default) when the layer has
    /// no such shortcut and nothing was done.
    fn backward_params_last_step(&mut self, _grad: &Batch<T, O>) -> bool {
        false
    }
}

/// What a parameter is for. Optimizers can exempt everything but weights from
/// weight decay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A weight matrix or kernel (dense, projection, gate, recurrent, conv).
    Weight,
    /// An additive bias.
    Bias,
    /// The scale or shift of a normalization layer.
    Norm,
    /// The learned negative slope of a PReLU.
    Slope,
}

/// A parameter seen through [`Visit`]. `value` and `grad` are laid out
/// row-major in PyTorch's `shape`.
#[derive(Debug)]
pub struct ParamRef<'a, T> {
    /// The last component of the name (`"weight"`); the visitor tracks the prefix.
    pub name: &'a str,
    /// What the parameter is to an optimizer and an initializer.
    pub kind: ParamKind,
    /// PyTorch's shape of the tensor.
    pub shape: &'a [usize],
    /// The values, row-major in `shape`.
    pub value: &'a [T],
    /// dL/d(value) accumulated by the last backward passes, laid out as `value`.
    pub grad: &'a [T],
}

/// A parameter seen through [`VisitMut`].
#[derive(Debug)]
pub struct ParamMut<'a, T> {
    /// The last component of the name (`"weight"`); the visitor tracks the prefix.
    pub name: &'a str,
    /// What the parameter is to an optimizer and an initializer.
    pub kind: ParamKind,
    /// PyTorch's shape of the tensor.
    pub shape: &'a [usize],
    /// The values, row-major in `shape`.
    pub value: &'a mut [T],
    /// dL/d(value) accumulated by the last backward passes, laid out as `value`.
    pub grad: &'a mut [T],
}

/// A non-trained state tensor (running statistics), as PyTorch's buffers.
#[derive(Debug)]
pub enum BufferRef<'a, T> {
    /// A floating-point buffer such as `running_mean`.
    Float {
        /// The last component of the name (`"running_mean"`).
        name: &'a str,
        /// PyTorch's shape of the tensor.
        shape: &'a [usize],
        /// The values, row-major in `shape`.
        value: &'a [T],
    },
    /// An integer counter such as `num_batches_tracked` (I64 in files).
    Count {
        /// The last component of the name (`"num_batches_tracked"`).
        name: &'a str,
        /// The count.
        value: i64,
    },
}

/// A buffer seen through [`VisitMut`].
#[derive(Debug)]
pub enum BufferMut<'a, T> {
    /// A floating-point buffer such as `running_mean`.
    Float {
        /// The last component of the name (`"running_mean"`).
        name: &'a str,
        /// PyTorch's shape of the tensor.
        shape: &'a [usize],
        /// The values, row-major in `shape`.
        value: &'a mut [T],
    },
    /// An integer counter such as `num_batches_tracked` (I64 in files).
    Count {
        /// The last component of the name (`"num_batches_tracked"`).
        name: &'a str,
        /// The count.
        value: &'a mut i64,
    },
}

/// Receives parameters and buffers. `enter`/`leave` bracket each naming level
/// (`"3"`, `"projection"`), so a visitor that needs full names can build them
/// and one that does not (an optimizer) pays nothing.
pub trait Visit<T> {
    /// Opens a naming level (`"3"`, `"projection"`).
    fn enter(&mut self, _segment: &str) {}
    /// Closes the level the last `enter` opened.
    fn leave(&mut self) {}
    /// A parameter of the current level.
    fn param(&mut self, p: ParamRef<'_, T>);
    /// A buffer of the current level.
    fn buffer(&mut self, _b: BufferRef<'_, T>) {}
    /// An item of an item list (a network's, a block's body, a branch, a
    /// copy of `repeat`), inside its own naming level and before its
    /// parameters: its output of the last training forward and dL/d(input)
    /// of the last backward, where it keeps them. Diagnostics read these
    /// ([`Model::probe`](crate::model::Model::probe)); a layer on its own is no item.
    fn item(&mut self, _output: Option<DMatrixView<'_, T>>, _input_grad: Option<DMatrixView<'_, T>>) {}
    /// A layer's own random generator (`dropout`'s), which is neither a
    /// parameter nor a buffer: weights files leave it out, a training state
    /// keeps it so a resumed run draws the same masks.
    fn rng(&mut self, _name: &str, _rng: &SeededRng) {}
    /// A recurrent layer's carried state ([`Carry`]), neither a parameter
    /// nor a buffer: weights files leave it out, a training state keeps it.
    /// `None` for a recurrent layer that cannot carry one (`bidirectional`).
    fn carry(&mut self, _name: &str, _carry: Option<&Carry<T>>) {}
}

/// The mutable twin of [`Visit`].
pub trait VisitMut<T> {
    /// Opens a naming level (`"3"`, `"projection"`).
    fn enter(&mut self, _segment: &str) {}
    /// Closes the level the last `enter` opened.
    fn leave(&mut self) {}
    /// A parameter of the current level.
    fn param(&mut self, p: ParamMut<'_, T>);
    /// A buffer of the current level.
    fn buffer(&mut self, _b: BufferMut<'_, T>) {}
    /// A layer's own random generator, to be put back (see [`Visit::rng`]).
    fn rng(&mut self, _name: &str, _rng: &mut SeededRng) {}
    /// A recurrent layer's carried state, to be switched or put back (see [`Visit::carry`]).
    fn carry(&mut self, _name: &str, _carry: Option<&mut Carry<T>>) {}
}

/// Tracks the dotted name prefix for visitors that need full names.
#[derive(Debug, Default, Clone)]
pub struct NamePath {
    path: String,
    marks: Vec<usize>,
}

impl NamePath {
    /// Appends a naming level to the prefix.
    pub fn enter(&mut self, segment: &str) {
        self.marks.push(self.path.len());
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(segment);
    }
    /// Removes the level the last `enter` appended.
    pub fn leave(&mut self) {
        let mark = self.marks.pop().unwrap_or(0);
        self.path.truncate(mark);
    }
    /// The full name of a leaf under the current prefix (`"3.projection.weight"`).
    pub fn full(&self, leaf: &str) -> String {
        if self.path.is_empty() {
            leaf.to_string()
        } else {
            format!("{}.{}", self.path, leaf)
        }
    }
    /// The current prefix without a leaf.
    pub fn prefix(&self) -> &str {
        &self.path
    }
}

/// Visits `v` under the naming segment `segment`.
pub fn visit_in<T>(v: &mut dyn Visit<T>, segment: &str, f: impl FnOnce(&mut dyn Visit<T>)) {
    v.enter(segment);
    f(v);
    v.leave();
}

/// Visits `v` mutably under the naming segment `segment`.
pub fn visit_mut_in<T>(v: &mut dyn VisitMut<T>, segment: &str, f: impl FnOnce(&mut dyn VisitMut<T>)) {
    v.enter(segment);
    f(v);
    v.leave();
}

/// Sets every gradient to zero.
pub struct ZeroGrad;

impl<T: Float> VisitMut<T> for ZeroGrad {
    fn param(&mut self, p: ParamMut<'_, T>) {
        p.grad.fill(T::zero());
    }
}
