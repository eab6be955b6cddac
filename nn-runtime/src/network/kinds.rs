//! What a network takes and gives: the input and output kinds of a
//! [`Core`](super::Core). A kind says what the typed API passes (a batch,
//! one batch per time step, token ids), how that reaches the body (which
//! always reads one batch: for sequences, the real steps packed as
//! [`Steps`] says) and how the `Model` view of dynamic matrices maps onto it.
//!
//! Sequences may have different lengths: the caller pads them to a number
//! of steps and gives each sample's length (the typed API's `*_padded`
//! methods, `Model::forward_seq_view`; a batch of token sequences has its
//! lengths in itself). Outputs per step and dL/dx come back padded the same
//! way, zero past each sequence's end, in the caller's order.

use std::borrow::Cow;
use std::fmt::Debug;

use nalgebra::{DMatrix, DMatrixView};

use crate::layer::{empty, ensure_cols, view_into_batch};
use crate::rnn::{pack_matrix, pack_steps, pack_with, sort, unpack_matrix, unpack_steps, unsort, Steps};
use crate::{batch::Batch, error::ShapeError, kernels::Float};

/// The input of a network.
pub trait InputKind {
    /// Whether `Model` batches hold sequences (`steps * N` rows).
    const SEQUENCE: bool;
    /// Whether the input is token ids (whole numbers, not differentiable).
    const TOKENS: bool;
    /// What the typed API takes.
    type Data<T: Float, const N: usize>: ?Sized;
    /// What the typed API returns as dL/d(input).
    type Grads<T: Float, const N: usize>: ?Sized + ToOwned;
    /// Buffers kept between calls: the staged input, its steps, dL/dx.
    type State<T: Float, const N: usize>: Clone + Debug + Default;

    /// Checks `x` (padded, each sample of its length in `lengths` when given)
    /// and stages it for the body, copying it where the body needs another layout.
    fn stage<T: Float, const N: usize>(
        x: &Self::Data<T, N>,
        lengths: Option<&[usize]>,
        s: &mut Self::State<T, N>,
    ) -> Result<(), ShapeError>;
    /// The batch the body reads after [`InputKind::stage`] of `x`.
    fn staged<'a, T: Float, const N: usize>(x: &'a Self::Data<T, N>, s: &'a Self::State<T, N>) -> &'a Batch<T, N>;
    /// As [`InputKind::stage`] for a `Model` batch; the body then reads [`InputKind::staged_view`].
    fn stage_view<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        lengths: Option<&[usize]>,
        s: &mut Self::State<T, N>,
    ) -> Result<(), ShapeError>;
    fn staged_view<T: Float, const N: usize>(s: &Self::State<T, N>) -> &Batch<T, N>;
    /// The steps of the staged input ([`Steps::none`] for vectors).
    fn steps<T: Float, const N: usize>(s: &Self::State<T, N>) -> &Steps;
    /// The body's input and its steps for an evaluation forward, which keeps no state.
    fn stage_owned<'a, T: Float, const N: usize>(
        x: &'a Self::Data<T, N>,
        lengths: Option<&[usize]>,
    ) -> Result<(Cow<'a, Batch<T, N>>, Steps), ShapeError>;
    /// As [`InputKind::stage_owned`] for a `Model` batch.
    fn stage_view_owned<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        lengths: Option<&[usize]>,
    ) -> Result<(Batch<T, N>, Steps), ShapeError>;
    /// dL/d(input) as the API returns it, from the body's `dx`.
    fn grads<'a, T: Float, const N: usize>(dx: &'a Batch<T, N>, s: &'a mut Self::State<T, N>) -> &'a Self::Grads<T, N>;
    /// dL/d(input) as a `Model` batch.
    fn grads_view<'a, T: Float, const N: usize>(
        dx: &'a Batch<T, N>,
        s: &'a mut Self::State<T, N>,
    ) -> DMatrixView<'a, T>;
}

