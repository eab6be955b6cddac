//! What a network takes and gives: the input and output kinds of a
//! [`Core`](super::Core). A kind says what the typed API passes (a batch, or
//! one batch per time step), how that reaches the body (which always reads
//! one batch, time steps laid side by side) and how the `Model` view of
//! dynamic matrices maps onto it. A new kind of network (token ids in,
//! per-step outputs out) is a new kind here, not a new generator.

use std::borrow::Cow;
use std::fmt::Debug;

use nalgebra::{DMatrix, DMatrixView};

use crate::layer::{empty, view_into_batch};
use crate::rnn::{steps_into_matrix, steps_into_wide, view_into_wide, wide_into_steps};
use crate::{Batch, Float, ShapeError};

/// How a staged input is laid out: `steps` blocks of `cols` samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Staged {
    pub steps: usize,
    pub cols: usize,
}

/// The input of a network.
pub trait InputKind {
    /// Whether `Model` batches hold sequences (`steps * N` rows).
    const SEQUENCE: bool;
    /// What the typed API takes.
    type Data<T: Float, const N: usize>: ?Sized;
    /// What the typed API returns as dL/d(input).
    type Grads<T: Float, const N: usize>: ?Sized + ToOwned;
    /// Buffers kept between calls.
    type State<T: Float, const N: usize>: Clone + Debug + Default;

    /// Checks `x` and copies it where the body needs another layout.
    fn stage<T: Float, const N: usize>(x: &Self::Data<T, N>, s: &mut Self::State<T, N>) -> Result<Staged, ShapeError>;
    /// The batch the body reads after [`InputKind::stage`] of `x`.
    fn staged<'a, T: Float, const N: usize>(x: &'a Self::Data<T, N>, s: &'a Self::State<T, N>) -> &'a Batch<T, N>;
    /// As [`InputKind::stage`] for a `Model` batch; the body then reads [`InputKind::staged_view`].
    fn stage_view<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        s: &mut Self::State<T, N>,
    ) -> Result<Staged, ShapeError>;
    fn staged_view<T: Float, const N: usize>(s: &Self::State<T, N>) -> &Batch<T, N>;
    /// The body's input for an evaluation forward, which keeps no state.
    fn stage_owned<T: Float, const N: usize>(x: &Self::Data<T, N>)
        -> Result<(Cow<'_, Batch<T, N>>, usize), ShapeError>;
    /// As [`InputKind::stage_owned`] for a `Model` batch.
    fn stage_view_owned<T: Float, const N: usize>(x: &DMatrixView<'_, T>) -> Result<(Batch<T, N>, usize), ShapeError>;
    /// dL/d(input) as the API returns it, from the body's `dx`.
    fn grads<'a, T: Float, const N: usize>(dx: &'a Batch<T, N>, s: &'a mut Self::State<T, N>) -> &'a Self::Grads<T, N>;
    /// What a refused backward returns: no samples.
    fn no_grads<T: Float, const N: usize>(s: &Self::State<T, N>) -> &Self::Grads<T, N>;
    /// dL/d(input) as a `Model` batch.
    fn grads_view<'a, T: Float, const N: usize>(
        dx: &'a Batch<T, N>,
        s: &'a mut Self::State<T, N>,
    ) -> DMatrixView<'a, T>;
}

/// The output of a network.
pub trait OutputKind {
    /// What the typed API returns, and takes as dL/d(output).
    type Data<T: Float, const N: usize>: ?Sized + ToOwned;
    /// Buffers kept between calls.
    type State<T: Float, const N: usize>: Clone + Debug + Default;

    /// The API's output from the body's.
    fn present<'a, T: Float, const N: usize>(y: &'a Batch<T, N>, s: &'a mut Self::State<T, N>) -> &'a Self::Data<T, N>;
    /// What a refused forward returns: no samples.
    fn no_output<T: Float, const N: usize>(s: &Self::State<T, N>) -> &Self::Data<T, N>;
    /// The samples of a gradient, which must be those of the last forward.
    fn grad_cols<T: Float, const N: usize>(grad: &Self::Data<T, N>) -> usize;
    /// The gradient as the body takes it.
    fn intake<'a, T: Float, const N: usize>(
        grad: &'a Self::Data<T, N>,
        s: &'a mut Self::State<T, N>,
    ) -> &'a Batch<T, N>;
    /// The body's output as a `Model` batch.
    fn output_view<'a, T: Float, const N: usize>(
        y: &'a Batch<T, N>,
        s: &'a mut Self::State<T, N>,
    ) -> DMatrixView<'a, T>;
    /// Checks a `Model` gradient's rows and copies it into the state, whose
    /// batch ([`OutputKind::grad_of_view`]) the body then takes.
    fn intake_view<T: Float, const N: usize>(
        grad: &DMatrixView<'_, T>,
        s: &mut Self::State<T, N>,
    ) -> Result<(), ShapeError>;
    fn grad_of_view<T: Float, const N: usize>(s: &Self::State<T, N>) -> &Batch<T, N>;
    /// An evaluation output as the API returns it.
    fn predicted<T: Float, const N: usize>(y: Batch<T, N>) -> <Self::Data<T, N> as ToOwned>::Owned;
    /// An evaluation output as a `Model` batch.
    fn predicted_view<T: Float, const N: usize>(y: Batch<T, N>) -> DMatrix<T>;
}

