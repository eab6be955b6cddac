//! [`Recurrent`]: a cell run over a whole sequence, and backpropagation
//! through time. The time loop, buffers and truncation live here once for
//! all cells; the cells supply only their element-wise step ([`CellMath`]).

use std::marker::PhantomData;
use std::num::NonZeroUsize;

use rand::Rng;

use super::cell::{add, CellMath, StepBack, StepFwd};
use super::gates::Gates;
use super::{SeqGrad, SeqLayer};
use crate::kernels::{dispatch, Kernel, Level};
use crate::layer::{empty, ensure_cols};
use crate::{Batch, Float, Init, ShapeError, Visit, VisitMut};

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
    cell: PhantomData<C>,
}

/// Everything one forward over a sequence of `steps` steps of `cols` samples
/// leaves for backward, contiguous over time so the weight gradients are one
/// product each.
#[derive(Clone, Debug, Default)]
struct Tape<T> {
    steps: usize,
    cols: usize,
    /// `I x steps*cols`: the inputs, step after step.
    xs: Vec<T>,
    /// `G*H x steps*cols`: input projections, then what each step caches.
    gates: Vec<T>,
    /// `G*H x cols`: the recurrent projection of the current step.
    ph: Vec<T>,
    /// `EXTRA*H x steps*cols`.
    extra: Vec<T>,
    /// `H x (steps+1)*cols`: `h_0` (the initial state) to `h_steps`.
    hs: Vec<T>,
    /// As `hs` for the LSTM cell state; empty for the other cells.
    cs: Vec<T>,
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

/// Resizes without allocating when the length is unchanged.
fn fit<T: Float>(v: &mut Vec<T>, len: usize) {
    if v.len() != len {
        v.clear();
        v.resize(len, T::zero());
    }
}

/// Step `t` (read) and step `t + 1` (written) of a buffer holding consecutive
/// blocks of `len` elements; two empty slices for an unused buffer.
fn step_pair<T>(buf: &mut [T], t: usize, len: usize) -> (&[T], &mut [T]) {
    if buf.is_empty() {
        return (&[], &mut []);
    }
    let (before, after) = buf.split_at_mut((t + 1) * len);
    (&before[t * len..], &mut after[..len])
}

fn block<T>(buf: &[T], t: usize, len: usize) -> &[T] {
    if buf.is_empty() {
        &[]
    } else {
        &buf[t * len..(t + 1) * len]
    }
}

fn block_mut<T>(buf: &mut [T], t: usize, len: usize) -> &mut [T] {
    if buf.is_empty() {
        &mut []
    } else {
        &mut buf[t * len..(t + 1) * len]
    }
}

impl<T: Float> Tape<T> {
    fn resize<C: CellMath>(&mut self, steps: usize, cols: usize, input: usize, hidden: usize) {
        let (sn, gh) = (steps * cols, C::GATES * hidden);
        self.steps = steps;
        self.cols = cols;
        fit(&mut self.xs, input * sn);
        fit(&mut self.gates, gh * sn);
        fit(&mut self.ph, if C::SPLIT { gh * cols } else { 0 });
        fit(&mut self.extra, C::EXTRA * hidden * sn);
        fit(&mut self.hs, hidden * (sn + cols));
        fit(&mut self.cs, if C::STATE_PARTS == 2 { hidden * (sn + cols) } else { 0 });
    }

    /// Runs the cell over the inputs and initial state already in the tape;
    /// `cached`: see [`Gates::project_hidden`].
    fn run<C: CellMath>(&mut self, gates: &Gates<T>, hidden: usize, cached: bool) {
        let (n, hn, ghn) = (self.cols, hidden * self.cols, C::GATES * hidden * self.cols);
        gates.project_inputs(&self.xs, self.steps * n, &mut self.gates, !C::SPLIT);
        for t in 0..self.steps {
            let (h_prev, h) = step_pair(&mut self.hs, t, hn);
            if C::SPLIT {
                gates.project_hidden(h_prev, n, &mut self.ph, cached, false);
            } else {
                gates.project_hidden(h_prev, n, block_mut(&mut self.gates, t, ghn), cached, true);
            }
            let (c_prev, c) = step_pair(&mut self.cs, t, hn);
            let step = StepFwd {
                hidden,
                gates: block_mut(&mut self.gates, t, ghn),
                ph: &self.ph,
                h_prev,
                c_prev,
                h,
                c,
                extra: block_mut(&mut self.extra, t, C::EXTRA * hn),
            };
            forward_step::<T, C>(step);
        }
    }

