//! Sequences as wide batches, the layout a `seq` network of `network!` runs on.
//!
//! A sequence of `steps` steps of `n` samples is one `Batch<T, N>` of
//! `steps * n` columns: step `t` is columns `t*n .. (t+1)*n`. Position-wise
//! layers (dense, activations, layer_norm, dropout) then apply to every step
//! with shared parameters by treating the steps as more samples, in one
//! product; [`Unrolled`] runs a recurrent [`SeqLayer`] on such a batch, and
//! [`Last`] keeps its final step. Column-major storage makes each step a
//! contiguous block, so converting to and from `&[Batch<T, N>]` is a copy of
//! blocks.

use nalgebra::{DMatrix, DMatrixView};

use super::{SeqGrad, SeqLayer};
use crate::layer::{empty, ensure_cols};
use crate::{Batch, Float, Layer, ShapeError, Visit, VisitMut};

/// Copies the steps of `xs` side by side into `wide`; checks that the sequence
/// is not empty and that every step has the same batch size.
pub fn steps_into_wide<T: Float, const N: usize>(xs: &[Batch<T, N>], wide: &mut Batch<T, N>) -> Result<(), ShapeError> {
    let first = xs.first().ok_or(ShapeError::EmptySequence)?;
    let n = first.ncols();
    if let Some(step) = xs.iter().position(|x| x.ncols() != n) {
        return Err(ShapeError::RaggedSequence { step, expected: n, found: xs[step].ncols() });
    }
    ensure_cols(wide, xs.len() * n);
    for (block, x) in wide.as_mut_slice().chunks_exact_mut(N * n.max(1)).zip(xs) {
        block.copy_from_slice(x.as_slice());
    }
    Ok(())
}

/// Splits a wide batch of `steps` steps into one batch per step, reusing `into`'s buffers.
pub fn wide_into_steps<T: Float, const N: usize>(
    wide: &Batch<T, N>,
    steps: usize,
    into: &mut Vec<Batch<T, N>>,
) -> Result<(), ShapeError> {
    let n = batch_of(wide.ncols(), steps)?;
    into.resize_with(steps, empty);
    for (t, x) in into.iter_mut().enumerate() {
        ensure_cols(x, n);
        x.as_mut_slice().copy_from_slice(&wide.as_slice()[t * N * n..(t + 1) * N * n]);
    }
    Ok(())
}

/// Reads a `Model` sequence batch (`steps * N` rows, rows `t*N .. (t+1)*N`
/// being step `t`, one column per sample) into a wide batch. Returns the number of steps.
pub fn view_into_wide<T: Float, const N: usize>(
    x: &DMatrixView<'_, T>,
    wide: &mut Batch<T, N>,
) -> Result<usize, ShapeError> {
    if x.nrows() == 0 {
        return Err(ShapeError::EmptySequence);
    }
    if !x.nrows().is_multiple_of(N) {
        return Err(ShapeError::StepRows { per_step: N, found: x.nrows() });
    }
    let (steps, n) = (x.nrows() / N, x.ncols());
    ensure_cols(wide, steps * n);
    for t in 0..steps {
        for j in 0..n {
            wide.column_mut(t * n + j).copy_from(&x.view((t * N, j), (N, 1)));
        }
    }
    Ok(steps)
}

/// Writes the steps of `steps` per-step batches as a `Model` sequence batch
/// (`steps * N` rows) into `out`, reallocating only when its shape changes.
pub fn steps_into_matrix<T: Float, const N: usize>(xs: &[Batch<T, N>], out: &mut DMatrix<T>) {
    let n = xs.first().map_or(0, |x| x.ncols());
    if out.shape() != (xs.len() * N, n) {
        *out = DMatrix::zeros(xs.len() * N, n);
    }
    for (t, x) in xs.iter().enumerate() {
        out.view_mut((t * N, 0), (N, n)).copy_from(x);
    }
}

/// The batch size of a wide batch of `cols` columns and `steps` steps.
pub(crate) fn batch_of(cols: usize, steps: usize) -> Result<usize, ShapeError> {
    if steps == 0 {
        return Err(ShapeError::EmptySequence);
    }
    if !cols.is_multiple_of(steps) {
        return Err(ShapeError::StepColumns { steps, found: cols });
    }
    Ok(cols / steps)
}