/// Vectors, one column per sample: `Batch<T, N>` in and out (images too,
/// which the data carries as one column of `C * H * W` values).
#[derive(Clone, Copy, Debug, Default)]
pub struct Vector;

/// Buffers of a [`Vector`] input or output.
#[derive(Clone, Debug)]
pub struct VectorState<T: Float, const N: usize> {
    /// Copies of `Model` inputs (or gradients), reused across steps.
    view: Batch<T, N>,
    /// No columns: what a refused call returns.
    none: Batch<T, N>,
}

impl<T: Float, const N: usize> Default for VectorState<T, N> {
    fn default() -> Self {
        Self { view: empty(), none: empty() }
    }
}

fn check_rows<T>(what: &'static str, m: &DMatrixView<'_, T>, expected: usize) -> Result<(), ShapeError> {
    if m.nrows() == expected {
        Ok(())
    } else {
        Err(ShapeError::Width { what, expected, found: m.nrows() })
    }
}

impl InputKind for Vector {
    const SEQUENCE: bool = false;
    type Data<T: Float, const N: usize> = Batch<T, N>;
    type Grads<T: Float, const N: usize> = Batch<T, N>;
    type State<T: Float, const N: usize> = VectorState<T, N>;

    fn stage<T: Float, const N: usize>(x: &Batch<T, N>, _: &mut VectorState<T, N>) -> Result<Staged, ShapeError> {
        Ok(Staged { steps: 1, cols: x.ncols() })
    }
    fn staged<'a, T: Float, const N: usize>(x: &'a Batch<T, N>, _: &'a VectorState<T, N>) -> &'a Batch<T, N> {
        x
    }
    fn stage_view<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        s: &mut VectorState<T, N>,
    ) -> Result<Staged, ShapeError> {
        check_rows("input", x, N)?;
        view_into_batch(x, &mut s.view);
        Ok(Staged { steps: 1, cols: x.ncols() })
    }
    fn staged_view<T: Float, const N: usize>(s: &VectorState<T, N>) -> &Batch<T, N> {
        &s.view
    }
    fn stage_owned<T: Float, const N: usize>(x: &Batch<T, N>) -> Result<(Cow<'_, Batch<T, N>>, usize), ShapeError> {
        Ok((Cow::Borrowed(x), 1))
    }
    fn stage_view_owned<T: Float, const N: usize>(x: &DMatrixView<'_, T>) -> Result<(Batch<T, N>, usize), ShapeError> {
        check_rows("input", x, N)?;
        let mut b = empty();
        view_into_batch(x, &mut b);
        Ok((b, 1))
    }
    fn grads<'a, T: Float, const N: usize>(dx: &'a Batch<T, N>, _: &'a mut VectorState<T, N>) -> &'a Batch<T, N> {
        dx
    }
    fn no_grads<T: Float, const N: usize>(s: &VectorState<T, N>) -> &Batch<T, N> {
        &s.none
    }
    fn grads_view<'a, T: Float, const N: usize>(
        dx: &'a Batch<T, N>,
        _: &'a mut VectorState<T, N>,
    ) -> DMatrixView<'a, T> {
        dx.as_view()
    }
}

impl OutputKind for Vector {
    type Data<T: Float, const N: usize> = Batch<T, N>;
    type State<T: Float, const N: usize> = VectorState<T, N>;