    /// The state part `p` (0: `h`, 1: `c`) after step `t` (`t = 0` is the initial state).
    fn state(&self, p: usize, t: usize, hidden: usize) -> &[T] {
        let buf = if p == 0 { &self.hs } else { &self.cs };
        block(buf, t, hidden * self.cols)
    }

    fn state_mut(&mut self, p: usize, t: usize, hidden: usize) -> &mut [T] {
        let len = hidden * self.cols;
        let buf = if p == 0 { &mut self.hs } else { &mut self.cs };
        block_mut(buf, t, len)
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
            cell: PhantomData,
        }
    }

    /// Truncated backpropagation through time: with `Some(k)`, gradients cross
    /// the recurrence for at most `k` steps. The state entering steps
    /// `S - k`, `S - 2k`, ... of a length-`S` sequence is treated as a
    /// constant in backward (as `h.detach()` every `k` steps in PyTorch,
    /// counted from the end, so the last step's gradient reaches exactly `k`
    /// steps back). Forward is unchanged. `None` (the default) is full BPTT.
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

    /// Back-propagation through time; dL/dx_t only `with_input_grads`.
    fn through_time(
        &mut self,
        grad: SeqGrad<'_, T, H>,
        final_grad: Option<&[Batch<T, H>]>,
        with_input_grads: bool,
    ) -> Result<(), ShapeError> {
        let (steps, n) = (self.tape.steps, self.tape.cols);
        if steps == 0 {
            return Err(ShapeError::NoForward);
        }
        match grad {
            SeqGrad::Every(gs) if gs.len() != steps => {
                return Err(ShapeError::SequenceLength { expected: steps, found: gs.len() })
            }
            SeqGrad::Every(gs) => {
                if let Some(g) = gs.iter().find(|g| g.ncols() != n) {
                    return Err(ShapeError::BatchSize { forward: n, backward: g.ncols() });
                }
            }
            SeqGrad::Last(g) if g.ncols() != n => {
                return Err(ShapeError::BatchSize { forward: n, backward: g.ncols() })
            }
            SeqGrad::Last(_) => {}
        }
        if let Some(s) = final_grad {
            check_state("final state gradient", s, C::STATE_PARTS, n)?;
        }

        let (hn, ghn, sn) = (H * n, C::GATES * H * n, steps * n);
        let tape = &self.tape;
        let b = &mut self.back;
        fit(&mut b.dpx, C::GATES * H * sn);
        fit(&mut b.dph, if C::SPLIT { C::GATES * H * sn } else { 0 });
        let c_len = if C::STATE_PARTS == 2 { hn } else { 0 };
        fit(&mut b.dh, hn);
        fit(&mut b.dh_prev, hn);
        fit(&mut b.dc, c_len);
        fit(&mut b.dc_prev, c_len);
        match final_grad {
            Some(s) => {
                b.dh.copy_from_slice(s[0].as_slice());
                if C::STATE_PARTS == 2 {
                    b.dc.copy_from_slice(s[1].as_slice());
                }
            }
            None => {
                b.dh.fill(T::zero());
                b.dc.fill(T::zero());
            }
        }
        if let SeqGrad::Last(g) = grad {
            add(&mut b.dh, g.as_slice());
        }

        // Steps before `first` get no gradient: with only the last output in
        // the loss, nothing reaches below a truncation cut, so truncated
        // training on long sequences costs k steps of backward, not S.
        let mut first = 0;
        for t in (0..steps).rev() {
            if let SeqGrad::Every(gs) = grad {
                add(&mut b.dh, gs[t].as_slice());
            }
            let step = StepBack {
                hidden: H,
                gates: block(&tape.gates, t, ghn),
                extra: block(&tape.extra, t, C::EXTRA * hn),
                h_prev: tape.state(0, t, H),
                c_prev: tape.state(1, t, H),
                c: tape.state(1, t + 1, H),
                dh: &b.dh,
                dc: &b.dc,
                dpx: block_mut(&mut b.dpx, t, ghn),
                dph: block_mut(&mut b.dph, t, ghn),
                dh_prev: &mut b.dh_prev,
                dc_prev: &mut b.dc_prev,
            };
            backward_step::<T, C>(step);
            let dph = if C::SPLIT { block(&b.dph, t, ghn) } else { block(&b.dpx, t, ghn) };
            self.gates.hidden_grad(dph, n, &mut b.dh_prev);
            let cut = self.truncation.is_some_and(|k| (steps - t) % k.get() == 0);
            if cut {
                b.dh_prev.fill(T::zero());
                b.dc_prev.fill(T::zero());
            }
            std::mem::swap(&mut b.dh, &mut b.dh_prev);
            std::mem::swap(&mut b.dc, &mut b.dc_prev);
            if cut && matches!(grad, SeqGrad::Last(_)) {
                first = t;
                break;
            }
        }

        self.initial_grad.resize_with(C::STATE_PARTS, empty);
        for (p, s) in self.initial_grad.iter_mut().enumerate() {
            ensure_cols(s, n);
            s.as_mut_slice().copy_from_slice(if p == 0 { &b.dh } else { &b.dc });
        }
        let active = (steps - first) * n;
        let dph = if C::SPLIT { &b.dph } else { &b.dpx };
        self.gates.backward_hidden_weights(&dph[first * ghn..], &tape.hs[first * hn..steps * hn], active);
        self.gates.backward_input_weights(&b.dpx[first * ghn..], &tape.xs[first * I * n..], active);
        let dph = C::SPLIT.then(|| &b.dph[first * ghn..]);
        self.gates.backward_biases(&b.dpx[first * ghn..], dph, active);
        if with_input_grads {
            fit(&mut b.dxs, I * sn);
            let (skipped, dxs) = b.dxs.split_at_mut(first * I * n);
            skipped.fill(T::zero());
            self.gates.input_grads(&b.dpx[first * ghn..], active, dxs);
            self.input_grads.resize_with(steps, empty);
            for (t, dx) in self.input_grads.iter_mut().enumerate() {
                ensure_cols(dx, n);
                dx.as_mut_slice().copy_from_slice(block(&b.dxs, t, I * n));
            }
        }
        Ok(())
    }

