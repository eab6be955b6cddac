//! Recurrent cells run over whole sequences, with hand-derived
//! backpropagation through time: [`RnnCell`] (tanh), [`LstmCell`] and
//! [`GruCell`], exactly PyTorch's `nn.RNNCell`, `nn.LSTMCell` and `nn.GRUCell`.
//!
//! # Parameters
//!
//! `weight_ih [G*H, I]`, `weight_hh [G*H, H]`, `bias_ih [G*H]`, `bias_hh [G*H]`,
//! in that order, row-major, with `G` gate blocks stacked as PyTorch stacks them
//! (RNN: 1; LSTM: input, forget, cell, output; GRU: reset, update, new). They
//! start as PyTorch's (uniform on `±1/sqrt(H)`) except each gate's `H x H`
//! block of `weight_hh`, which is orthogonal ([`Recurrent::with_recurrent_init`]
//! picks another initializer). [`LstmCell::with_forget_bias`] sets the forget
//! gate's bias.
//!
//! # Sequences: the [`SeqLayer`] trait
//!
//! A sequence batch is `&[Batch<T, I>]`, one matrix per time step, every step
//! with the same batch size. A cell's state is a slice of `H`-row batches:
//! `[h]` for RNN and GRU, `[h, c]` for LSTM ([`SeqLayer::STATE_PARTS`]).
//!
//! - `forward_seq(xs, initial)` runs a training forward from `initial` (`None`:
//!   zeros) and returns the outputs `h_1 .. h_S`, one batch per step, kept in
//!   the cell until the next forward. It caches what backward needs in buffers
//!   that are reused: after the first call at a given (steps, batch size),
//!   forward and backward allocate nothing.
//! - `backward_seq(grad, final_grad)` takes dL/d(outputs), for every step
//!   ([`SeqGrad::Every`]) or the last only ([`SeqGrad::Last`], what a `last`
//!   item gives), plus optionally dL/d(final state), adds the parameter
//!   gradients, and returns dL/dx_t for every step. dL/d(initial state) is
//!   then in `initial_state_grad()`.
//! - `predict_seq(xs, initial)` is the evaluation forward (`&self`).
//! - `visit`/`visit_mut` show the four parameters as a [`Layer`](crate::layer::Layer)
//!   does; a network enters its item index around them, so names come out as
//!   `"0.weight_ih"`.
//!
//! Stacking is chaining: the outputs of one layer are the next one's inputs,
//! and the input gradients of the upper layer are the lower one's `Every` grad:
//!
//! ```
//! use nn_runtime::rnn::{GruCell, LstmCell, SeqGrad, SeqLayer};
//! use nn_runtime::{seeded_rng, Batch};
//!
//! let mut rng = seeded_rng(0);
//! let mut lower = LstmCell::<f64, 2, 8>::new(&mut rng).with_forget_bias(1.0);
//! let mut upper = GruCell::<f64, 8, 4>::new(&mut rng);
//! let xs = vec![Batch::<f64, 2>::from_element(3, 0.5); 10]; // 10 steps, 3 samples
//! let hs = lower.forward_seq(&xs, None)?;
//! let ys = upper.forward_seq(hs, None)?;
//! assert_eq!((ys.len(), ys[9].ncols()), (10, 3));
//! let dl_dy = Batch::<f64, 4>::from_element(3, 1.0); // dL/d(last output)
//! let dh = upper.backward_seq(SeqGrad::Last(&dl_dy), None)?;
//! let dx = lower.backward_seq(SeqGrad::Every(dh), None)?;
//! assert_eq!(dx.len(), 10);
//! # Ok::<(), nn_runtime::ShapeError>(())
//! ```
//!
//! Position-wise layers between recurrent layers run on each step's batch.
//! A `seq` network of `network!` instead packs the real steps of every
//! sequence as columns of one batch ([`Steps`], [`Unrolled`], [`Last`]), so
//! a position-wise layer runs on all steps in one product, and sequences of
//! different lengths share a batch.
//! Truncated BPTT is a setting of the cell ([`Recurrent::set_truncation`]);
//! across batches (consecutive chunks of one long series), the state one
//! training forward ends with is where the next starts ([`Carry`]).
//! Bad input (an empty sequence, steps with different batch sizes, a gradient
//! of the wrong length or batch size, a state with the wrong number of parts,
//! backward before forward) is a [`ShapeError`], never a panic.
//!
//! # Speed
//!
//! The input projections `W_ih x_t` of all steps are one product over
//! `steps * batch` columns, as are the weight gradients in backward; only the
//! recurrent product `W_hh h_{t-1}` and its transpose run per step.

mod bidirectional;
mod bptt;
mod carry;
mod cell;
mod gates;
mod gru;
mod lstm;
mod pack;
mod rnn_cell;
#[cfg(test)]
mod test_support;
mod unrolled;

pub use crate::layer::{Carry, Steps};
pub use bidirectional::Bidirectional;
pub use bptt::Recurrent;
pub use carry::{clear_carry, set_carry};
pub use cell::CellMath;
pub use gru::{Gru, GruCell};
pub use lstm::{Lstm, LstmCell};
pub(crate) use pack::{pack_matrix, pack_steps, pack_with, sort, unpack_matrix, unpack_steps, unsort};
pub use rnn_cell::{Rnn, RnnCell};
pub use unrolled::{Last, Unrolled};

