//! `nn.RNNCell` with tanh: `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.

use super::cell::{CellMath, StepBack, StepFwd};
use super::Recurrent;
use crate::kernels::Float;

/// Marker for the tanh RNN cell; use [`RnnCell`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rnn;

/// `rnn(H)`: PyTorch's `nn.RNNCell(I, H)` (tanh), run over whole sequences.
pub type RnnCell<T, const I: usize, const H: usize> = Recurrent<T, Rnn, I, H>;

impl CellMath for Rnn {
    const NAME: &'static str = "rnn";
    const GATES: usize = 1;
    const STATE_PARTS: usize = 1;
    const EXTRA: usize = 0;
    const SPLIT: bool = false;

    #[inline(always)]
    fn forward<T: Float>(s: StepFwd<'_, T>) {
        T::tanh_in_place(s.gates);
        s.h.copy_from_slice(s.gates);
    }

    #[inline(always)]
    fn backward<T: Float>(s: StepBack<'_, T>) {
        for ((d, y), g) in s.dpx.iter_mut().zip(s.gates).zip(s.dh) {
            *d = *g * (T::one() - *y * *y);
        }
        s.dh_prev.fill(T::zero());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::seeded_rng;
    use crate::rnn::test_support::check_through_time;

    #[test]
    fn gradients_through_time_match_finite_differences() {
        for (steps, seed) in [(1, 10), (5, 20), (20, 30)] {
            check_through_time(|| RnnCell::<f64, 3, 4>::new(&mut seeded_rng(seed)), steps, seed);
        }
    }
}