    /// Copies the sequence and initial state into `tape`, checking them.
    fn load(tape: &mut Tape<T>, xs: &[Batch<T, I>], initial: Option<&[Batch<T, H>]>) -> Result<(), ShapeError> {
        let cols = sequence_cols(xs)?;
        if let Some(s) = initial {
            check_state("initial state", s, C::STATE_PARTS, cols)?;
        }
        tape.resize::<C>(xs.len(), cols, I, H);
        for (t, x) in xs.iter().enumerate() {
            block_mut(&mut tape.xs, t, I * cols).copy_from_slice(x.as_slice());
        }
        for p in 0..C::STATE_PARTS {
            let dst = tape.state_mut(p, 0, H);
            match initial {
                Some(s) => dst.copy_from_slice(s[p].as_slice()),
                None => dst.fill(T::zero()),
            }
        }
        Ok(())
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
        let (steps, cols) = (self.tape.steps, self.tape.cols);
        self.outputs.resize_with(steps, empty);
        for (t, y) in self.outputs.iter_mut().enumerate() {
            ensure_cols(y, cols);
            y.as_mut_slice().copy_from_slice(self.tape.state(0, t + 1, H));
        }
        self.final_state.resize_with(C::STATE_PARTS, empty);
        for (p, s) in self.final_state.iter_mut().enumerate() {
            ensure_cols(s, cols);
            s.as_mut_slice().copy_from_slice(self.tape.state(p, steps, H));
        }
        Ok(&self.outputs)
    }

