//! [`Recurrent`]: a cell run over a whole sequence, and backpropagation
//! through time. The time loop, buffers and truncation live here once for
//! all cells; the cells supply only their element-wise step ([`CellMath`]).
//!
//! Sequences run in the packed layout of [`Steps`]: at step `t` the cell runs
//! on the sequences still going (a prefix of the batch, longest first), so a
//! batch of mixed lengths costs what its real steps cost. The state of a
//! sequence that has ended is kept as it was at its last step; backward
//! starts each sequence's gradient at its own last step. A batch of one
//! length is the special case where no sequence ends early.

use std::marker::PhantomData;
use std::num::NonZeroUsize;

use rand::Rng;

use super::cell::{add, CellMath, StepBack, StepFwd};
use super::gates::Gates;
use super::{Carry, PackedGrad, SeqGrad, SeqLayer, Steps};
use crate::kernels::{dispatch, Kernel, Level};
use crate::layer::{empty, ensure_cols};
use crate::{
    batch::Batch,
    error::ShapeError,
    init::Init,
    kernels::Float,
    layer::{Visit, VisitMut},
};

/// A recurrent cell `C` from `I` to `H` features per step, with the caches of
/// the last training sequence. Name it through the aliases
/// [`RnnCell`](super::RnnCell), [`LstmCell`](super::LstmCell) and
/// [`GruCell`](super::GruCell).
#[derive(Clone, Debug)]
pub struct Recurrent<T: Float, C: CellMath, const I: usize, const H: usize> {
    pub(crate) gates: Gates<T>,
    truncation: Option<NonZeroUsize>,
    tape: Tape<T>,
    back: Back<T>,
    outputs: Vec<Batch<T, H>>,
    final_state: Vec<Batch<T, H>>,
    input_grads: Vec<Batch<T, I>>,
    initial_grad: Vec<Batch<T, H>>,
    /// The state a packed training forward starts from, when carried across batches.
    carry: Carry<T>,
    cell: PhantomData<C>,
}

/// Everything one forward over a batch of sequences leaves for backward,
/// packed over time (see [`Steps`]) so the weight gradients are one product each.
#[derive(Clone, Debug, Default)]
struct Tape<T> {
    steps: Steps,
    /// `I x cols`: the inputs, packed.
    xs: Vec<T>,
    /// `G*H x cols`: input projections, then what each step caches.
    gates: Vec<T>,
    /// `G*H x n`: the recurrent projection of the current step (`SPLIT` cells).
    ph: Vec<T>,
    /// `EXTRA*H x cols`.
    extra: Vec<T>,
    /// `H x (n + cols)`: the initial state `h_0` of the `n` sequences, then
    /// each step's output, packed.
    hs: Vec<T>,
    /// As `hs` for the LSTM cell state; empty for the other cells.
    cs: Vec<T>,
    /// `H x cols`: the state each column's step started from, for the
    /// recurrent weights' gradient. Not written when every sequence has every
    /// step: `hs` then holds it as it is. Sized either way, so that a batch of
    /// one length does not leave a later one of mixed lengths to allocate.
    hp: Vec<T>,
}

/// Backward's buffers, kept between calls.
#[derive(Clone, Debug, Default)]
struct Back<T> {
    dpx: Vec<T>,
    /// Only for cells whose two products get different gradients (GRU).
    dph: Vec<T>,
    dxs: Vec<T>,
    dh: Vec<T>,
    dc: Vec<T>,
    dh_prev: Vec<T>,
    dc_prev: Vec<T>,
}

/// Resizes, allocating only beyond the largest length seen; the values are
/// stale (every buffer is written before it is read).
fn fit<T: Float>(v: &mut Vec<T>, len: usize) {
    v.resize(len, T::zero());
}

/// Columns `from..from + cols` of a buffer of `rows`-row columns; empty for an unused buffer.
fn cols<T>(buf: &[T], rows: usize, from: usize, cols: usize) -> &[T] {
    if buf.is_empty() {
        &[]
    } else {
        &buf[rows * from..rows * (from + cols)]
    }
}

fn cols_mut<T>(buf: &mut [T], rows: usize, from: usize, cols: usize) -> &mut [T] {
    if buf.is_empty() {
        &mut []
    } else {
        &mut buf[rows * from..rows * (from + cols)]
    }
}

/// The state a step reads (`cols` columns from column `prev`) and the one it
/// writes (from column `out`, after `prev`'s) of a state buffer; two empty
/// slices for an unused buffer.
fn state_pair<T>(buf: &mut [T], rows: usize, prev: usize, out: usize, cols: usize) -> (&[T], &mut [T]) {
    if buf.is_empty() {
        return (&[], &mut []);
    }
    let (before, after) = buf.split_at_mut(rows * out);
    (&before[rows * prev..rows * (prev + cols)], &mut after[..rows * cols])
}

impl<T: Float> Tape<T> {
    fn resize<C: CellMath>(&mut self, input: usize, hidden: usize) {
        let (n, cols, gh) = (self.steps.samples(), self.steps.cols(), C::GATES * hidden);
        fit(&mut self.xs, input * cols);
        fit(&mut self.gates, gh * cols);
        fit(&mut self.ph, if C::SPLIT { gh * n } else { 0 });
        fit(&mut self.extra, C::EXTRA * hidden * cols);
        fit(&mut self.hs, hidden * (n + cols));
        fit(&mut self.cs, if C::STATE_PARTS == 2 { hidden * (n + cols) } else { 0 });
        fit(&mut self.hp, hidden * cols);
    }

    /// The column of `hs` (and `cs`) where the state step `t` starts from begins.
    fn prev_col(&self, t: usize) -> usize {
        if t == 0 {
            0
        } else {
            self.out_col(t - 1)
        }
    }

    /// The column of `hs` (and `cs`) where step `t`'s output begins.
    fn out_col(&self, t: usize) -> usize {
        self.steps.samples() + self.steps.offset(t)
    }

    /// Runs the cell over the inputs and initial state already in the tape;
    /// `cached`: see [`Gates::project_hidden`].
    fn run<C: CellMath>(&mut self, gates: &Gates<T>, hidden: usize, cached: bool) {
        let gh = C::GATES * hidden;
        gates.project_inputs(&self.xs, self.steps.cols(), &mut self.gates, !C::SPLIT);
        for t in 0..self.steps.steps() {
            let (b, at) = (self.steps.size(t), self.steps.offset(t));
            let (prev, out) = (self.prev_col(t), self.out_col(t));
            let (h_prev, h) = state_pair(&mut self.hs, hidden, prev, out, b);
            if !self.steps.is_uniform() {
                cols_mut(&mut self.hp, hidden, at, b).copy_from_slice(h_prev);
            }
            let step_gates = cols_mut(&mut self.gates, gh, at, b);
            let ph = cols_mut(&mut self.ph, gh, 0, b);
            if C::SPLIT {
                gates.project_hidden(h_prev, b, ph, cached, false);
            } else {
                gates.project_hidden(h_prev, b, step_gates, cached, true);
            }
            let (c_prev, c) = state_pair(&mut self.cs, hidden, prev, out, b);
            let step = StepFwd {
                hidden,
                gates: step_gates,
                ph,
                h_prev,
                c_prev,
                h,
                c,
                extra: cols_mut(&mut self.extra, C::EXTRA * hidden, at, b),
            };
            forward_step::<T, C>(step);
        }
    }

