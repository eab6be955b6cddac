//! Recurrent items of a `seq` network on packed batches ([`Steps`]): the
//! steps of every sequence are columns of one batch, so position-wise
//! layers (dense, activations, layer_norm, dropout, batch_norm) apply to
//! every real step with shared parameters by treating the steps as more
//! samples, in one product; [`Unrolled`] runs a recurrent [`SeqLayer`] over
//! them and [`Last`] keeps each sequence's last step.

use super::{PackedGrad, SeqLayer, Steps};
use crate::layer::{empty, ensure_cols};
use crate::{
    batch::Batch,
    error::ShapeError,
    kernels::Float,
    layer::{Layer, Visit, VisitMut},
};

/// A recurrent [`SeqLayer`] on packed batches: `rnn(h)`, `lstm(h)` or
/// `gru(h)` in a `seq` network. Each forward starts from a zero state.
#[derive(Clone, Debug)]
pub struct Unrolled<T: Float, L, const I: usize, const H: usize> {
    layer: L,
    /// The steps of a batch given without any (see [`Steps::none`]): one step.
    one_step: Steps,
    out: Batch<T, H>,
    dx: Batch<T, I>,
}

/// `steps`, or one step of `cols` samples (kept in `one`) when the batch is not a sequence.
pub(crate) fn steps_or_one<'a>(steps: &'a Steps, one: &'a mut Steps, cols: usize) -> &'a Steps {
    if steps.is_none() {
        one.set_uniform(1, cols);
        one
    } else {
        steps
    }
}

impl<T: Float, L: SeqLayer<T, I, H>, const I: usize, const H: usize> Unrolled<T, L, I, H> {
    /// `layer` run over packed batches.
    pub fn new(layer: L) -> Self {
        Self { layer, one_step: Steps::default(), out: empty(), dx: empty() }
    }

    /// The recurrent layer (its truncation, final state, ...).
    pub fn layer(&self) -> &L {
        &self.layer
    }

    /// The recurrent layer, to change its truncation or carried state.
    pub fn layer_mut(&mut self) -> &mut L {
        &mut self.layer
    }

    /// Training forward over the packed batch `x`; the output has the same layout.
    pub fn forward(&mut self, x: &Batch<T, I>, steps: &Steps) -> Result<&Batch<T, H>, ShapeError> {
        let steps = steps_or_one(steps, &mut self.one_step, x.ncols());
        self.layer.forward_packed(x, steps, &mut self.out)?;
        Ok(&self.out)
    }

    /// Given dL/d(every output) of the last forward, packed, returns dL/dx.
    pub fn backward(&mut self, grad: &Batch<T, H>) -> Result<&Batch<T, I>, ShapeError> {
        self.layer.backward_packed(PackedGrad::Every(grad.as_slice()), Some(&mut self.dx))?;
        Ok(&self.dx)
    }

    /// As [`Unrolled::backward`] without dL/dx.
    pub fn backward_params(&mut self, grad: &Batch<T, H>) -> Result<(), ShapeError> {
        self.layer.backward_packed(PackedGrad::Every(grad.as_slice()), None)
    }

    /// As [`Unrolled::backward`] when only each sequence's last output is
    /// used (a `last` item follows): `grad` is dL/d(last outputs), one column
    /// per sequence in packed order.
    pub fn backward_last(&mut self, grad: &Batch<T, H>) -> Result<&Batch<T, I>, ShapeError> {
        self.layer.backward_packed(PackedGrad::Last(grad.as_slice()), Some(&mut self.dx))?;
        Ok(&self.dx)
    }

    /// [`Unrolled::backward_last`] without dL/dx.
    pub fn backward_last_params(&mut self, grad: &Batch<T, H>) -> Result<(), ShapeError> {
        self.layer.backward_packed(PackedGrad::Last(grad.as_slice()), None)
    }

    /// Evaluation forward over the packed batch `x`.
    pub fn predict(&self, x: &Batch<T, I>, steps: &Steps) -> Result<Batch<T, H>, ShapeError> {
        let mut one = Steps::default();
        self.layer.predict_packed(x, steps_or_one(steps, &mut one, x.ncols()))
    }
}

/// The caller of these `Layer` methods (a network's core) packed the batch
/// as its steps say, and calls backward only after a forward with a
/// gradient of that forward's shape.
const STAGED: &str = "a sequence batch staged by the network fits its steps";