/// A recurrent [`SeqLayer`] on wide batches: `rnn(h)`, `lstm(h)` or `gru(h)`
/// in a `seq` network. Each forward starts from a zero state.
#[derive(Clone, Debug)]
pub struct Unrolled<T: Float, L, const I: usize, const H: usize> {
    layer: L,
    /// Steps of the last forward.
    steps: usize,
    gs: Vec<Batch<T, H>>,
    out: Batch<T, H>,
    dx: Batch<T, I>,
}

impl<T: Float, L: SeqLayer<T, I, H>, const I: usize, const H: usize> Unrolled<T, L, I, H> {
    pub fn new(layer: L) -> Self {
        Self { layer, steps: 0, gs: Vec::new(), out: empty(), dx: empty() }
    }

    /// The recurrent layer (its truncation, final state, ...).
    pub fn layer(&self) -> &L {
        &self.layer
    }

    pub fn layer_mut(&mut self) -> &mut L {
        &mut self.layer
    }

    /// Training forward over the `steps` steps of `x`; the output has the same layout.
    pub fn forward(&mut self, x: &Batch<T, I>, steps: usize) -> Result<&Batch<T, H>, ShapeError> {
        self.layer.forward_wide(x, steps, &mut self.out)?;
        self.steps = steps;
        Ok(&self.out)
    }

    /// Given dL/d(every output) of the last forward, as a wide batch, returns dL/dx.
    pub fn backward(&mut self, grad: &Batch<T, H>) -> Result<&Batch<T, I>, ShapeError> {
        wide_into_steps(grad, self.steps, &mut self.gs)?;
        let dx = self.layer.backward_seq(SeqGrad::Every(&self.gs), None)?;
        steps_into_wide(dx, &mut self.dx)?;
        Ok(&self.dx)
    }

    /// Evaluation forward over the `steps` steps of `x`.
    /// As [`Unrolled::backward`] without dL/dx ([`SeqLayer::backward_seq_params`]).
    pub fn backward_params(&mut self, grad: &Batch<T, H>) -> Result<(), ShapeError> {
        wide_into_steps(grad, self.steps, &mut self.gs)?;
        self.layer.backward_seq_params(SeqGrad::Every(&self.gs), None)
    }

    /// As [`Unrolled::backward`] when only the last step's output is used (a
    /// `last` item follows): `grad` is dL/d(last output), one batch.
    pub fn backward_last(&mut self, grad: &Batch<T, H>) -> Result<&Batch<T, I>, ShapeError> {
        let dx = self.layer.backward_seq(SeqGrad::Last(grad), None)?;
        steps_into_wide(dx, &mut self.dx)?;
        Ok(&self.dx)
    }

    /// [`Unrolled::backward_last`] without dL/dx ([`SeqLayer::backward_seq_params`]).
    pub fn backward_last_params(&mut self, grad: &Batch<T, H>) -> Result<(), ShapeError> {
        self.layer.backward_seq_params(SeqGrad::Last(grad), None)
    }

    pub fn predict(&self, x: &Batch<T, I>, steps: usize) -> Result<Batch<T, H>, ShapeError> {
        let mut xs = Vec::new();
        wide_into_steps(x, steps, &mut xs)?;
        let mut out = empty();
        steps_into_wide(&self.layer.predict_seq(&xs, None)?, &mut out)?;
        Ok(out)
    }

    /// Every step's output of the last training forward, wide.
    pub fn output(&self) -> Option<&Batch<T, H>> {
        Some(&self.out)
    }

    /// dL/dx of the last backward, wide.
    pub fn input_grad(&self) -> Option<&Batch<T, I>> {
        Some(&self.dx)
    }

    pub fn visit(&self, v: &mut dyn Visit<T>) {
        self.layer.visit(v);
    }

    pub fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        self.layer.visit_mut(v);
    }
}