/// The output of a network.
pub trait OutputKind {
    /// Whether the output is one vector per time step (`seq M`).
    const PER_STEP: bool;
    /// What the typed API returns, and takes as dL/d(output).
    type Data<T: Float, const N: usize>: ?Sized + ToOwned;
    /// Buffers kept between calls.
    type State<T: Float, const N: usize>: Clone + Debug + Default;

    /// The API's output from the body's, whose input had `steps`.
    fn present<'a, T: Float, const N: usize>(
        y: &'a Batch<T, N>,
        steps: &Steps,
        s: &'a mut Self::State<T, N>,
    ) -> &'a Self::Data<T, N>;
    /// The samples of a gradient, which must be those of the last forward.
    fn grad_cols<T: Float, const N: usize>(grad: &Self::Data<T, N>) -> usize;
    /// Checks a gradient's steps and gives it as the body takes it.
    fn intake<'a, T: Float, const N: usize>(
        grad: &'a Self::Data<T, N>,
        steps: &Steps,
        s: &'a mut Self::State<T, N>,
    ) -> Result<&'a Batch<T, N>, ShapeError>;
    /// The body's output as a `Model` batch.
    fn output_view<'a, T: Float, const N: usize>(
        y: &'a Batch<T, N>,
        steps: &Steps,
        s: &'a mut Self::State<T, N>,
    ) -> DMatrixView<'a, T>;
    /// Checks a `Model` gradient's rows and copies it into the state, whose
    /// batch ([`OutputKind::grad_of_view`]) the body then takes.
    fn intake_view<T: Float, const N: usize>(
        grad: &DMatrixView<'_, T>,
        steps: &Steps,
        s: &mut Self::State<T, N>,
    ) -> Result<(), ShapeError>;
    fn grad_of_view<T: Float, const N: usize>(s: &Self::State<T, N>) -> &Batch<T, N>;
    /// An evaluation output as the API returns it.
    fn predicted<T: Float, const N: usize>(y: Batch<T, N>, steps: &Steps) -> <Self::Data<T, N> as ToOwned>::Owned;
    /// An evaluation output as a `Model` batch.
    fn predicted_view<T: Float, const N: usize>(y: Batch<T, N>, steps: &Steps) -> DMatrix<T>;
}

/// Vectors, one column per sample: `Batch<T, N>` in and out (images too,
/// which the data carries as one column of `C * H * W` values). As the
/// output of a `seq` network (after `last`), the samples come back in the
/// caller's order.
#[derive(Clone, Copy, Debug, Default)]
pub struct Vector;

/// Buffers of a [`Vector`] input or output.
#[derive(Clone, Debug)]
pub struct VectorState<T: Float, const N: usize> {
    /// Copies of `Model` inputs (or gradients, or outputs put back in the
    /// caller's order), reused across steps.
    view: Batch<T, N>,
}

impl<T: Float, const N: usize> Default for VectorState<T, N> {
    fn default() -> Self {
        Self { view: empty() }
    }
}

fn check_rows<T>(what: &'static str, m: &DMatrixView<'_, T>, expected: usize) -> Result<(), ShapeError> {
    if m.nrows() == expected {
        Ok(())
    } else {
        Err(ShapeError::Width { what, expected, found: m.nrows() })
    }
}

/// Vectors have no lengths.
fn no_lengths(lengths: Option<&[usize]>) -> Result<(), ShapeError> {
    lengths.map_or(Ok(()), |_| Err(ShapeError::NotSequence))
}

impl InputKind for Vector {
    const SEQUENCE: bool = false;
    const TOKENS: bool = false;
    type Data<T: Float, const N: usize> = Batch<T, N>;
    type Grads<T: Float, const N: usize> = Batch<T, N>;
    type State<T: Float, const N: usize> = VectorState<T, N>;