/// A recurrent item of a `seq` network, through the [`Layer`] protocol of
/// `network!`'s item lists: [`Layer::forward_steps`] runs over the steps; a
/// batch without steps ([`Layer::forward`]) is sequences of one step.
impl<T: Float, L: SeqLayer<T, I, H>, const I: usize, const H: usize> Layer<T, I, H> for Unrolled<T, L, I, H> {
    fn forward(&mut self, x: &Batch<T, I>) -> &Batch<T, H> {
        self.forward_steps(x, Steps::none())
    }
    fn forward_steps(&mut self, x: &Batch<T, I>, steps: &Steps) -> &Batch<T, H> {
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
        self.predict_steps(x, Steps::none())
    }
    fn predict_steps(&self, x: &Batch<T, I>, steps: &Steps) -> Batch<T, H> {
        Unrolled::predict(self, x, steps).expect(STAGED)
    }
    fn visit(&self, v: &mut dyn Visit<T>) {
        self.layer.visit(v);
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        self.layer.visit_mut(v);
    }
    fn output(&self) -> Option<&Batch<T, H>> {
        Some(&self.out)
    }
    fn input_grad(&self) -> Option<&Batch<T, I>> {
        Some(&self.dx)
    }
}

/// `last`: each sequence's last step of a packed batch, one vector per
/// sequence (in packed order). After `bidirectional` it is PyTorch's `h_n`
/// instead: the first half of the rows (the forward direction) at each
/// sequence's last step, the second half (the reverse direction, which ends
/// at step 0) at step 0.
#[derive(Clone, Debug)]
pub struct Last<T: Float, const H: usize> {
    /// The first row taken at step 0 (`H / 2` after `bidirectional`; `H`: none).
    reverse_from: usize,
    /// The input column each row block of each sequence came from, as the
    /// last forward read them: `(last step, step 0)` per sequence.
    from: Vec<(usize, usize)>,
    /// Columns of the last forward's input.
    cols: usize,
    out: Batch<T, H>,
    dx: Batch<T, H>,
    /// The columns of `dx` the last backward wrote (the rest are zero).
    written: Vec<(usize, usize)>,
}

impl<T: Float, const H: usize> Default for Last<T, H> {
    fn default() -> Self {
        Self { reverse_from: H, from: Vec::new(), cols: 0, out: empty(), dx: empty(), written: Vec::new() }
    }
}

impl<T: Float, const H: usize> Last<T, H> {
    /// Each sequence's last step.
    pub fn new() -> Self {
        Self::default()
    }

    /// PyTorch's `h_n` of a bidirectional layer: the first `H / 2` rows at
    /// each sequence's last step, the others at step 0.
    pub fn bidirectional() -> Self {
        Self { reverse_from: H / 2, ..Self::default() }
    }

    /// Where each sequence's rows come from: `(last step, step 0)` columns.
    fn sources(steps: &Steps, into: &mut Vec<(usize, usize)>) {
        into.clear();
        into.extend((0..steps.samples()).map(|k| (steps.last_column(k), k)));
    }

    fn gather(r: usize, x: &[T], from: &[(usize, usize)], out: &mut [T]) {
        for (column, &(last, first)) in out.chunks_exact_mut(H.max(1)).zip(from) {
            column[..r].copy_from_slice(&x[H * last..H * last + r]);
            column[r..].copy_from_slice(&x[H * first + r..H * (first + 1)]);
        }
    }

    /// Each sequence's last step of the packed batch `x` (one step each if `x` is not a sequence).
    pub fn forward(&mut self, x: &Batch<T, H>, steps: &Steps) -> Result<&Batch<T, H>, ShapeError> {
        let mut one = Steps::default();
        let steps = steps_or_one(steps, &mut one, x.ncols());
        if x.ncols() != steps.cols() {
            return Err(ShapeError::Columns { expected: steps.cols(), found: x.ncols() });
        }
        Self::sources(steps, &mut self.from);
        ensure_cols(&mut self.out, steps.samples());
        Self::gather(self.reverse_from, x.as_slice(), &self.from, self.out.as_mut_slice());
        self.cols = x.ncols();
        Ok(&self.out)
    }

    /// dL/dx: zero but at the columns the last forward read, which get `grad`.
    pub fn backward(&mut self, grad: &Batch<T, H>) -> &Batch<T, H> {
        if self.dx.ncols() == self.cols {
            // Only the columns written last time are not zero.
            for &(last, first) in &self.written {
                self.dx.column_mut(last).fill(T::zero());
                self.dx.column_mut(first).fill(T::zero());
            }
        } else {
            ensure_cols(&mut self.dx, self.cols);
            self.dx.fill(T::zero());
        }
        let r = self.reverse_from;
        let dx = self.dx.as_mut_slice();
        for (g, &(last, first)) in grad.as_slice().chunks_exact(H.max(1)).zip(&self.from) {
            dx[H * last..H * last + r].copy_from_slice(&g[..r]);
            dx[H * first + r..H * (first + 1)].copy_from_slice(&g[r..]);
        }
        self.written.clone_from(&self.from);
        &self.dx
    }

