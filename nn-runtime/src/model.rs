//! [`Model`]: what the trainer, optimizers, clipping, diagnostics and file I/O
//! see of a whole network. `network!` implements it for every struct it makes.

use nalgebra::{DMatrix, DMatrixView};

use crate::item::ItemInfo;
use crate::layer::{BufferRef, NamePath, ParamKind, ParamRef, ZeroGrad};
use crate::{
    error::ShapeError,
    init::Init,
    item::{Family, ItemKind},
    kernels::Float,
    layer::{Visit, VisitMut},
};

/// A whole network, seen through dynamic shapes.
///
/// A batch is a matrix with one column per sample. For a vector network it has
/// [`Model::INPUT`] rows. For a sequence network (`seq N`, `tokens V`) it has
/// `steps * N` rows: rows `t*N .. (t+1)*N` are time step `t` (a token
/// network's `N` is 1: one id per step, an exact whole number). Sequences of
/// different lengths are padded to the longest and go to
/// [`Model::forward_seq_view`] with their lengths. A network with outputs per
/// step (`-> seq M`, [`Model::PER_STEP`]) gives `steps * M` rows likewise,
/// zero past each sequence's end, and takes its gradient so (values past a
/// sequence's end are ignored).
pub trait Model<T: Float> {
    /// Features per sample (per time step for a sequence network).
    const INPUT: usize;
    /// Outputs per sample.
    const OUTPUT: usize;
    /// The struct's name, for summaries, errors and file metadata.
    const NAME: &'static str;
    /// Whether the model takes sequences (`seq N`): its batches then have any
    /// positive multiple of [`Model::INPUT`] rows, and so do the samples of a
    /// dataset it trains on (one column of `steps * INPUT` values per sample).
    const SEQUENCE: bool = false;
    /// Whether the input is token ids (`tokens V`): whole numbers, with no gradient.
    const TOKENS: bool = false;
    /// Whether the output is one vector per time step (`-> seq M`).
    const PER_STEP: bool = false;

    /// Whether a batch (or a dataset's samples) of `rows` rows fits the input.
    fn accepts_rows(rows: usize) -> bool {
        if Self::SEQUENCE {
            rows > 0 && rows.is_multiple_of(Self::INPUT)
        } else {
            rows == Self::INPUT
        }
    }

