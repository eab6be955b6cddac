//! What distinguishes one cell from another: the element-wise step after the
//! two gate products, and its hand-derived backward. Everything else (the
//! products, the time loop, truncation, buffers) is shared in `bptt.rs`.
//!
//! All slices are column-major with one column per sample: gate blocks are
//! `G*H` rows (gate `g`, unit `k` of sample `j` at `j*G*H + g*H + k`), states
//! `H` rows.

use crate::kernels::Float;

/// One forward step, in place.
pub struct StepFwd<'a, T> {
    pub hidden: usize,
    /// In: `W_ih x_t + b_ih` (`G*H x n`). Out: whatever backward needs (the gate activations).
    pub gates: &'a mut [T],
    /// `W_hh h_{t-1} + b_hh` (`G*H x n`) when `SPLIT`; else empty, as the
    /// shared loop has already added `W_hh h_{t-1}` to `gates` (and `b_hh` to
    /// the input projection).
    pub ph: &'a [T],
    pub h_prev: &'a [T],
    /// The previous cell state (LSTM; empty for the others).
    pub c_prev: &'a [T],
    pub h: &'a mut [T],
    pub c: &'a mut [T],
    /// `EXTRA*H x n` of per-step cache beyond the gates.
    pub extra: &'a mut [T],
}

/// One backward step.
pub struct StepBack<'a, T> {
    pub hidden: usize,
    /// What forward left in `gates`, and in `extra`.
    pub gates: &'a [T],
    pub extra: &'a [T],
    pub h_prev: &'a [T],
    pub c_prev: &'a [T],
    /// The cell state this step produced (LSTM).
    pub c: &'a [T],
    /// dL/dh_t and dL/dc_t: everything that reaches this step's output state.
    pub dh: &'a [T],
    pub dc: &'a [T],
    /// Out: dL/d(W_ih x_t + b_ih).
    pub dpx: &'a mut [T],
    /// Out, only when `SPLIT`: dL/d(W_hh h_{t-1} + b_hh) (else empty: it equals `dpx`).
    pub dph: &'a mut [T],
    /// Out: the part of dL/dh_{t-1} that bypasses `W_hh` (GRU's `z * h`); the
    /// caller adds `W_hh^T dph`.
    pub dh_prev: &'a mut [T],
    /// Out: dL/dc_{t-1} (LSTM).
    pub dc_prev: &'a mut [T],
}

/// The element-wise part of a cell, implemented by the markers [`Rnn`](super::Rnn),
/// [`Lstm`](super::Lstm) and [`Gru`](super::Gru). Public so that generic code
/// can name `Recurrent<T, C, I, H>`; sealed, since its step types are private.
pub trait CellMath: Copy + Default + std::fmt::Debug + Send + Sync + 'static {
    /// The `network!` spelling.
    const NAME: &'static str;
    /// Gate blocks stacked in the weights.
    const GATES: usize;
    /// `H`-row parts of the recurrent state: 1 (`h`) or 2 (`h`, `c`).
    const STATE_PARTS: usize;
    /// `H`-row blocks of per-step cache besides the gates.
    const EXTRA: usize;
    /// Whether dL/d(W_hh h + b_hh) differs from dL/d(W_ih x + b_ih).
    const SPLIT: bool;

    /// One step forward: the gates and the new state from the input and the old state.
    fn forward<T: Float>(s: StepFwd<'_, T>);
    /// One step backward: dL/d(gate pre-activations) and dL/d(old state) from the step's cache.
    fn backward<T: Float>(s: StepBack<'_, T>);
}

/// `acc += v`, element by element: backward adds each step's output gradient.
#[inline(always)]
pub(super) fn add<T: Float>(acc: &mut [T], v: &[T]) {
    for (a, v) in acc.iter_mut().zip(v) {
        *a += *v;
    }
}