    /// The state part `p` (0: `h`, 1: `c`), `cols` columns from column `from` of its buffer.
    fn state(&self, p: usize, hidden: usize, from: usize, count: usize) -> &[T] {
        cols(if p == 0 { &self.hs } else { &self.cs }, hidden, from, count)
    }

    /// Copies each sequence's state after its last step into `into` (one
    /// batch per part, packed order).
    fn final_state<const H: usize>(&self, parts: usize, into: &mut Vec<Batch<T, H>>) {
        let n = self.steps.samples();
        into.resize_with(parts, empty);
        for (p, s) in into.iter_mut().enumerate() {
            ensure_cols(s, n);
            for (k, col) in s.as_mut_slice().chunks_exact_mut(H).enumerate() {
                let at = self.out_col(self.steps.lengths()[k] - 1) + k;
                col.copy_from_slice(self.state(p, H, at, 1));
            }
        }
    }
}

/// Checks a sequence: not empty, one batch size throughout. Returns the batch size.
fn sequence_cols<T: Float, const N: usize>(xs: &[Batch<T, N>]) -> Result<usize, ShapeError> {
    let first = xs.first().ok_or(ShapeError::EmptySequence)?;
    let cols = first.ncols();
    match xs.iter().position(|x| x.ncols() != cols) {
        Some(step) => Err(ShapeError::RaggedSequence { step, expected: cols, found: xs[step].ncols() }),
        None => Ok(cols),
    }
}

/// Checks a state (initial state, or gradient of the final state): the
/// cell's number of parts, the sequence's batch size.
fn check_state<T: Float, const H: usize>(
    what: &'static str,
    state: &[Batch<T, H>],
    parts: usize,
    cols: usize,
) -> Result<(), ShapeError> {
    if state.len() != parts {
        return Err(ShapeError::StateParts { what, expected: parts, found: state.len() });
    }
    match state.iter().find(|s| s.ncols() != cols) {
        Some(s) => Err(ShapeError::StateBatch { what, expected: cols, found: s.ncols() }),
        None => Ok(()),
    }
}