    fn present<'a, T: Float, const N: usize>(y: &'a Batch<T, N>, _: &'a mut VectorState<T, N>) -> &'a Batch<T, N> {
        y
    }
    fn no_output<T: Float, const N: usize>(s: &VectorState<T, N>) -> &Batch<T, N> {
        &s.none
    }
    fn grad_cols<T: Float, const N: usize>(grad: &Batch<T, N>) -> usize {
        grad.ncols()
    }
    fn intake<'a, T: Float, const N: usize>(grad: &'a Batch<T, N>, _: &'a mut VectorState<T, N>) -> &'a Batch<T, N> {
        grad
    }
    fn output_view<'a, T: Float, const N: usize>(
        y: &'a Batch<T, N>,
        _: &'a mut VectorState<T, N>,
    ) -> DMatrixView<'a, T> {
        y.as_view()
    }
    fn intake_view<T: Float, const N: usize>(
        grad: &DMatrixView<'_, T>,
        s: &mut VectorState<T, N>,
    ) -> Result<(), ShapeError> {
        check_rows("gradient", grad, N)?;
        view_into_batch(grad, &mut s.view);
        Ok(())
    }
    fn grad_of_view<T: Float, const N: usize>(s: &VectorState<T, N>) -> &Batch<T, N> {
        &s.view
    }
    fn predicted<T: Float, const N: usize>(y: Batch<T, N>) -> Batch<T, N> {
        y
    }
    fn predicted_view<T: Float, const N: usize>(y: Batch<T, N>) -> DMatrix<T> {
        DMatrix::from_column_slice(N, y.ncols(), y.as_slice())
    }
}

/// Sequences of one length, one `Batch<T, N>` per time step, every step with
/// the same samples (`seq N`). The body reads the steps side by side.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sequence;

/// Buffers of a [`Sequence`] input.
#[derive(Clone, Debug)]
pub struct SequenceState<T: Float, const N: usize> {
    /// The input sequence, steps side by side.
    wide: Batch<T, N>,
    /// Steps of the last staged sequence.
    steps: usize,
    /// dL/dx per step, from the last backward.
    grads: Vec<Batch<T, N>>,
    /// The same as a `Model` batch (`steps * N` rows).
    grads_view: DMatrix<T>,
}

impl<T: Float, const N: usize> Default for SequenceState<T, N> {
    fn default() -> Self {
        Self { wide: empty(), steps: 0, grads: Vec::new(), grads_view: DMatrix::zeros(0, 0) }
    }
}

impl InputKind for Sequence {
    const SEQUENCE: bool = true;
    type Data<T: Float, const N: usize> = [Batch<T, N>];
    type Grads<T: Float, const N: usize> = [Batch<T, N>];
    type State<T: Float, const N: usize> = SequenceState<T, N>;

    fn stage<T: Float, const N: usize>(xs: &[Batch<T, N>], s: &mut SequenceState<T, N>) -> Result<Staged, ShapeError> {
        steps_into_wide(xs, &mut s.wide)?;
        s.steps = xs.len();
        Ok(Staged { steps: xs.len(), cols: xs[0].ncols() })
    }
    fn staged<'a, T: Float, const N: usize>(_: &'a [Batch<T, N>], s: &'a SequenceState<T, N>) -> &'a Batch<T, N> {
        &s.wide
    }
    fn stage_view<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        s: &mut SequenceState<T, N>,
    ) -> Result<Staged, ShapeError> {
        s.steps = view_into_wide(x, &mut s.wide)?;
        Ok(Staged { steps: s.steps, cols: x.ncols() })
    }
    fn staged_view<T: Float, const N: usize>(s: &SequenceState<T, N>) -> &Batch<T, N> {
        &s.wide
    }
    fn stage_owned<T: Float, const N: usize>(xs: &[Batch<T, N>]) -> Result<(Cow<'_, Batch<T, N>>, usize), ShapeError> {
        let mut wide = empty();
        steps_into_wide(xs, &mut wide)?;
        Ok((Cow::Owned(wide), xs.len()))
    }
    fn stage_view_owned<T: Float, const N: usize>(x: &DMatrixView<'_, T>) -> Result<(Batch<T, N>, usize), ShapeError> {
        let mut wide = empty();
        let steps = view_into_wide(x, &mut wide)?;
        Ok((wide, steps))
    }
    fn grads<'a, T: Float, const N: usize>(dx: &'a Batch<T, N>, s: &'a mut SequenceState<T, N>) -> &'a [Batch<T, N>] {
        // The body's dx has the staged input's columns, which split into `steps`.
        wide_into_steps(dx, s.steps, &mut s.grads).expect("dL/dx has the columns of the staged sequence");
        &s.grads
    }
    fn no_grads<T: Float, const N: usize>(_: &SequenceState<T, N>) -> &[Batch<T, N>] {
        &[]
    }
    fn grads_view<'a, T: Float, const N: usize>(
        dx: &'a Batch<T, N>,
        s: &'a mut SequenceState<T, N>,
    ) -> DMatrixView<'a, T> {
        Self::grads(dx, s);
        steps_into_matrix(&s.grads, &mut s.grads_view);
        s.grads_view.as_view()
    }
}