    fn stage<T: Float, const N: usize>(
        _: &Batch<T, N>,
        lengths: Option<&[usize]>,
        _: &mut VectorState<T, N>,
    ) -> Result<(), ShapeError> {
        no_lengths(lengths)
    }
    fn staged<'a, T: Float, const N: usize>(x: &'a Batch<T, N>, _: &'a VectorState<T, N>) -> &'a Batch<T, N> {
        x
    }
    fn stage_view<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        lengths: Option<&[usize]>,
        s: &mut VectorState<T, N>,
    ) -> Result<(), ShapeError> {
        no_lengths(lengths)?;
        check_rows("input", x, N)?;
        view_into_batch(x, &mut s.view);
        Ok(())
    }
    fn staged_view<T: Float, const N: usize>(s: &VectorState<T, N>) -> &Batch<T, N> {
        &s.view
    }
    fn steps<T: Float, const N: usize>(_: &VectorState<T, N>) -> &Steps {
        Steps::none()
    }
    fn stage_owned<'a, T: Float, const N: usize>(
        x: &'a Batch<T, N>,
        lengths: Option<&[usize]>,
    ) -> Result<(Cow<'a, Batch<T, N>>, Steps), ShapeError> {
        no_lengths(lengths)?;
        Ok((Cow::Borrowed(x), Steps::default()))
    }
    fn stage_view_owned<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        lengths: Option<&[usize]>,
    ) -> Result<(Batch<T, N>, Steps), ShapeError> {
        no_lengths(lengths)?;
        check_rows("input", x, N)?;
        let mut b = empty();
        view_into_batch(x, &mut b);
        Ok((b, Steps::default()))
    }
    fn grads<'a, T: Float, const N: usize>(dx: &'a Batch<T, N>, _: &'a mut VectorState<T, N>) -> &'a Batch<T, N> {
        dx
    }
    fn grads_view<'a, T: Float, const N: usize>(
        dx: &'a Batch<T, N>,
        _: &'a mut VectorState<T, N>,
    ) -> DMatrixView<'a, T> {
        dx.as_view()
    }
}

/// The body's one column per sample in the caller's order: as it is, or put
/// back from packed order into `buf`.
fn in_callers_order<'a, T: Float, const N: usize>(
    y: &'a Batch<T, N>,
    steps: &Steps,
    buf: &'a mut Batch<T, N>,
) -> &'a Batch<T, N> {
    if steps.in_order() {
        return y;
    }
    ensure_cols(buf, y.ncols());
    unsort(y.as_slice(), N, steps, buf.as_mut_slice());
    buf
}

impl OutputKind for Vector {
    const PER_STEP: bool = false;
    type Data<T: Float, const N: usize> = Batch<T, N>;
    type State<T: Float, const N: usize> = VectorState<T, N>;

    fn present<'a, T: Float, const N: usize>(
        y: &'a Batch<T, N>,
        steps: &Steps,
        s: &'a mut VectorState<T, N>,
    ) -> &'a Batch<T, N> {
        in_callers_order(y, steps, &mut s.view)
    }
    fn grad_cols<T: Float, const N: usize>(grad: &Batch<T, N>) -> usize {
        grad.ncols()
    }
    fn intake<'a, T: Float, const N: usize>(
        grad: &'a Batch<T, N>,
        steps: &Steps,
        s: &'a mut VectorState<T, N>,
    ) -> Result<&'a Batch<T, N>, ShapeError> {
        if steps.in_order() {
            return Ok(grad);
        }
        ensure_cols(&mut s.view, grad.ncols());
        sort(grad.as_slice(), N, steps, s.view.as_mut_slice());
        Ok(&s.view)
    }
    fn output_view<'a, T: Float, const N: usize>(
        y: &'a Batch<T, N>,
        steps: &Steps,
        s: &'a mut VectorState<T, N>,
    ) -> DMatrixView<'a, T> {
        in_callers_order(y, steps, &mut s.view).as_view()
    }
    fn intake_view<T: Float, const N: usize>(
        grad: &DMatrixView<'_, T>,
        steps: &Steps,
        s: &mut VectorState<T, N>,
    ) -> Result<(), ShapeError> {
        check_rows("gradient", grad, N)?;
        if steps.in_order() {
            view_into_batch(grad, &mut s.view);
        } else {
            ensure_cols(&mut s.view, grad.ncols());
            for (k, &j) in steps.order().iter().enumerate() {
                s.view.column_mut(k).copy_from(&grad.column(j));
            }
        }
        Ok(())
    }
    fn grad_of_view<T: Float, const N: usize>(s: &VectorState<T, N>) -> &Batch<T, N> {
        &s.view
    }
    fn predicted<T: Float, const N: usize>(y: Batch<T, N>, steps: &Steps) -> Batch<T, N> {
        if steps.in_order() {
            return y;
        }
        let mut buf = empty();
        in_callers_order(&y, steps, &mut buf);
        buf
    }
    fn predicted_view<T: Float, const N: usize>(y: Batch<T, N>, steps: &Steps) -> DMatrix<T> {
        let y = Self::predicted(y, steps);
        DMatrix::from_column_slice(N, y.ncols(), y.as_slice())
    }
}