use crate::{
    batch::Batch,
    error::ShapeError,
    kernels::Float,
    layer::{Visit, VisitMut},
};

/// dL/d(outputs) of a sequence layer.
#[derive(Debug)]
pub enum SeqGrad<'a, T: Float, const H: usize> {
    /// One gradient per step (as many as the forward had steps).
    Every(&'a [Batch<T, H>]),
    /// Only the last step's output reaches the loss.
    Last(&'a Batch<T, H>),
}

impl<T: Float, const H: usize> Clone for SeqGrad<'_, T, H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Float, const H: usize> Copy for SeqGrad<'_, T, H> {}

/// dL/d(outputs) of a packed batch (see [`SeqLayer::forward_packed`]).
#[derive(Clone, Copy, Debug)]
pub enum PackedGrad<'a, T> {
    /// dL/d(every output), packed as the outputs (`H` values per column).
    Every(&'a [T]),
    /// dL/d(each sequence's last output) only (what a `last` item gives):
    /// `H` values per sequence, in packed order.
    Last(&'a [T]),
}

/// A layer over whole sequences, `I` features to `H` per step (see the
/// module documentation for the protocol).
pub trait SeqLayer<T: Float, const I: usize, const H: usize> {
    /// How many `H`-row batches make up the recurrent state (`h`; `h, c` for LSTM).
    const STATE_PARTS: usize;
    /// The `network!` spelling (`"rnn"`, `"lstm"`, `"gru"`), for summaries.
    const KIND: &'static str;

    /// Training forward from `initial` (zeros if `None`); returns the outputs, one per step.
    fn forward_seq(
        &mut self,
        xs: &[Batch<T, I>],
        initial: Option<&[Batch<T, H>]>,
    ) -> Result<&[Batch<T, H>], ShapeError>;

    /// Back-propagates through time from dL/d(outputs) and dL/d(final state)
    /// (`None`: zero), adds to the parameter gradients and returns dL/dx_t per step.
    fn backward_seq(
        &mut self,
        grad: SeqGrad<'_, T, H>,
        final_grad: Option<&[Batch<T, H>]>,
    ) -> Result<&[Batch<T, I>], ShapeError>;

    /// Training forward over a packed batch ([`Steps`]: the sequences
    /// longest first, each step a block of the sequences still running), from
    /// a zero state, with the outputs in `out` in the same layout. Each
    /// sequence stops at its own end, as PyTorch's packed sequences. A batch
    /// of one length is `steps` blocks of equally many columns.
    fn forward_packed(&mut self, x: &Batch<T, I>, steps: &Steps, out: &mut Batch<T, H>) -> Result<(), ShapeError>;

    /// Back-propagates through time after [`SeqLayer::forward_packed`]: adds
    /// to the parameter gradients and, when `dx` is given, writes dL/dx there
    /// (packed as the input).
    fn backward_packed(&mut self, grad: PackedGrad<'_, T>, dx: Option<&mut Batch<T, I>>) -> Result<(), ShapeError>;

    /// The evaluation twin of [`SeqLayer::forward_packed`].
    fn predict_packed(&self, x: &Batch<T, I>, steps: &Steps) -> Result<Batch<T, H>, ShapeError>;

    /// As [`SeqLayer::backward_seq`] for a caller that never reads dL/dx_t (the
    /// first layer of a training step): the parameter gradients are the same,
    /// dL/dx_t may be left uncomputed, and [`SeqLayer::input_grads`] stale.
    fn backward_seq_params(
        &mut self,
        grad: SeqGrad<'_, T, H>,
        final_grad: Option<&[Batch<T, H>]>,
    ) -> Result<(), ShapeError> {
        self.backward_seq(grad, final_grad).map(drop)
    }

    /// Evaluation forward; returns the outputs, one per step.
    fn predict_seq(&self, xs: &[Batch<T, I>], initial: Option<&[Batch<T, H>]>) -> Result<Vec<Batch<T, H>>, ShapeError>;

    /// The outputs of the last training forward (empty before any, and after a
    /// [`SeqLayer::forward_packed`], which leaves them in its `out` instead).
    fn outputs(&self) -> &[Batch<T, H>];
    /// The state after each sequence's last step of the last training forward
    /// (`STATE_PARTS` batches; in packed order after [`SeqLayer::forward_packed`]).
    fn final_state(&self) -> &[Batch<T, H>];
    /// dL/dx_t of the last backward (empty before any).
    fn input_grads(&self) -> &[Batch<T, I>];
    /// dL/d(initial state) of the last backward (`STATE_PARTS` batches).
    fn initial_state_grad(&self) -> &[Batch<T, H>];

    /// Shows the parameters, as [`Layer::visit`](crate::layer::Layer::visit).
    fn visit(&self, v: &mut dyn Visit<T>);
    /// The mutable twin of [`SeqLayer::visit`], same order.
    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>);
}