    /// Each sequence's rows of `x` (a packed batch laid out by `steps`), as
    /// forward takes them, without keeping anything for backward.
    pub fn predict(&self, x: &Batch<T, H>, steps: &Steps) -> Result<Batch<T, H>, ShapeError> {
        let mut one = Steps::default();
        let steps = steps_or_one(steps, &mut one, x.ncols());
        if x.ncols() != steps.cols() {
            return Err(ShapeError::Columns { expected: steps.cols(), found: x.ncols() });
        }
        let mut from = Vec::new();
        Self::sources(steps, &mut from);
        let mut out = Batch::<T, H>::zeros(steps.samples());
        Self::gather(self.reverse_from, x.as_slice(), &from, out.as_mut_slice());
        Ok(out)
    }

    /// The final steps of the last training forward.
    pub fn output(&self) -> Option<&Batch<T, H>> {
        Some(&self.out)
    }

    /// dL/dx of the last backward, packed.
    pub fn input_grad(&self) -> Option<&Batch<T, H>> {
        Some(&self.dx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::seeded_rng;
    use crate::rnn::{LstmCell, SeqGrad};

    fn seq(steps: usize, n: usize) -> Vec<Batch<f64, 2>> {
        (0..steps).map(|t| Batch::from_fn(n, |i, j| (10 * t + 3 * i + j) as f64 * 0.01)).collect()
    }

    #[test]
    fn unrolled_and_last_agree_with_the_cell_on_step_batches() {
        let cell = LstmCell::<f64, 2, 3>::new(&mut seeded_rng(1));
        let xs = seq(4, 2);
        let steps = Steps::uniform(4, 2);
        let mut packed = empty();
        super::super::pack::pack_steps(&xs, &steps, &mut packed);
        let mut reference = cell.clone();
        let hs = reference.forward_seq(&xs, None).unwrap().to_vec();
        let mut unrolled = Unrolled::new(cell);
        let out = unrolled.forward(&packed, &steps).unwrap().clone();
        let mut last = Last::new();
        assert_eq!(last.forward(&out, &steps).unwrap(), &hs[3]);
        assert_eq!(last.predict(&unrolled.predict(&packed, &steps).unwrap(), &steps).unwrap(), hs[3]);
        let g = Batch::<f64, 3>::from_fn(2, |i, j| i as f64 - j as f64);
        let dwide = last.backward(&g).clone();
        let dx = unrolled.backward(&dwide).unwrap().clone();
        let dx_ref = reference.backward_seq(SeqGrad::Last(&g), None).unwrap();
        let flat: Vec<f64> = dx_ref.iter().flat_map(|d| d.iter().copied()).collect();
        assert_eq!(dx.as_slice(), &flat[..]);
    }

    #[test]
    fn last_takes_each_sequences_own_last_step_and_halves_after_bidirectional() {
        // Lengths 1, 3, 2: packed order 1, 2, 0; columns of steps 0..3: [3, 2, 1].
        let steps = Steps::from_lengths(&[1, 3, 2], 3).unwrap();
        let x = Batch::<f64, 2>::from_fn(6, |i, c| (10 * c + i) as f64);
        let mut last = Last::new();
        // Packed sequence 0 ends at column 5, 1 at column 4, 2 at column 2.
        assert_eq!(last.forward(&x, &steps).unwrap().as_slice(), &[50.0, 51.0, 40.0, 41.0, 20.0, 21.0]);
        let mut h_n = Last::bidirectional();
        assert_eq!(h_n.forward(&x, &steps).unwrap().as_slice(), &[50.0, 1.0, 40.0, 11.0, 20.0, 21.0]);
        assert_eq!(h_n.predict(&x, &steps).unwrap(), h_n.output().unwrap().clone());
        let g = Batch::<f64, 2>::from_fn(3, |i, k| (k + 1) as f64 * if i == 0 { 1.0 } else { -1.0 });
        let dx = h_n.backward(&g).clone();
        assert_eq!(dx.as_slice(), &[0.0, -1.0, 0.0, -2.0, 3.0, -3.0, 0.0, 0.0, 2.0, 0.0, 1.0, 0.0]);
        // Another batch of the same width clears what the last one wrote.
        let steps = Steps::uniform(2, 3);
        h_n.forward(&x, &steps).unwrap();
        let dx = h_n.backward(&g).clone();
        assert_eq!(dx.as_slice(), &[0.0, -1.0, 0.0, -2.0, 0.0, -3.0, 1.0, 0.0, 2.0, 0.0, 3.0, 0.0]);
        assert!(last.forward(&Batch::zeros(4), &steps).is_err());
    }
}