/// Sequences of `N`-vectors, one `Batch<T, N>` per time step, every step
/// with every sample (`seq N`): of one length, or padded with each sample's
/// length given beside them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sequence;

/// Buffers of a [`Sequence`] input.
#[derive(Clone, Debug)]
pub struct SequenceState<T: Float, const N: usize> {
    /// The input, packed.
    packed: Batch<T, N>,
    steps: Steps,
    /// dL/dx per padded step, from the last backward.
    grads: Vec<Batch<T, N>>,
    /// The same as a `Model` batch (`padded * N` rows).
    grads_view: DMatrix<T>,
}

impl<T: Float, const N: usize> Default for SequenceState<T, N> {
    fn default() -> Self {
        Self { packed: empty(), steps: Steps::default(), grads: Vec::new(), grads_view: DMatrix::zeros(0, 0) }
    }
}

/// Checks a sequence given step by step: not empty, one batch size
/// throughout, one length per sample if lengths are given; returns its steps.
fn sequence_steps<T: Float, const N: usize>(
    xs: &[Batch<T, N>],
    lengths: Option<&[usize]>,
    steps: &mut Steps,
) -> Result<(), ShapeError> {
    let first = xs.first().ok_or(ShapeError::EmptySequence)?;
    let n = first.ncols();
    if let Some(step) = xs.iter().position(|x| x.ncols() != n) {
        return Err(ShapeError::RaggedSequence { step, expected: n, found: xs[step].ncols() });
    }
    set_steps(steps, lengths, xs.len(), n)
}

/// `steps` for `n` samples padded to `padded` steps, of `lengths` if given.
fn set_steps(steps: &mut Steps, lengths: Option<&[usize]>, padded: usize, n: usize) -> Result<(), ShapeError> {
    match lengths {
        Some(l) if l.len() != n => Err(ShapeError::Lengths { expected: n, found: l.len() }),
        Some(l) => steps.set_lengths(l, padded),
        None => {
            steps.set_uniform(padded, n);
            Ok(())
        }
    }
}

/// Checks a `Model` sequence batch's rows (a positive multiple of `N`) and sets its steps.
fn view_steps(
    x: &DMatrixView<'_, impl Float>,
    per_step: usize,
    lengths: Option<&[usize]>,
    steps: &mut Steps,
) -> Result<(), ShapeError> {
    if x.nrows() == 0 {
        return Err(ShapeError::EmptySequence);
    }
    if !x.nrows().is_multiple_of(per_step) {
        return Err(ShapeError::StepRows { per_step, found: x.nrows() });
    }
    set_steps(steps, lengths, x.nrows() / per_step, x.ncols())
}

impl InputKind for Sequence {
    const SEQUENCE: bool = true;
    const TOKENS: bool = false;
    type Data<T: Float, const N: usize> = [Batch<T, N>];
    type Grads<T: Float, const N: usize> = [Batch<T, N>];
    type State<T: Float, const N: usize> = SequenceState<T, N>;