/// dL/d(outputs) as backward reads it.
#[derive(Clone, Copy)]
enum OutGrad<'a, T: Float, const H: usize> {
    /// One batch per step (a sequence of one length).
    Steps(&'a [Batch<T, H>]),
    /// Packed as the outputs.
    Packed(&'a [T]),
    /// Each sequence's last output only, `H x n` in packed order.
    Last(&'a [T]),
}

impl<T: Float, C: CellMath, const I: usize, const H: usize> Recurrent<T, C, I, H> {
    /// PyTorch's initialization (uniform on `±1/sqrt(H)`), except the recurrent
    /// weights: each gate's `H x H` block orthogonal.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::with_recurrent_init(rng, Init::Orthogonal { gain: 1.0 })
    }

    /// As [`Recurrent::new`], with each gate's `H x H` block of `weight_hh`
    /// drawn from `recurrent` (`Init::Uniform(1/sqrt(H))` is PyTorch's default).
    pub fn with_recurrent_init<R: Rng + ?Sized>(rng: &mut R, recurrent: Init) -> Self {
        Self {
            gates: Gates::new(rng, C::GATES, I, H, recurrent),
            truncation: None,
            tape: Tape::default(),
            back: Back::default(),
            outputs: Vec::new(),
            final_state: Vec::new(),
            input_grads: Vec::new(),
            initial_grad: Vec::new(),
            carry: Carry::new(C::STATE_PARTS, H),
            cell: PhantomData,
        }
    }

    /// Truncated backpropagation through time: with `Some(k)`, gradients cross
    /// the recurrence for at most `k` steps. The state entering steps
    /// `S - k`, `S - 2k`, ... of a length-`S` sequence is treated as a
    /// constant in backward (as `h.detach()` every `k` steps in PyTorch,
    /// counted from the end, so the last step's gradient reaches exactly `k`
    /// steps back); in a batch of mixed lengths, each sequence counts from
    /// its own end. Forward is unchanged. `None` (the default) is full BPTT.
    pub fn set_truncation(&mut self, steps: Option<NonZeroUsize>) {
        self.truncation = steps;
    }

    /// Builder form of [`Recurrent::set_truncation`].
    pub fn with_truncation(mut self, steps: Option<NonZeroUsize>) -> Self {
        self.truncation = steps;
        self
    }

    /// The truncation in effect (see [`Recurrent::set_truncation`]).
    pub fn truncation(&self) -> Option<NonZeroUsize> {
        self.truncation
    }

    /// Checks a gradient against the last forward.
    fn check_grad(&self, grad: OutGrad<'_, T, H>, final_grad: Option<&[Batch<T, H>]>) -> Result<(), ShapeError> {
        let steps = &self.tape.steps;
        let n = steps.samples();
        if steps.steps() == 0 {
            return Err(ShapeError::NoForward);
        }
        match grad {
            OutGrad::Steps(gs) if gs.len() != steps.steps() => {
                return Err(ShapeError::SequenceLength { expected: steps.steps(), found: gs.len() })
            }
            OutGrad::Steps(_) if !steps.is_uniform() => {
                return Err(ShapeError::Columns { expected: steps.cols(), found: n * steps.steps() })
            }
            OutGrad::Steps(gs) => {
                if let Some(g) = gs.iter().find(|g| g.ncols() != n) {
                    return Err(ShapeError::BatchSize { forward: n, backward: g.ncols() });
                }
            }
            OutGrad::Packed(g) if g.len() != H * steps.cols() => {
                return Err(ShapeError::Columns { expected: steps.cols(), found: g.len() / H.max(1) })
            }
            OutGrad::Last(g) if g.len() != H * n => {
                return Err(ShapeError::BatchSize { forward: n, backward: g.len() / H.max(1) })
            }
            OutGrad::Packed(_) | OutGrad::Last(_) => {}
        }
        if let Some(s) = final_grad {
            check_state("final state gradient", s, C::STATE_PARTS, n)?;
        }
        Ok(())
    }

    /// Back-propagation through time; dL/dx of every column into `dx` (`I x cols`) when given.
    fn through_time(
        &mut self,
        grad: OutGrad<'_, T, H>,
        final_grad: Option<&[Batch<T, H>]>,
        dx: Option<&mut [T]>,
    ) -> Result<(), ShapeError> {
        self.check_grad(grad, final_grad)?;
        let tape = &self.tape;
        let steps = &tape.steps;
        let (n, total, gh) = (steps.samples(), steps.cols(), C::GATES * H);
        let b = &mut self.back;
        fit(&mut b.dpx, gh * total);
        fit(&mut b.dph, if C::SPLIT { gh * total } else { 0 });
        let c_rows = if C::STATE_PARTS == 2 { H } else { 0 };
        fit(&mut b.dh, H * n);
        fit(&mut b.dh_prev, H * n);
        fit(&mut b.dc, c_rows * n);
        fit(&mut b.dc_prev, c_rows * n);

        // With only the last outputs in the loss, nothing reaches below the
        // shortest sequence's first truncation cut: steps before it get no
        // gradient, so truncated training on long sequences costs k steps of
        // backward, not S.
        let last_only = matches!(grad, OutGrad::Last(_));
        let shortest = steps.lengths().last().copied().unwrap_or(0);
        let dead_below = self.truncation.filter(|_| last_only).and_then(|k| shortest.checked_sub(k.get()));
        let mut first = 0;
        for t in (0..steps.steps()).rev() {
            let (size, at) = (steps.size(t), steps.offset(t));
            // The sequences whose last step is `t` start their gradient here.
            let ended = if t + 1 < steps.steps() { steps.size(t + 1) } else { 0 };
            for k in ended..size {
                let dh = &mut b.dh[H * k..H * (k + 1)];
                match final_grad {
                    Some(s) => dh.copy_from_slice(&s[0].as_slice()[H * k..H * (k + 1)]),
                    None => dh.fill(T::zero()),
                }
                if let OutGrad::Last(g) = grad {
                    add(dh, &g[H * k..H * (k + 1)]);
                }
                let dc = cols_mut(&mut b.dc, c_rows, k, 1);
                match final_grad {
                    Some(s) if c_rows > 0 => dc.copy_from_slice(&s[1].as_slice()[H * k..H * (k + 1)]),
                    _ => dc.fill(T::zero()),
                }
            }
            match grad {
                OutGrad::Steps(gs) => add(&mut b.dh[..H * size], gs[t].as_slice()),
                OutGrad::Packed(g) => add(&mut b.dh[..H * size], cols(g, H, at, size)),
                OutGrad::Last(_) => {}
            }
            let (prev, out) = (tape.prev_col(t), tape.out_col(t));
            let step = StepBack {
                hidden: H,
                gates: cols(&tape.gates, gh, at, size),
                extra: cols(&tape.extra, C::EXTRA * H, at, size),
                h_prev: tape.state(0, H, prev, size),
                c_prev: tape.state(1, H, prev, size),
                c: tape.state(1, H, out, size),
                dh: &b.dh[..H * size],
                dc: cols(&b.dc, c_rows, 0, size),
                dpx: cols_mut(&mut b.dpx, gh, at, size),
                dph: cols_mut(&mut b.dph, gh, at, size),
                dh_prev: &mut b.dh_prev[..H * size],
                dc_prev: cols_mut(&mut b.dc_prev, c_rows, 0, size),
            };
            backward_step::<T, C>(step);
            let dph = if C::SPLIT { cols(&b.dph, gh, at, size) } else { cols(&b.dpx, gh, at, size) };
            self.gates.hidden_grad(dph, size, &mut b.dh_prev[..H * size]);
            if let Some(k) = self.truncation {
                for (j, &length) in steps.lengths()[..size].iter().enumerate() {
                    if (length - t).is_multiple_of(k.get()) {
                        b.dh_prev[H * j..H * (j + 1)].fill(T::zero());
                        cols_mut(&mut b.dc_prev, c_rows, j, 1).fill(T::zero());
                    }
                }
            }
            std::mem::swap(&mut b.dh, &mut b.dh_prev);
            std::mem::swap(&mut b.dc, &mut b.dc_prev);
            if dead_below == Some(t) {
                first = t;
                break;
            }
        }

        self.initial_grad.resize_with(C::STATE_PARTS, empty);
        for (p, s) in self.initial_grad.iter_mut().enumerate() {
            ensure_cols(s, n);
            if first > 0 {
                s.fill(T::zero());
            } else {
                s.as_mut_slice().copy_from_slice(if p == 0 { &b.dh } else { &b.dc });
            }
        }
        let from = steps.offset(first);
        let active = total - from;
        let dph = if C::SPLIT { &b.dph } else { &b.dpx };
        let h_prev = if steps.is_uniform() { &tape.hs[..H * total] } else { &tape.hp };
        self.gates.backward_hidden_weights(&dph[gh * from..], &h_prev[H * from..], active);
        self.gates.backward_input_weights(&b.dpx[gh * from..], &tape.xs[I * from..], active);
        let dph = C::SPLIT.then(|| &b.dph[gh * from..]);
        self.gates.backward_biases(&b.dpx[gh * from..], dph, active);
        if let Some(dx) = dx {
            let (skipped, dx) = dx.split_at_mut(I * from);
            skipped.fill(T::zero());
            self.gates.input_grads(&b.dpx[gh * from..], active, dx);
        }
        Ok(())
    }

    /// The per-step API's backward: dL/dx_t into `input_grads` when asked.
    fn backward_steps(
        &mut self,
        grad: SeqGrad<'_, T, H>,
        final_grad: Option<&[Batch<T, H>]>,
        with_input_grads: bool,
    ) -> Result<(), ShapeError> {
        let grad = match grad {
            SeqGrad::Every(gs) => OutGrad::Steps(gs),
            SeqGrad::Last(g) => OutGrad::Last(g.as_slice()),
        };
        if !with_input_grads {
            return self.through_time(grad, final_grad, None);
        }
        let mut dxs = std::mem::take(&mut self.back.dxs);
        fit(&mut dxs, I * self.tape.steps.cols());
        let done = self.through_time(grad, final_grad, Some(&mut dxs));
        self.back.dxs = dxs;
        done?;
        let n = self.tape.steps.samples();
        self.input_grads.resize_with(self.tape.steps.steps(), empty);
        for (t, dx) in self.input_grads.iter_mut().enumerate() {
            ensure_cols(dx, n);
            dx.as_mut_slice().copy_from_slice(cols(&self.back.dxs, I, t * n, n));
        }
        Ok(())
    }

    /// Copies a sequence of one length and an initial state into `tape`, checking them.
    fn load(tape: &mut Tape<T>, xs: &[Batch<T, I>], initial: Option<&[Batch<T, H>]>) -> Result<(), ShapeError> {
        let n = sequence_cols(xs)?;
        if let Some(s) = initial {
            check_state("initial state", s, C::STATE_PARTS, n)?;
        }
        tape.steps.set_uniform(xs.len(), n);
        tape.resize::<C>(I, H);
        for (block, x) in tape.xs.chunks_exact_mut(I * n.max(1)).zip(xs) {
            block.copy_from_slice(x.as_slice());
        }
        for p in 0..C::STATE_PARTS {
            let h0 = cols_mut(if p == 0 { &mut tape.hs } else { &mut tape.cs }, H, 0, n);
            match initial {
                Some(s) => h0.copy_from_slice(s[p].as_slice()),
                None => h0.fill(T::zero()),
            }
        }
        Ok(())
    }

    /// Copies a packed batch into `tape` with a zero initial state, checking it.
    fn load_packed(tape: &mut Tape<T>, x: &Batch<T, I>, steps: &Steps) -> Result<(), ShapeError> {
        if x.ncols() != steps.cols() {
            return Err(ShapeError::Columns { expected: steps.cols(), found: x.ncols() });
        }
        if steps.steps() == 0 {
            return Err(ShapeError::EmptySequence);
        }
        tape.steps.copy_from(steps);
        tape.resize::<C>(I, H);
        tape.xs.copy_from_slice(x.as_slice());
        let n = steps.samples();
        tape.hs[..H * n].fill(T::zero());
        if !tape.cs.is_empty() {
            tape.cs[..H * n].fill(T::zero());
        }
        Ok(())
    }

    /// The packed outputs of the tape's last run.
    fn packed_outputs(tape: &Tape<T>) -> &[T] {
        &tape.hs[H * tape.steps.samples()..]
    }

    /// Shows the parameters under other names than `nn.LSTMCell`'s (the
    /// directions of `bidirectional`), in the same order.
    pub(crate) fn visit_as(&self, v: &mut dyn Visit<T>, names: &[&str; 4]) {
        self.gates.visit_as(v, names);
    }

    /// The mutable twin of [`Recurrent::visit_as`].
    pub(crate) fn visit_mut_as(&mut self, v: &mut dyn VisitMut<T>, names: &[&str; 4]) {
        self.gates.visit_mut_as(v, names);
    }
}

impl<T: Float, C: CellMath, const I: usize, const H: usize> SeqLayer<T, I, H> for Recurrent<T, C, I, H> {
    const STATE_PARTS: usize = C::STATE_PARTS;
    const KIND: &'static str = C::NAME;

    fn forward_seq(
        &mut self,
        xs: &[Batch<T, I>],
        initial: Option<&[Batch<T, H>]>,
    ) -> Result<&[Batch<T, H>], ShapeError> {
        Self::load(&mut self.tape, xs, initial)?;
        self.gates.cache_hidden_weights();
        self.tape.run::<C>(&self.gates, H, true);
        let n = self.tape.steps.samples();
        self.outputs.resize_with(xs.len(), empty);
        for (t, y) in self.outputs.iter_mut().enumerate() {
            ensure_cols(y, n);
            y.as_mut_slice().copy_from_slice(cols(Self::packed_outputs(&self.tape), H, t * n, n));
        }
        self.tape.final_state(C::STATE_PARTS, &mut self.final_state);
        Ok(&self.outputs)
    }

    fn forward_packed(&mut self, x: &Batch<T, I>, steps: &Steps, out: &mut Batch<T, H>) -> Result<(), ShapeError> {
        Self::load_packed(&mut self.tape, x, steps)?;
        let n = steps.samples();
        if self.carry.is_on() {
            let (hs, cs) = (&mut self.tape.hs, &mut self.tape.cs);
            self.carry.start([cols_mut(hs, H, 0, n), cols_mut(cs, H, 0, n)], steps.order());
        }
        self.gates.cache_hidden_weights();
        self.tape.run::<C>(&self.gates, H, true);
        ensure_cols(out, steps.cols());
        out.as_mut_slice().copy_from_slice(Self::packed_outputs(&self.tape));
        self.outputs.clear();
        self.tape.final_state(C::STATE_PARTS, &mut self.final_state);
        if self.carry.is_on() {
            let last = &self.final_state;
            self.carry.keep(steps.order(), |p, k| &last[p].as_slice()[H * k..H * (k + 1)]);
        }
        Ok(())
    }

    fn backward_seq(
        &mut self,
        grad: SeqGrad<'_, T, H>,
        final_grad: Option<&[Batch<T, H>]>,
    ) -> Result<&[Batch<T, I>], ShapeError> {
        self.backward_steps(grad, final_grad, true)?;
        Ok(&self.input_grads)
    }

    fn backward_seq_params(
        &mut self,
        grad: SeqGrad<'_, T, H>,
        final_grad: Option<&[Batch<T, H>]>,
    ) -> Result<(), ShapeError> {
        self.backward_steps(grad, final_grad, false)
    }

    fn backward_packed(&mut self, grad: PackedGrad<'_, T>, dx: Option<&mut Batch<T, I>>) -> Result<(), ShapeError> {
        let grad = match grad {
            PackedGrad::Every(g) => OutGrad::Packed(g),
            PackedGrad::Last(g) => OutGrad::Last(g),
        };
        match dx {
            Some(dx) => {
                ensure_cols(dx, self.tape.steps.cols());
                self.through_time(grad, None, Some(dx.as_mut_slice()))
            }
            None => self.through_time(grad, None, None),
        }
    }

    fn predict_seq(&self, xs: &[Batch<T, I>], initial: Option<&[Batch<T, H>]>) -> Result<Vec<Batch<T, H>>, ShapeError> {
        let mut tape = Tape::default();
        Self::load(&mut tape, xs, initial)?;
        tape.run::<C>(&self.gates, H, false);
        let n = tape.steps.samples();
        let outputs = Self::packed_outputs(&tape);
        Ok((0..xs.len()).map(|t| Batch::<T, H>::from_column_slice(cols(outputs, H, t * n, n))).collect())
    }

    fn predict_packed(&self, x: &Batch<T, I>, steps: &Steps) -> Result<Batch<T, H>, ShapeError> {
        let mut tape = Tape::default();
        Self::load_packed(&mut tape, x, steps)?;
        tape.run::<C>(&self.gates, H, false);
        Ok(Batch::<T, H>::from_column_slice(Self::packed_outputs(&tape)))
    }

    fn outputs(&self) -> &[Batch<T, H>] {
        &self.outputs
    }

    fn final_state(&self) -> &[Batch<T, H>] {
        &self.final_state
    }

    fn input_grads(&self) -> &[Batch<T, I>] {
        &self.input_grads
    }

    fn initial_state_grad(&self) -> &[Batch<T, H>] {
        &self.initial_grad
    }

    fn visit(&self, v: &mut dyn Visit<T>) {
        self.gates.visit(v);
        v.carry("state", Some(&self.carry));
    }

    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        self.gates.visit_mut(v);
        v.carry("state", Some(&mut self.carry));
    }
}