/// The caller of these `Layer` methods (a network's core) staged the batch so
/// that its columns split into the steps, and calls backward only after a
/// forward with a gradient of that forward's batch size.
const STAGED: &str = "a sequence batch staged by the network splits into its steps";

/// A recurrent item of a `seq` network, through the wide-batch [`Layer`]
/// protocol of `network!`'s item lists: [`Layer::forward_steps`] runs over the
/// steps; a batch without steps ([`Layer::forward`]) is one step.
impl<T: Float, L: SeqLayer<T, I, H>, const I: usize, const H: usize> Layer<T, I, H> for Unrolled<T, L, I, H> {
    fn forward(&mut self, x: &Batch<T, I>) -> &Batch<T, H> {
        self.forward_steps(x, 1)
    }
    fn forward_steps(&mut self, x: &Batch<T, I>, steps: usize) -> &Batch<T, H> {
        Unrolled::forward(self, x, steps).expect(STAGED)
    }
    fn backward(&mut self, grad: &Batch<T, H>) -> &Batch<T, I> {
        Unrolled::backward(self, grad).expect(STAGED)
    }
    fn backward_params(&mut self, grad: &Batch<T, H>) {
        Unrolled::backward_params(self, grad).expect(STAGED)
    }
    fn backward_last_step(&mut self, grad: &Batch<T, H>) -> Option<&Batch<T, I>> {
        Some(self.backward_last(grad).expect(STAGED))
    }
    fn backward_params_last_step(&mut self, grad: &Batch<T, H>) -> bool {
        self.backward_last_params(grad).expect(STAGED);
        true
    }
    fn predict(&self, x: &Batch<T, I>) -> Batch<T, H> {
        self.predict_steps(x, 1)
    }
    fn predict_steps(&self, x: &Batch<T, I>, steps: usize) -> Batch<T, H> {
        Unrolled::predict(self, x, steps).expect(STAGED)
    }
    fn visit(&self, v: &mut dyn Visit<T>) {
        Unrolled::visit(self, v);
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        Unrolled::visit_mut(self, v);
    }
    fn output(&self) -> Option<&Batch<T, H>> {
        Unrolled::output(self)
    }
    fn input_grad(&self) -> Option<&Batch<T, I>> {
        Unrolled::input_grad(self)
    }
}

/// `last`: the final step of a wide batch, one vector per sample.
#[derive(Clone, Debug)]
pub struct Last<T: Float, const H: usize> {
    steps: usize,
    out: Batch<T, H>,
    dx: Batch<T, H>,
    /// `(steps, batch)` for which every block of `dx` but the last is already
    /// zero: backward then writes only the last block (the rest of a W4
    /// gradient is 49 blocks of zeros, refilled at every step otherwise).
    zeroed: Option<(usize, usize)>,
}

impl<T: Float, const H: usize> Default for Last<T, H> {
    fn default() -> Self {
        Self { steps: 0, out: empty(), dx: empty(), zeroed: None }
    }
}