    fn stage<T: Float, const N: usize>(
        xs: &[Batch<T, N>],
        lengths: Option<&[usize]>,
        s: &mut SequenceState<T, N>,
    ) -> Result<(), ShapeError> {
        sequence_steps(xs, lengths, &mut s.steps)?;
        pack_steps(xs, &s.steps, &mut s.packed);
        Ok(())
    }
    fn staged<'a, T: Float, const N: usize>(_: &'a [Batch<T, N>], s: &'a SequenceState<T, N>) -> &'a Batch<T, N> {
        &s.packed
    }
    fn stage_view<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        lengths: Option<&[usize]>,
        s: &mut SequenceState<T, N>,
    ) -> Result<(), ShapeError> {
        view_steps(x, N, lengths, &mut s.steps)?;
        pack_matrix(x, &s.steps, &mut s.packed);
        Ok(())
    }
    fn staged_view<T: Float, const N: usize>(s: &SequenceState<T, N>) -> &Batch<T, N> {
        &s.packed
    }
    fn steps<T: Float, const N: usize>(s: &SequenceState<T, N>) -> &Steps {
        &s.steps
    }
    fn stage_owned<'a, T: Float, const N: usize>(
        xs: &'a [Batch<T, N>],
        lengths: Option<&[usize]>,
    ) -> Result<(Cow<'a, Batch<T, N>>, Steps), ShapeError> {
        let mut steps = Steps::default();
        sequence_steps(xs, lengths, &mut steps)?;
        let mut packed = empty();
        pack_steps(xs, &steps, &mut packed);
        Ok((Cow::Owned(packed), steps))
    }
    fn stage_view_owned<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        lengths: Option<&[usize]>,
    ) -> Result<(Batch<T, N>, Steps), ShapeError> {
        let mut steps = Steps::default();
        view_steps(x, N, lengths, &mut steps)?;
        let mut packed = empty();
        pack_matrix(x, &steps, &mut packed);
        Ok((packed, steps))
    }
    fn grads<'a, T: Float, const N: usize>(dx: &'a Batch<T, N>, s: &'a mut SequenceState<T, N>) -> &'a [Batch<T, N>] {
        unpack_steps(dx.as_slice(), &s.steps, &mut s.grads);
        &s.grads
    }
    fn grads_view<'a, T: Float, const N: usize>(
        dx: &'a Batch<T, N>,
        s: &'a mut SequenceState<T, N>,
    ) -> DMatrixView<'a, T> {
        unpack_matrix(dx.as_slice(), N, &s.steps, &mut s.grads_view);
        s.grads_view.as_view()
    }
}

/// Sequences of token ids below `V` (`tokens V`), each sample its own
/// length: `[Vec<usize>]` in the typed API; in the `Model` view, one id per
/// row (`padded` rows, one column per sample), as exact whole numbers, with
/// each sample's length beside them. The body (an `embedding` first) reads
/// the ids packed, one row of `T`. Token ids have no gradient: dL/dx is empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tokens<const V: usize>;

/// Buffers of a [`Tokens`] input.
#[derive(Clone, Debug)]
pub struct TokensState<T: Float, const N: usize> {
    packed: Batch<T, N>,
    steps: Steps,
    lengths: Vec<usize>,
    none: DMatrix<T>,
}

impl<T: Float, const N: usize> Default for TokensState<T, N> {
    fn default() -> Self {
        Self { packed: empty(), steps: Steps::default(), lengths: Vec::new(), none: DMatrix::zeros(0, 0) }
    }
}