/// One step of cell `C`, as a kernel: run through [`dispatch`], the cells'
/// element-wise loops (inlined) vectorize for the widest instructions this
/// CPU has rather than for the baseline build.
struct CellStep<C, S>(S, PhantomData<C>);

impl<T: Float, C: CellMath> Kernel for CellStep<C, StepFwd<'_, T>> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        C::forward(self.0)
    }
}

impl<T: Float, C: CellMath> Kernel for CellStep<C, StepBack<'_, T>> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        C::backward(self.0)
    }
}

fn forward_step<T: Float, C: CellMath>(step: StepFwd<'_, T>) {
    dispatch(CellStep::<C, _>(step, PhantomData))
}

fn backward_step<T: Float, C: CellMath>(step: StepBack<'_, T>) {
    dispatch(CellStep::<C, _>(step, PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::test_support::{random_sequence, Outputs, SeqModel};
    use crate::rnn::{GruCell, LstmCell, RnnCell};
    use crate::testing::grad_check_at;
    use crate::{
        init::seeded_rng,
        layer::{visit_in, visit_mut_in},
        model::Model,
    };

    /// Two layers chained as a `seq` network would chain them (items "0" and "1").
    struct Stack<A, B, const M: usize> {
        a: A,
        b: B,
        /// The packed outputs of `a` and their gradient.
        mid: Batch<f64, M>,
        dmid: Batch<f64, M>,
    }

    impl<A: SeqLayer<f64, I, M>, B: SeqLayer<f64, M, H>, const I: usize, const M: usize, const H: usize>
        SeqLayer<f64, I, H> for Stack<A, B, M>
    {
        const STATE_PARTS: usize = 0;
        const KIND: &'static str = "stack";

        fn forward_seq(
            &mut self,
            xs: &[Batch<f64, I>],
            _initial: Option<&[Batch<f64, H>]>,
        ) -> Result<&[Batch<f64, H>], ShapeError> {
            let hs = self.a.forward_seq(xs, None)?;
            self.b.forward_seq(hs, None)
        }
        fn backward_seq(
            &mut self,
            grad: SeqGrad<'_, f64, H>,
            _final_grad: Option<&[Batch<f64, H>]>,
        ) -> Result<&[Batch<f64, I>], ShapeError> {
            let dh = self.b.backward_seq(grad, None)?;
            self.a.backward_seq(SeqGrad::Every(dh), None)
        }
        fn predict_seq(
            &self,
            xs: &[Batch<f64, I>],
            _initial: Option<&[Batch<f64, H>]>,
        ) -> Result<Vec<Batch<f64, H>>, ShapeError> {
            self.b.predict_seq(&self.a.predict_seq(xs, None)?, None)
        }
        fn forward_packed(
            &mut self,
            x: &Batch<f64, I>,
            steps: &Steps,
            out: &mut Batch<f64, H>,
        ) -> Result<(), ShapeError> {
            self.a.forward_packed(x, steps, &mut self.mid)?;
            self.b.forward_packed(&self.mid, steps, out)
        }
        fn backward_packed(
            &mut self,
            grad: PackedGrad<'_, f64>,
            dx: Option<&mut Batch<f64, I>>,
        ) -> Result<(), ShapeError> {
            self.b.backward_packed(grad, Some(&mut self.dmid))?;
            self.a.backward_packed(PackedGrad::Every(self.dmid.as_slice()), dx)
        }
        fn predict_packed(&self, x: &Batch<f64, I>, steps: &Steps) -> Result<Batch<f64, H>, ShapeError> {
            self.b.predict_packed(&self.a.predict_packed(x, steps)?, steps)
        }
        fn outputs(&self) -> &[Batch<f64, H>] {
            self.b.outputs()
        }
        fn final_state(&self) -> &[Batch<f64, H>] {
            &[]
        }
        fn input_grads(&self) -> &[Batch<f64, I>] {
            self.a.input_grads()
        }
        fn initial_state_grad(&self) -> &[Batch<f64, H>] {
            &[]
        }
        fn visit(&self, v: &mut dyn Visit<f64>) {
            visit_in(v, "0", |v| self.a.visit(v));
            visit_in(v, "1", |v| self.b.visit(v));
        }
        fn visit_mut(&mut self, v: &mut dyn VisitMut<f64>) {
            visit_mut_in(v, "0", |v| self.a.visit_mut(v));
            visit_mut_in(v, "1", |v| self.b.visit_mut(v));
        }
    }

    #[test]
    fn stacked_lstm_then_gru_gradients_match_finite_differences() {
        for (steps, outputs) in [(6, Outputs::EveryAndFinal), (8, Outputs::Last)] {
            let mut rng = seeded_rng(40);
            let stack: Stack<_, _, 5> = Stack {
                a: LstmCell::<f64, 3, 5>::new(&mut rng).with_forget_bias(1.0),
                b: GruCell::<f64, 5, 4>::new(&mut rng),
                mid: empty(),
                dmid: empty(),
            };
            let mut model = SeqModel::new(stack, outputs);
            let report = grad_check_at(&mut model, &random_sequence::<3>(steps, 3, 41), 42);
            assert_eq!(report.tensors[0], "0.weight_ih");
            assert_eq!(report.tensors[7], "1.bias_hh");
            report.assert_below(1e-6);
        }
    }

    /// The gradient of a truncated backward is the sum, over chunks of `k`
    /// steps counted from the end, of the full gradients of each chunk run on
    /// its own from the state the full forward reached.
    fn truncation_equals_chunked_backprop<C: CellMath>(steps: usize, k: usize) {
        let make = || Recurrent::<f64, C, 3, 4>::new(&mut seeded_rng(50));
        let k = NonZeroUsize::new(k);
        let x = random_sequence::<3>(steps, 2, 51);
        let mut truncated = SeqModel::new(make().with_truncation(k), Outputs::EveryAndFinal).with_random_initial(2, 52);
        let y = truncated.forward_view(x.as_view()).unwrap().into_owned();
        let g = random_sequence::<4>(y.nrows() / 4, 2, 53);
        let dx = truncated.backward_view(g.as_view()).unwrap().into_owned();

        let split = |m: &nalgebra::DMatrix<f64>, rows: usize| -> Vec<Batch<f64, 4>> {
            (0..m.nrows() / rows).map(|t| Batch::from_fn(2, |i, j| m[(t * rows + i, j)])).collect()
        };
        let xs: Vec<Batch<f64, 3>> = (0..steps).map(|t| Batch::from_fn(2, |i, j| x[(3 * t + i, j)])).collect();
        let gs = split(&g, 4);
        let mut reference = make();
        let mut state = truncated.initial.clone().unwrap();
        let mut bounds = vec![steps];
        while let Some(&b) = bounds.last().filter(|b| **b > 0) {
            bounds.push(b.saturating_sub(k.unwrap().get()));
        }
        bounds.reverse();
        let mut dx_ref = Vec::new();
        let mut initial_grad = Vec::new();
        for w in bounds.windows(2) {
            let (a, b) = (w[0], w[1]);
            reference.forward_seq(&xs[a..b], Some(&state)).unwrap();
            let final_grad = (b == steps).then(|| gs[steps..].to_vec());
            dx_ref.extend(reference.backward_seq(SeqGrad::Every(&gs[a..b]), final_grad.as_deref()).unwrap().to_vec());
            if a == 0 {
                initial_grad = reference.initial_state_grad().to_vec();
            }
            state = reference.final_state().to_vec();
        }
        if steps.is_multiple_of(k.unwrap().get()) {
            // The initial state is itself a cut point.
            initial_grad.iter_mut().for_each(|s| s.fill(0.0));
        }
        for (t, d) in dx_ref.iter().enumerate() {
            for (i, v) in d.iter().enumerate() {
                let ours = dx[(3 * t + i % 3, i / 3)];
                assert!((ours - v).abs() < 1e-12, "dx step {t}: {ours} vs {v}");
            }
        }
        assert_eq!(truncated.layer.initial_state_grad().len(), initial_grad.len());
        for (ours, theirs) in truncated.layer.initial_state_grad().iter().zip(&initial_grad) {
            assert!((ours - theirs).abs().max() < 1e-12, "initial state gradient");
        }
        let (ours, theirs) = (truncated.parameters(), SeqModel::new(reference, Outputs::Last).parameters());
        for (p, q) in ours.iter().zip(&theirs) {
            for (a, b) in p.grad.iter().zip(&q.grad) {
                assert!((a - b).abs() < 1e-12, "{}: {a} vs {b}", p.name);
            }
        }
    }

    /// The shortcut for a last-only gradient gives what the general path gives.
    fn truncated_last_equals_every_with_zeros<C: CellMath>(steps: usize, k: usize) {
        let make = || Recurrent::<f64, C, 3, 4>::new(&mut seeded_rng(54)).with_truncation(NonZeroUsize::new(k));
        let xs: Vec<Batch<f64, 3>> =
            (0..steps).map(|t| Batch::from_fn(2, |i, j| ((t * 7 + i * 3 + j) % 5) as f64 - 2.0)).collect();
        let mut gs = vec![Batch::<f64, 4>::zeros(2); steps];
        gs[steps - 1] = Batch::from_fn(2, |i, j| i as f64 - j as f64 + 0.5);
        let (mut last, mut every) = (make(), make());
        last.forward_seq(&xs, None).unwrap();
        every.forward_seq(&xs, None).unwrap();
        let dx_last = last.backward_seq(SeqGrad::Last(&gs[steps - 1]), None).unwrap().to_vec();
        let dx_every = every.backward_seq(SeqGrad::Every(&gs), None).unwrap().to_vec();
        assert_eq!(dx_last, dx_every);
        assert!(dx_last[steps - 1].iter().any(|v| *v != 0.0));
        assert_eq!(last.initial_state_grad(), every.initial_state_grad());
        let params = |c: &Recurrent<f64, C, 3, 4>| SeqModel::new(c.clone(), Outputs::Last).parameters();
        assert_eq!(params(&last), params(&every));
    }

    #[test]
    fn truncated_backprop_is_chunked_backprop_from_the_end() {
        for (steps, k) in [(10, 3), (9, 3), (4, 7)] {
            truncated_last_equals_every_with_zeros::<crate::rnn::Lstm>(steps, k);
            truncated_last_equals_every_with_zeros::<crate::rnn::Gru>(steps, k);
        }
        for (steps, k) in [(8, 3), (9, 3), (5, 1), (4, 7)] {
            truncation_equals_chunked_backprop::<crate::rnn::Lstm>(steps, k);
            truncation_equals_chunked_backprop::<crate::rnn::Gru>(steps, k);
            truncation_equals_chunked_backprop::<crate::rnn::Rnn>(steps, k);
        }
    }

    fn seq<const N: usize>(cols: &[usize]) -> Vec<Batch<f64, N>> {
        cols.iter().enumerate().map(|(t, &n)| Batch::from_fn(n, |i, j| (t + i + j) as f64 * 0.1 - 0.3)).collect()
    }

    #[test]
    fn bad_sequences_and_states_are_errors() {
        let mut lstm = LstmCell::<f64, 2, 3>::new(&mut seeded_rng(60));
        let g = seq::<3>(&[2, 2, 2]);
        assert_eq!(lstm.backward_seq(SeqGrad::Every(&g), None).unwrap_err(), ShapeError::NoForward);
        assert_eq!(lstm.forward_seq(&[], None).unwrap_err(), ShapeError::EmptySequence);
        assert_eq!(lstm.predict_seq(&[], None).unwrap_err(), ShapeError::EmptySequence);
        assert_eq!(
            lstm.forward_seq(&seq::<2>(&[2, 2, 3]), None).unwrap_err(),
            ShapeError::RaggedSequence { step: 2, expected: 2, found: 3 }
        );
        let h_only = seq::<3>(&[2]);
        assert_eq!(
            lstm.forward_seq(&seq::<2>(&[2, 2, 2]), Some(&h_only)).unwrap_err(),
            ShapeError::StateParts { what: "initial state", expected: 2, found: 1 }
        );
        assert_eq!(
            lstm.forward_seq(&seq::<2>(&[2, 2, 2]), Some(&seq::<3>(&[2, 1]))).unwrap_err(),
            ShapeError::StateBatch { what: "initial state", expected: 2, found: 1 }
        );
        // Failed forwards leave nothing to back-propagate.
        assert_eq!(lstm.backward_seq(SeqGrad::Every(&g), None).unwrap_err(), ShapeError::NoForward);

        lstm.forward_seq(&seq::<2>(&[2, 2, 2]), None).unwrap();
        assert_eq!(
            lstm.backward_seq(SeqGrad::Every(&g[..2]), None).unwrap_err(),
            ShapeError::SequenceLength { expected: 3, found: 2 }
        );
        assert_eq!(
            lstm.backward_seq(SeqGrad::Every(&seq::<3>(&[2, 4, 2])), None).unwrap_err(),
            ShapeError::BatchSize { forward: 2, backward: 4 }
        );
        assert_eq!(
            lstm.backward_seq(SeqGrad::Last(&Batch::zeros(1)), None).unwrap_err(),
            ShapeError::BatchSize { forward: 2, backward: 1 }
        );
        assert_eq!(
            lstm.backward_seq(SeqGrad::Last(&g[0]), Some(&h_only)).unwrap_err(),
            ShapeError::StateParts { what: "final state gradient", expected: 2, found: 1 }
        );
        let mut gru = GruCell::<f64, 2, 3>::new(&mut seeded_rng(61));
        assert_eq!(
            gru.forward_seq(&seq::<2>(&[2, 2]), Some(&seq::<3>(&[2, 2]))).unwrap_err(),
            ShapeError::StateParts { what: "initial state", expected: 1, found: 2 }
        );
        assert!(ShapeError::StateParts { what: "initial state", expected: 2, found: 1 }
            .to_string()
            .contains("h and c for LSTM"));
    }

    #[test]
    fn failed_forward_keeps_the_previous_tape() {
        let mut rnn = RnnCell::<f64, 2, 3>::new(&mut seeded_rng(62));
        let xs = seq::<2>(&[2, 2]);
        rnn.forward_seq(&xs, None).unwrap();
        assert!(rnn.forward_seq(&seq::<2>(&[2, 1]), None).is_err());
        let g = seq::<3>(&[2, 2]);
        assert_eq!(rnn.backward_seq(SeqGrad::Every(&g), None).unwrap().len(), 2);
    }

    #[test]
    fn initialization_is_pytorch_with_orthogonal_recurrent_blocks() {
        let lstm = LstmCell::<f64, 3, 5>::new(&mut seeded_rng(63));
        let bound = 1.0 / 5f64.sqrt();
        let g = &lstm.gates;
        for v in [&g.weight_ih.value, &g.bias_ih.value, &g.bias_hh.value] {
            assert!(v.iter().all(|x| x.abs() <= bound));
            assert!(v.iter().any(|x| x.abs() > 0.5 * bound), "spread over the whole range");
        }
        for block in g.weight_hh.value.chunks_exact(25) {
            let w = nalgebra::DMatrix::from_row_slice(5, 5, block);
            assert!((&w * w.transpose() - nalgebra::DMatrix::identity(5, 5)).amax() < 1e-12);
        }
        assert_ne!(g.weight_hh.value[..25], g.weight_hh.value[25..50], "each gate block drawn on its own");

        let uniform = GruCell::<f64, 3, 5>::with_recurrent_init(&mut seeded_rng(63), Init::Uniform(bound));
        assert!(uniform.gates.weight_hh.value.iter().all(|x| x.abs() <= bound));
        assert_eq!(uniform.gates.weight_hh.value.len(), 3 * 5 * 5);

        let lstm = lstm.with_forget_bias(1.0);
        for k in 0..5 {
            assert_eq!(lstm.gates.bias_ih.value[5 + k] + lstm.gates.bias_hh.value[5 + k], 1.0);
        }
        assert!(lstm.gates.bias_ih.value[..5].iter().all(|b| b.abs() <= bound), "other gates untouched");
    }

    #[test]
    fn same_seed_same_weights_and_f32_is_rounded_f64() {
        let a = GruCell::<f64, 3, 4>::new(&mut seeded_rng(64));
        let b = GruCell::<f32, 3, 4>::new(&mut seeded_rng(64));
        for (x, y) in a.gates.weight_hh.value.iter().zip(&b.gates.weight_hh.value) {
            assert_eq!(*x as f32, *y);
        }
    }

    #[test]
    fn gradients_accumulate_and_buffers_follow_size_changes() {
        let mut lstm = LstmCell::<f64, 2, 3>::new(&mut seeded_rng(65));
        let grads = |c: &LstmCell<f64, 2, 3>| -> Vec<f64> {
            struct G(Vec<f64>);
            impl Visit<f64> for G {
                fn param(&mut self, p: crate::layer::ParamRef<'_, f64>) {
                    self.0.extend_from_slice(p.grad);
                }
            }
            let mut g = G(Vec::new());
            c.visit(&mut g);
            g.0
        };
        let (xs, g) = (seq::<2>(&[3; 4]), seq::<3>(&[3; 4]));
        let y = lstm.forward_seq(&xs, None).unwrap().to_vec();
        let dx = lstm.backward_seq(SeqGrad::Every(&g), None).unwrap().to_vec();
        let once = grads(&lstm);
        assert!(once.iter().any(|v| *v != 0.0));
        // A different (steps, batch) in between must not disturb the next run.
        lstm.forward_seq(&seq::<2>(&[1; 7]), None).unwrap();
        lstm.backward_seq(SeqGrad::Last(&Batch::zeros(1)), None).unwrap();
        assert_eq!(lstm.forward_seq(&xs, None).unwrap(), &y[..]);
        assert_eq!(lstm.backward_seq(SeqGrad::Every(&g), None).unwrap(), &dx[..]);
        for (a, b) in grads(&lstm).iter().zip(&once) {
            assert!((a - 2.0 * b).abs() < 1e-12);
        }
    }

    #[test]
    fn a_batch_of_no_samples_gives_empty_outputs_and_no_gradient() {
        let mut lstm = LstmCell::<f64, 2, 3>::new(&mut seeded_rng(67));
        lstm.forward_seq(&seq::<2>(&[2; 3]), None).unwrap();
        lstm.backward_seq(SeqGrad::Last(&Batch::zeros(2)), None).unwrap();
        lstm.visit_mut(&mut crate::layer::ZeroGrad);
        let ys = lstm.forward_seq(&seq::<2>(&[0; 3]), None).unwrap();
        assert!(ys.len() == 3 && ys.iter().all(|y| y.ncols() == 0));
        let dx = lstm.backward_seq(SeqGrad::Every(&seq::<3>(&[0; 3])), None).unwrap();
        assert!(dx.len() == 3 && dx.iter().all(|d| d.ncols() == 0));
        assert!(lstm.gates.weight_hh.grad.iter().all(|g| *g == 0.0));
    }

    #[test]
    fn outputs_are_the_hidden_states_and_predict_agrees() {
        let mut gru = GruCell::<f32, 2, 3>::new(&mut seeded_rng(66));
        let xs: Vec<Batch<f32, 2>> = (0..6).map(|t| Batch::from_fn(4, |i, j| (t * 3 + i + j) as f32 * 0.05)).collect();
        let ys = gru.forward_seq(&xs, None).unwrap().to_vec();
        assert_eq!(ys.len(), 6);
        assert_eq!(gru.final_state(), &ys[5..]);
        assert_eq!(gru.predict_seq(&xs, None).unwrap(), ys);
        // Continuing from the final state is running the longer sequence.
        let tail = gru.predict_seq(&xs[3..], Some(&[ys[2].clone()])).unwrap();
        assert_eq!(tail, ys[3..]);
    }

    #[test]
    fn packed_forward_of_one_length_is_forward_seq_and_backward_follows_it() {
        fn check<C: CellMath>(seed: u64) {
            let xs: Vec<Batch<f64, 2>> =
                (0..5).map(|t| Batch::from_fn(3, |i, j| ((t * 7 + i * 3 + j) as f64).sin())).collect();
            let gs: Vec<Batch<f64, 4>> =
                (0..5).map(|t| Batch::from_fn(3, |i, j| ((t + 2 * i + j) as f64).cos())).collect();
            let mut by_steps = Recurrent::<f64, C, 2, 4>::new(&mut seeded_rng(seed));
            let mut packed = by_steps.clone();
            let ys = by_steps.forward_seq(&xs, None).unwrap().to_vec();
            let dx = by_steps.backward_seq(SeqGrad::Every(&gs), None).unwrap().to_vec();

            let steps = Steps::uniform(5, 3);
            let flat = |bs: &[Batch<f64, 4>]| bs.iter().flat_map(|b| b.iter().copied()).collect::<Vec<f64>>();
            let x = Batch::<f64, 2>::from_column_slice(&xs.iter().flat_map(|b| b.iter().copied()).collect::<Vec<_>>());
            let mut y = empty();
            packed.forward_packed(&x, &steps, &mut y).unwrap();
            assert_eq!(y.as_slice(), &flat(&ys)[..], "{}", C::NAME);
            assert_eq!(packed.final_state(), by_steps.final_state());
            assert!(packed.outputs().is_empty(), "the outputs are in `y`");
            let mut dx_packed = empty();
            packed.backward_packed(PackedGrad::Every(&flat(&gs)), Some(&mut dx_packed)).unwrap();
            let dx_flat: Vec<f64> = dx.iter().flat_map(|b| b.iter().copied()).collect();
            assert_eq!(dx_packed.as_slice(), &dx_flat[..]);
            assert_eq!(*packed.gates.weight_hh.grad, *by_steps.gates.weight_hh.grad);
            // A batch whose columns are not its steps' changes nothing.
            let odd = Batch::<f64, 2>::zeros(7);
            assert_eq!(
                packed.forward_packed(&odd, &steps, &mut y),
                Err(ShapeError::Columns { expected: 15, found: 7 })
            );
            assert_eq!(y.as_slice(), &flat(&ys)[..]);
        }
        check::<crate::rnn::Lstm>(70);
        check::<crate::rnn::Gru>(71);
        check::<crate::rnn::Rnn>(72);
    }

    /// A batch of mixed lengths, packed, gives each sequence what running it
    /// alone gives: outputs, final state, dL/dx and parameter gradients (the
    /// batch's are the sum of the sequences'), with every output in the loss
    /// or each sequence's last only, with and without truncation.
    fn mixed_lengths_equal_each_sequence_alone<C: CellMath>(truncation: Option<usize>) {
        let lengths = [3, 7, 1, 5, 7, 2];
        let make = || {
            Recurrent::<f64, C, 2, 3>::new(&mut seeded_rng(80)).with_truncation(truncation.and_then(NonZeroUsize::new))
        };
        let value = |j: usize, t: usize, i: usize| ((j * 31 + t * 7 + i * 3) as f64 * 0.37).sin();
        let grad = |j: usize, t: usize, i: usize| ((j * 13 + t * 5 + i) as f64 * 0.61).cos();
        let steps = Steps::from_lengths(&lengths, 8).unwrap();
        let mut x = empty::<f64, 2>();
        crate::rnn::pack_with(
            &steps,
            2,
            {
                ensure_cols(&mut x, steps.cols());
                x.as_mut_slice()
            },
            |t, j, c| c.iter_mut().enumerate().for_each(|(i, v)| *v = value(j, t, i)),
        );
        for last_only in [false, true] {
            let mut batch = make();
            let mut y = empty();
            batch.forward_packed(&x, &steps, &mut y).unwrap();
            let mut g = vec![0.0; 3 * if last_only { lengths.len() } else { steps.cols() }];
            if last_only {
                for (k, &j) in steps.order().iter().enumerate() {
                    g[3 * k..3 * k + 3].iter_mut().enumerate().for_each(|(i, v)| *v = grad(j, 0, i));
                }
            } else {
                crate::rnn::pack_with(&steps, 3, &mut g, |t, j, c| {
                    c.iter_mut().enumerate().for_each(|(i, v)| *v = grad(j, t, i))
                });
            }
            let mut dx = empty();
            let packed_grad = if last_only { PackedGrad::Last(&g) } else { PackedGrad::Every(&g) };
            batch.backward_packed(packed_grad, Some(&mut dx)).unwrap();

            let gates = C::GATES * 3;
            let mut alone_grads = vec![0.0; gates * 2 + gates * 3 + 2 * gates];
            for (k, &j) in steps.order().iter().enumerate() {
                let length = lengths[j];
                let xs: Vec<Batch<f64, 2>> = (0..length).map(|t| Batch::from_fn(1, |i, _| value(j, t, i))).collect();
                let mut alone = make();
                let ys = alone.forward_seq(&xs, None).unwrap().to_vec();
                let dxs = if last_only {
                    let g = Batch::<f64, 3>::from_fn(1, |i, _| grad(j, 0, i));
                    alone.backward_seq(SeqGrad::Last(&g), None).unwrap().to_vec()
                } else {
                    let gs: Vec<Batch<f64, 3>> = (0..length).map(|t| Batch::from_fn(1, |i, _| grad(j, t, i))).collect();
                    alone.backward_seq(SeqGrad::Every(&gs), None).unwrap().to_vec()
                };
                for t in 0..length {
                    let c = steps.offset(t) + k;
                    for i in 0..3 {
                        assert!((y[(i, c)] - ys[t][i]).abs() < 1e-14, "{} output of sample {j} at step {t}", C::NAME);
                    }
                    for i in 0..2 {
                        assert!((dx[(i, c)] - dxs[t][i]).abs() < 1e-13, "{} dL/dx of sample {j} at step {t}", C::NAME);
                    }
                }
                for (p, s) in alone.final_state().iter().enumerate() {
                    let d = (batch.final_state()[p].column(k) - s.column(0)).amax();
                    assert!(d < 1e-14, "{} final state of sample {j}", C::NAME);
                }
                let mut at = 0;
                for p in [&alone.gates.weight_ih, &alone.gates.weight_hh, &alone.gates.bias_ih, &alone.gates.bias_hh] {
                    for (sum, g) in alone_grads[at..].iter_mut().zip(&p.grad) {
                        *sum += g;
                    }
                    at += p.grad.len();
                }
            }
            let batch_grads: Vec<f64> =
                [&batch.gates.weight_ih, &batch.gates.weight_hh, &batch.gates.bias_ih, &batch.gates.bias_hh]
                    .iter()
                    .flat_map(|p| p.grad.iter().copied())
                    .collect();
            assert_eq!(batch_grads.len(), gates * 2 + gates * 3 + 2 * gates);
            for (a, b) in batch_grads.iter().zip(&alone_grads) {
                assert!((a - b).abs() < 1e-12, "{} parameter gradient {a} vs {b} (last only: {last_only})", C::NAME);
            }
        }
    }

    #[test]
    fn mixed_lengths_run_as_each_sequence_alone() {
        for truncation in [None, Some(2), Some(3)] {
            mixed_lengths_equal_each_sequence_alone::<crate::rnn::Lstm>(truncation);
            mixed_lengths_equal_each_sequence_alone::<crate::rnn::Gru>(truncation);
            mixed_lengths_equal_each_sequence_alone::<crate::rnn::Rnn>(truncation);
        }
    }
}