impl<T: Float, const H: usize> Last<T, H> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last of the `steps` steps of `x`.
    pub fn forward(&mut self, x: &Batch<T, H>, steps: usize) -> Result<&Batch<T, H>, ShapeError> {
        let n = batch_of(x.ncols(), steps)?;
        ensure_cols(&mut self.out, n);
        self.out.copy_from(&x.columns((steps - 1) * n, n));
        self.steps = steps;
        Ok(&self.out)
    }

    /// dL/dx: zero for every step but the last, which gets `grad`.
    pub fn backward(&mut self, grad: &Batch<T, H>) -> &Batch<T, H> {
        let n = grad.ncols();
        if self.zeroed != Some((self.steps, n)) {
            ensure_cols(&mut self.dx, self.steps * n);
            self.dx.fill(T::zero());
            self.zeroed = Some((self.steps, n));
        }
        if self.steps > 0 {
            self.dx.columns_mut((self.steps - 1) * n, n).copy_from(grad);
        }
        &self.dx
    }

    pub fn predict(&self, x: &Batch<T, H>, steps: usize) -> Result<Batch<T, H>, ShapeError> {
        let n = batch_of(x.ncols(), steps)?;
        Ok(Batch::<T, H>::from_column_slice(&x.as_slice()[(steps - 1) * H * n..]))
    }

    /// The final step of the last training forward.
    pub fn output(&self) -> Option<&Batch<T, H>> {
        Some(&self.out)
    }

    /// dL/dx of the last backward, wide.
    pub fn input_grad(&self) -> Option<&Batch<T, H>> {
        Some(&self.dx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::LstmCell;
    use crate::seeded_rng;

    fn seq(steps: usize, n: usize) -> Vec<Batch<f64, 2>> {
        (0..steps).map(|t| Batch::from_fn(n, |i, j| (10 * t + 3 * i + j) as f64)).collect()
    }

    #[test]
    fn wide_layout_round_trips_through_steps_and_model_views() {
        let xs = seq(3, 4);
        let mut wide = empty::<f64, 2>();
        steps_into_wide(&xs, &mut wide).unwrap();
        assert_eq!(wide.ncols(), 12);
        assert_eq!(wide[(1, 5)], xs[1][(1, 1)]);
        let mut back = Vec::new();
        wide_into_steps(&wide, 3, &mut back).unwrap();
        assert_eq!(back, xs);
        let mut m = DMatrix::zeros(0, 0);
        steps_into_matrix(&xs, &mut m);
        assert_eq!(m.shape(), (6, 4));
        assert_eq!(m[(2 * 2 + 1, 3)], xs[2][(1, 3)]);
        let mut again = empty::<f64, 2>();
        assert_eq!(view_into_wide(&m.as_view(), &mut again).unwrap(), 3);
        assert_eq!(again, wide);
    }

    #[test]
    fn bad_sequences_are_errors() {
        let mut wide = empty::<f64, 2>();
        assert_eq!(steps_into_wide(&[], &mut wide), Err(ShapeError::EmptySequence));
        let mut ragged = seq(3, 2);
        ragged[2] = Batch::zeros(1);
        assert_eq!(
            steps_into_wide(&ragged, &mut wide),
            Err(ShapeError::RaggedSequence { step: 2, expected: 2, found: 1 })
        );
        let m = DMatrix::<f64>::zeros(5, 2);
        assert_eq!(view_into_wide(&m.as_view(), &mut wide), Err(ShapeError::StepRows { per_step: 2, found: 5 }));
        let m = DMatrix::<f64>::zeros(0, 2);
        assert_eq!(view_into_wide(&m.as_view(), &mut wide), Err(ShapeError::EmptySequence));
        let mut steps = Vec::new();
        assert_eq!(
            wide_into_steps(&Batch::<f64, 2>::zeros(7), 2, &mut steps),
            Err(ShapeError::StepColumns { steps: 2, found: 7 })
        );
        assert!(Last::<f64, 2>::new().forward(&Batch::zeros(4), 0).is_err());
    }

    #[test]
    fn unrolled_and_last_agree_with_the_cell_on_step_batches() {
        let cell = LstmCell::<f64, 2, 3>::new(&mut seeded_rng(1));
        let xs = seq(4, 2).into_iter().map(|x| x * 0.01).collect::<Vec<_>>();
        let mut wide = empty();
        steps_into_wide(&xs, &mut wide).unwrap();
        let mut reference = cell.clone();
        let hs = reference.forward_seq(&xs, None).unwrap().to_vec();
        let mut unrolled = Unrolled::new(cell);
        let out = unrolled.forward(&wide, 4).unwrap().clone();
        let mut last = Last::new();
        assert_eq!(last.forward(&out, 4).unwrap(), &hs[3]);
        assert_eq!(last.predict(&unrolled.predict(&wide, 4).unwrap(), 4).unwrap(), hs[3]);
        let g = Batch::<f64, 3>::from_fn(2, |i, j| i as f64 - j as f64);
        let dwide = last.backward(&g).clone();
        let dx = unrolled.backward(&dwide).unwrap().clone();
        let dx_ref = reference.backward_seq(SeqGrad::Last(&g), None).unwrap();
        let mut dx_steps = Vec::new();
        wide_into_steps(&dx, 4, &mut dx_steps).unwrap();
        assert_eq!(dx_steps, dx_ref);
    }
}