    /// Shows every parameter and buffer, with PyTorch-style naming levels.
    fn visit(&self, v: &mut dyn Visit<T>);
    /// The mutable twin of [`Model::visit`], same order.
    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>);

    /// Training-mode forward; the output stays in the model.
    fn forward_view(&mut self, x: DMatrixView<'_, T>) -> Result<DMatrixView<'_, T>, ShapeError>;
    /// Back-propagates dL/dy of the last forward (plus any auxiliary-head
    /// gradients set since), adds to the parameter gradients and returns dL/dx.
    fn backward_view(&mut self, grad: DMatrixView<'_, T>) -> Result<DMatrixView<'_, T>, ShapeError>;
    /// As [`Model::backward_view`] without dL/dx, which a training step does
    /// not read: the first layer may skip computing it ([`Layer::backward_params`](crate::layer::Layer::backward_params)).
    /// The parameter gradients are the same.
    fn backward_params_view(&mut self, grad: DMatrixView<'_, T>) -> Result<(), ShapeError> {
        self.backward_view(grad).map(drop)
    }
    /// Evaluation-mode forward.
    fn predict_view(&self, x: DMatrixView<'_, T>) -> Result<DMatrix<T>, ShapeError>;

    /// Training-mode forward of sequences of different lengths: `x` holds
    /// every sample padded to `x.nrows() / INPUT` steps, `lengths[j]` (in
    /// `1..=steps`) is sample `j`'s real steps. Recurrent layers stop at each
    /// sequence's end (PyTorch's packed sequences), `last` takes each
    /// sequence's own last step, and what lies past a sequence's end never
    /// reaches a layer. The error [`ShapeError::NotSequence`] for a network
    /// without sequences.
    fn forward_seq_view(
        &mut self,
        _x: DMatrixView<'_, T>,
        _lengths: &[usize],
    ) -> Result<DMatrixView<'_, T>, ShapeError> {
        Err(ShapeError::NotSequence)
    }
    /// The evaluation-mode twin of [`Model::forward_seq_view`].
    fn predict_seq_view(&self, _x: DMatrixView<'_, T>, _lengths: &[usize]) -> Result<DMatrix<T>, ShapeError> {
        Err(ShapeError::NotSequence)
    }

    /// While frozen, dropout reuses the masks of the last forward (for gradient checks).
    fn freeze_randomness(&mut self, _frozen: bool) {}

    /// How many auxiliary heads the network has.
    fn aux_heads(&self) -> usize {
        0
    }
    /// Head `i`'s loss weight and its output from the last training forward.
    fn aux_output(&self, _i: usize) -> Option<(f64, DMatrixView<'_, T>)> {
        None
    }
    /// Sets dL/d(output of head `i`) for the next backward. Trainers pass
    /// `weight * dLoss/dhead`; the gradient is used once, then cleared.
    fn set_aux_grad(&mut self, i: usize, _grad: DMatrixView<'_, T>) -> Result<(), ShapeError> {
        Err(ShapeError::NoSuchAuxHead { index: i, heads: self.aux_heads() })
    }

    /// Shows every item, at every depth and in network order (a block before
    /// its body), as it stands after the last forward and backward: what
    /// `nn::diagnostics` measures.
    fn probe(&self, _f: &mut dyn FnMut(Probe<'_, T>)) {}

    /// Sets every parameter gradient to zero.
    fn zero_grad(&mut self) {
        self.visit_mut(&mut ZeroGrad);
    }

    /// Every parameter as (full name, kind, shape, value, grad), copied, in the fixed order.
    fn parameters(&self) -> Vec<NamedParam<T>> {
        let mut c = Collect { path: NamePath::default(), params: Vec::new(), buffers: Vec::new() };
        self.visit(&mut c);
        c.params
    }

    /// Every buffer (running statistics) by full name, copied.
    fn buffers(&self) -> Vec<NamedBuffer<T>> {
        let mut c = Collect { path: NamePath::default(), params: Vec::new(), buffers: Vec::new() };
        self.visit(&mut c);
        c.buffers
    }

    /// Total number of trainable scalars.
    fn parameter_count(&self) -> usize {
        struct Count(usize);
        impl<T> Visit<T> for Count {
            fn param(&mut self, p: ParamRef<'_, T>) {
                self.0 += p.value.len();
            }
        }
        let mut c = Count(0);
        self.visit(&mut c);
        c.0
    }
}

/// One item of a network, at any depth, seen by [`Model::probe`]. Its
/// parameters are those whose names start with `"{path}."` (and are not
/// another item's inside it).
#[derive(Debug)]
pub struct Probe<'a, T: nalgebra::Scalar> {
    /// Position of the top-level item it is or stands in (the first
    /// component of its parameter names).
    pub index: usize,
    /// Where it stands, as its parameters' names begin: `"3"` for a top-level
    /// item, `"3.1.0"` for the first item of copy 1 of a `repeat` at 3.
    pub path: &'a str,
    /// What the item is (it displays as its `network!` spelling).
    pub kind: ItemKind,
    /// How it behaves as an activation, as `network!` states it.
    pub family: Family,
    /// How its weights started, when an initializer decided them.
    pub init: Option<Init>,
    /// Its output from the last training forward, if kept.
    pub output: Option<DMatrixView<'a, T>>,
    /// dL/d(its input) from the last backward, if kept.
    pub input_grad: Option<DMatrixView<'a, T>>,
}

impl<'a, T: nalgebra::Scalar> Probe<'a, T> {
    /// The probe of the item `info` describes, with what it keeps.
    pub fn of(info: &'a ItemInfo, output: Option<DMatrixView<'a, T>>, input_grad: Option<DMatrixView<'a, T>>) -> Self {
        Probe {
            index: info.index(),
            path: info.path,
            kind: info.kind,
            family: info.family,
            init: info.init,
            output,
            input_grad,
        }
    }
}

/// A parameter with its full PyTorch-style name, copied out of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedParam<T> {
    /// The full name, e.g. `"3.projection.weight"`.
    pub name: String,
    /// What the parameter is to an optimizer and an initializer.
    pub kind: ParamKind,
    /// PyTorch's shape of the tensor.
    pub shape: Vec<usize>,
    /// The values, row-major in `shape`.
    pub value: Vec<T>,
    /// dL/d(value) accumulated by the last backward passes, laid out as `value`.
    pub grad: Vec<T>,
}

/// A buffer with its full name, copied out of a model.
#[derive(Clone, Debug, PartialEq)]
pub enum NamedBuffer<T> {
    /// A floating-point buffer such as `running_mean`.
    Float {
        /// The full name, e.g. `"1.running_mean"`.
        name: String,
        /// PyTorch's shape of the tensor.
        shape: Vec<usize>,
        /// The values, row-major in `shape`.
        value: Vec<T>,
    },
    /// An integer counter such as `num_batches_tracked`.
    Count {
        /// The full name, e.g. `"1.num_batches_tracked"`.
        name: String,
        /// The count.
        value: i64,
    },
}

impl<T> NamedBuffer<T> {
    /// The full name of either kind of buffer.
    pub fn name(&self) -> &str {
        match self {
            NamedBuffer::Float { name, .. } | NamedBuffer::Count { name, .. } => name,
        }
    }
}

struct Collect<T> {
    path: NamePath,
    params: Vec<NamedParam<T>>,
    buffers: Vec<NamedBuffer<T>>,
}

impl<T: Copy> Visit<T> for Collect<T> {
    fn enter(&mut self, segment: &str) {
        self.path.enter(segment);
    }
    fn leave(&mut self) {
        self.path.leave();
    }
    fn param(&mut self, p: ParamRef<'_, T>) {
        self.params.push(NamedParam {
            name: self.path.full(p.name),
            kind: p.kind,
            shape: p.shape.to_vec(),
            value: p.value.to_vec(),
            grad: p.grad.to_vec(),
        });
    }
    fn buffer(&mut self, b: BufferRef<'_, T>) {
        self.buffers.push(match b {
            BufferRef::Float { name, shape, value } => {
                NamedBuffer::Float { name: self.path.full(name), shape: shape.to_vec(), value: value.to_vec() }
            }
            BufferRef::Count { name, value } => NamedBuffer::Count { name: self.path.full(name), value },
        });
    }
}