    fn forward_wide(&mut self, x: &Batch<T, I>, steps: usize, out: &mut Batch<T, H>) -> Result<(), ShapeError> {
        let cols = super::unrolled::batch_of(x.ncols(), steps)?;
        let tape = &mut self.tape;
        tape.resize::<C>(steps, cols, I, H);
        tape.xs.copy_from_slice(x.as_slice());
        for p in 0..C::STATE_PARTS {
            tape.state_mut(p, 0, H).fill(T::zero());
        }
        self.gates.cache_hidden_weights();
        tape.run::<C>(&self.gates, H, true);
        ensure_cols(out, steps * cols);
        out.as_mut_slice().copy_from_slice(&tape.hs[H * cols..]);
        self.outputs.clear();
        self.final_state.resize_with(C::STATE_PARTS, empty);
        for (p, s) in self.final_state.iter_mut().enumerate() {
            ensure_cols(s, cols);
            s.as_mut_slice().copy_from_slice(tape.state(p, steps, H));
        }
        Ok(())
    }

    fn backward_seq(
        &mut self,
        grad: SeqGrad<'_, T, H>,
        final_grad: Option<&[Batch<T, H>]>,
    ) -> Result<&[Batch<T, I>], ShapeError> {
        self.through_time(grad, final_grad, true)?;
        Ok(&self.input_grads)
    }

    fn backward_seq_params(
        &mut self,
        grad: SeqGrad<'_, T, H>,
        final_grad: Option<&[Batch<T, H>]>,
    ) -> Result<(), ShapeError> {
        self.through_time(grad, final_grad, false)
    }

    fn predict_seq(&self, xs: &[Batch<T, I>], initial: Option<&[Batch<T, H>]>) -> Result<Vec<Batch<T, H>>, ShapeError> {
        let mut tape = Tape::default();
        Self::load(&mut tape, xs, initial)?;
        tape.run::<C>(&self.gates, H, false);
        Ok((1..=tape.steps).map(|t| Batch::<T, H>::from_column_slice(tape.state(0, t, H))).collect())
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
    }

    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        self.gates.visit_mut(v);
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
    use crate::{seeded_rng, visit_in, visit_mut_in, Model};

    /// Two layers chained as a `seq` network would chain them (items "0" and "1").
    struct Stack<A, B, const M: usize> {
        a: A,
        b: B,
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
                fn param(&mut self, p: crate::ParamRef<'_, f64>) {
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
        lstm.visit_mut(&mut crate::ZeroGrad);
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
    fn wide_forward_is_forward_seq_and_backward_follows_it() {
        fn check<C: CellMath>(seed: u64) {
            let xs: Vec<Batch<f64, 2>> =
                (0..5).map(|t| Batch::from_fn(3, |i, j| ((t * 7 + i * 3 + j) as f64).sin())).collect();
            let gs: Vec<Batch<f64, 4>> =
                (0..5).map(|t| Batch::from_fn(3, |i, j| ((t + 2 * i + j) as f64).cos())).collect();
            let mut by_steps = Recurrent::<f64, C, 2, 4>::new(&mut seeded_rng(seed));
            let mut wide = by_steps.clone();
            let ys = by_steps.forward_seq(&xs, None).unwrap().to_vec();
            let dx = by_steps.backward_seq(SeqGrad::Every(&gs), None).unwrap().to_vec();

            let mut x = empty();
            crate::rnn::steps_into_wide(&xs, &mut x).unwrap();
            let mut y = empty();
            wide.forward_wide(&x, 5, &mut y).unwrap();
            let mut want = empty();
            crate::rnn::steps_into_wide(&ys, &mut want).unwrap();
            assert_eq!(y, want, "{}", C::NAME);
            assert_eq!(wide.final_state(), by_steps.final_state());
            assert!(wide.outputs().is_empty(), "the outputs are in `y`");
            assert_eq!(wide.backward_seq(SeqGrad::Every(&gs), None).unwrap(), &dx[..]);
            assert_eq!(wide.gates.weight_hh.grad, by_steps.gates.weight_hh.grad);
            // A width that is not a whole number of steps changes nothing.
            let odd = Batch::<f64, 2>::zeros(7);
            assert_eq!(wide.forward_wide(&odd, 5, &mut y), Err(ShapeError::StepColumns { steps: 5, found: 7 }));
            assert_eq!(y, want);
        }
        check::<crate::rnn::Lstm>(70);
        check::<crate::rnn::Gru>(71);
        check::<crate::rnn::Rnn>(72);
    }
}