impl<const V: usize> Tokens<V> {
    /// Checks each sample's ids and packs them.
    fn stage_ids<T: Float, const N: usize>(
        xs: &[Vec<usize>],
        lengths: &mut Vec<usize>,
        steps: &mut Steps,
        packed: &mut Batch<T, N>,
    ) -> Result<(), ShapeError> {
        for (sample, x) in xs.iter().enumerate() {
            if let Some((step, &id)) = x.iter().enumerate().find(|(_, &id)| id >= V) {
                return Err(ShapeError::Token { sample, step, found: id.to_string(), vocab: V });
            }
        }
        lengths.clear();
        lengths.extend(xs.iter().map(Vec::len));
        let padded = lengths.iter().copied().max().ok_or(ShapeError::EmptySequence)?;
        steps.set_lengths(lengths, padded)?;
        ensure_cols(packed, steps.cols());
        pack_with(steps, N, packed.as_mut_slice(), |t, j, id| id[0] = T::of(xs[j][t] as f64));
        Ok(())
    }

    /// Checks the ids of a `Model` batch (whole numbers in `0..V` at every real step) and packs them.
    fn stage_matrix<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        lengths: Option<&[usize]>,
        steps: &mut Steps,
        packed: &mut Batch<T, N>,
    ) -> Result<(), ShapeError> {
        view_steps(x, N, lengths, steps)?;
        for (sample, &length) in steps.order().iter().zip(steps.lengths()) {
            for step in 0..length {
                let id = x[(step * N, *sample)].as_f64();
                if !(id >= 0.0 && id < V as f64 && id.fract() == 0.0) {
                    return Err(ShapeError::Token { sample: *sample, step, found: id.to_string(), vocab: V });
                }
            }
        }
        pack_matrix(x, steps, packed);
        Ok(())
    }
}

impl<const V: usize> InputKind for Tokens<V> {
    const SEQUENCE: bool = true;
    const TOKENS: bool = true;
    type Data<T: Float, const N: usize> = [Vec<usize>];
    type Grads<T: Float, const N: usize> = [Batch<T, N>];
    type State<T: Float, const N: usize> = TokensState<T, N>;

    fn stage<T: Float, const N: usize>(
        xs: &[Vec<usize>],
        lengths: Option<&[usize]>,
        s: &mut TokensState<T, N>,
    ) -> Result<(), ShapeError> {
        // A token sequence carries its length.
        debug_assert!(lengths.is_none(), "the typed API of a tokens network passes no lengths");
        Self::stage_ids(xs, &mut s.lengths, &mut s.steps, &mut s.packed)
    }
    fn staged<'a, T: Float, const N: usize>(_: &'a [Vec<usize>], s: &'a TokensState<T, N>) -> &'a Batch<T, N> {
        &s.packed
    }
    fn stage_view<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        lengths: Option<&[usize]>,
        s: &mut TokensState<T, N>,
    ) -> Result<(), ShapeError> {
        Self::stage_matrix(x, lengths, &mut s.steps, &mut s.packed)
    }
    fn staged_view<T: Float, const N: usize>(s: &TokensState<T, N>) -> &Batch<T, N> {
        &s.packed
    }
    fn steps<T: Float, const N: usize>(s: &TokensState<T, N>) -> &Steps {
        &s.steps
    }
    fn stage_owned<'a, T: Float, const N: usize>(
        xs: &'a [Vec<usize>],
        _lengths: Option<&[usize]>,
    ) -> Result<(Cow<'a, Batch<T, N>>, Steps), ShapeError> {
        let (mut steps, mut packed) = (Steps::default(), empty());
        Self::stage_ids(xs, &mut Vec::new(), &mut steps, &mut packed)?;
        Ok((Cow::Owned(packed), steps))
    }
    fn stage_view_owned<T: Float, const N: usize>(
        x: &DMatrixView<'_, T>,
        lengths: Option<&[usize]>,
    ) -> Result<(Batch<T, N>, Steps), ShapeError> {
        let (mut steps, mut packed) = (Steps::default(), empty());
        Self::stage_matrix(x, lengths, &mut steps, &mut packed)?;
        Ok((packed, steps))
    }
    fn grads<'a, T: Float, const N: usize>(_: &'a Batch<T, N>, _: &'a mut TokensState<T, N>) -> &'a [Batch<T, N>] {
        &[]
    }
    fn grads_view<'a, T: Float, const N: usize>(
        _: &'a Batch<T, N>,
        s: &'a mut TokensState<T, N>,
    ) -> DMatrixView<'a, T> {
        s.none.as_view()
    }
}

