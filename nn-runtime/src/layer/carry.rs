//! [`Carry`]: the recurrent state one batch leaves to the next, which a
//! layer shows its visitors beside its parameters. Turning it on and off
//! for a whole model, and what carrying means for training, is
//! [`rnn::set_carry`](crate::rnn::set_carry)'s.

use crate::{error::ShapeError, kernels::Float};

/// One recurrent layer's carried state: off, or on with the state of the
/// samples of the last training forward, `[parts, samples, hidden]`
/// row-major (PyTorch's `h_n` layout; parts `h`, or `h, c` for an LSTM).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Carry<T> {
    on: bool,
    parts: usize,
    hidden: usize,
    samples: usize,
    values: Vec<T>,
}

impl<T: Float> Carry<T> {
    /// Off, for a layer with `parts` states of `hidden` values.
    pub(crate) fn new(parts: usize, hidden: usize) -> Self {
        Self { on: false, parts, hidden, samples: 0, values: Vec::new() }
    }

    /// Whether training forwards start from the carried state.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Turns carrying on or off; either way the next training forward
    /// starts from zeros.
    pub fn set_on(&mut self, on: bool) {
        self.on = on;
        self.clear();
    }

    /// Forgets the carried state: the next training forward starts from
    /// zeros (a new epoch, a new series).
    pub fn clear(&mut self) {
        self.samples = 0;
        self.values.clear();
    }

    /// `[parts, samples, hidden]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.parts, self.samples, self.hidden]
    }

    /// The carried values, as [`Carry::shape`] says.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// Puts a state back (a resumed run): `values` of `samples` samples, as
    /// [`Carry::values`] lays them out.
    pub fn set(&mut self, samples: usize, values: &[T]) -> Result<(), ShapeError> {
        let expected = self.parts * samples * self.hidden;
        if values.len() != expected {
            return Err(ShapeError::CarryLen { expected, found: values.len() });
        }
        self.samples = samples;
        self.values.clear();
        self.values.extend_from_slice(values);
        Ok(())
    }

    /// Writes the carried state of the caller's samples `order[k]` into
    /// column `k` of each part's initial state (`states[p]`, `hidden` rows);
    /// samples the last forward did not have stay as they are (zeros).
    pub(crate) fn start(&self, states: [&mut [T]; 2], order: &[usize]) {
        for (p, state) in states.into_iter().take(self.parts).enumerate() {
            for (column, &j) in state.chunks_exact_mut(self.hidden).zip(order) {
                if j < self.samples {
                    column.copy_from_slice(self.at(p, j));
                }
            }
        }
    }

    /// Keeps the final state of a training forward: `last(p, k)` is part
    /// `p`'s state after packed sequence `k`, the caller's sample `order[k]`.
    /// Allocates only beyond the largest batch seen.
    pub(crate) fn keep<'a>(&mut self, order: &[usize], last: impl Fn(usize, usize) -> &'a [T])
    where
        T: 'a,
    {
        self.samples = order.len();
        self.values.resize(self.parts * self.samples * self.hidden, T::zero());
        for p in 0..self.parts {
            for (k, &j) in order.iter().enumerate() {
                let at = (p * self.samples + j) * self.hidden;
                self.values[at..at + self.hidden].copy_from_slice(last(p, k));
            }
        }
    }

    fn at(&self, part: usize, sample: usize) -> &[T] {
        let at = (part * self.samples + sample) * self.hidden;
        &self.values[at..at + self.hidden]
    }
}