/// One `N`-vector per time step (`seq N` output): one batch per padded step
/// in the typed API, `padded * N` rows in the `Model` view, in the caller's
/// order, zero past each sequence's end.
#[derive(Clone, Copy, Debug, Default)]
pub struct PerStep;

/// Buffers of a [`PerStep`] output.
#[derive(Clone, Debug)]
pub struct PerStepState<T: Float, const N: usize> {
    steps: Vec<Batch<T, N>>,
    matrix: DMatrix<T>,
    /// A gradient, packed.
    packed: Batch<T, N>,
}

impl<T: Float, const N: usize> Default for PerStepState<T, N> {
    fn default() -> Self {
        Self { steps: Vec::new(), matrix: DMatrix::zeros(0, 0), packed: empty() }
    }
}

impl OutputKind for PerStep {
    const PER_STEP: bool = true;
    type Data<T: Float, const N: usize> = [Batch<T, N>];
    type State<T: Float, const N: usize> = PerStepState<T, N>;

    fn present<'a, T: Float, const N: usize>(
        y: &'a Batch<T, N>,
        steps: &Steps,
        s: &'a mut PerStepState<T, N>,
    ) -> &'a [Batch<T, N>] {
        unpack_steps(y.as_slice(), steps, &mut s.steps);
        &s.steps
    }
    fn grad_cols<T: Float, const N: usize>(grad: &[Batch<T, N>]) -> usize {
        grad.first().map_or(0, |g| g.ncols())
    }
    fn intake<'a, T: Float, const N: usize>(
        grad: &'a [Batch<T, N>],
        steps: &Steps,
        s: &'a mut PerStepState<T, N>,
    ) -> Result<&'a Batch<T, N>, ShapeError> {
        if grad.len() != steps.padded() {
            return Err(ShapeError::SequenceLength { expected: steps.padded(), found: grad.len() });
        }
        if let Some(g) = grad.iter().find(|g| g.ncols() != steps.samples()) {
            return Err(ShapeError::BatchSize { forward: steps.samples(), backward: g.ncols() });
        }
        pack_steps(grad, steps, &mut s.packed);
        Ok(&s.packed)
    }
    fn output_view<'a, T: Float, const N: usize>(
        y: &'a Batch<T, N>,
        steps: &Steps,
        s: &'a mut PerStepState<T, N>,
    ) -> DMatrixView<'a, T> {
        unpack_matrix(y.as_slice(), N, steps, &mut s.matrix);
        s.matrix.as_view()
    }
    fn intake_view<T: Float, const N: usize>(
        grad: &DMatrixView<'_, T>,
        steps: &Steps,
        s: &mut PerStepState<T, N>,
    ) -> Result<(), ShapeError> {
        check_rows("gradient", grad, steps.padded() * N)?;
        if grad.ncols() != steps.samples() {
            return Err(ShapeError::BatchSize { forward: steps.samples(), backward: grad.ncols() });
        }
        pack_matrix(grad, steps, &mut s.packed);
        Ok(())
    }
    fn grad_of_view<T: Float, const N: usize>(s: &PerStepState<T, N>) -> &Batch<T, N> {
        &s.packed
    }
    fn predicted<T: Float, const N: usize>(y: Batch<T, N>, steps: &Steps) -> Vec<Batch<T, N>> {
        let mut out = Vec::new();
        unpack_steps(y.as_slice(), steps, &mut out);
        out
    }
    fn predicted_view<T: Float, const N: usize>(y: Batch<T, N>, steps: &Steps) -> DMatrix<T> {
        let mut out = DMatrix::zeros(0, 0);
        unpack_matrix(y.as_slice(), N, steps, &mut out);
        out
    }
}
