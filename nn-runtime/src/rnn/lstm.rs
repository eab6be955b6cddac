//! `nn.LSTMCell`: gates stacked (input, forget, cell, output),
//! `c' = f * c + i * g`, `h' = o * tanh(c')`.

use super::cell::{CellMath, StepBack, StepFwd};
use super::Recurrent;
use crate::kernels::Float;

/// Marker for the LSTM cell; use [`LstmCell`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lstm;

/// `lstm(H)`: PyTorch's `nn.LSTMCell(I, H)`, run over whole sequences. Its state
/// has two parts, `h` then `c`.
pub type LstmCell<T, const I: usize, const H: usize> = Recurrent<T, Lstm, I, H>;

impl<T: crate::kernels::Float, const I: usize, const H: usize> LstmCell<T, I, H> {
    /// Sets the forget gate's bias so that `b_ih + b_hh = bias` for every unit
    /// (`b_ih = bias`, `b_hh = 0` in the forget block). `1.0` (Gers et al. 2000,
    /// Jozefowicz et al. 2015) keeps the cell state flowing early in training.
    pub fn with_forget_bias(mut self, bias: f64) -> Self {
        let forget = H..2 * H;
        self.gates.bias_ih.value[forget.clone()].fill(T::of(bias));
        self.gates.bias_hh.value[forget].fill(T::zero());
        self
    }
}

impl CellMath for Lstm {
    const NAME: &'static str = "lstm";
    const GATES: usize = 4;
    const STATE_PARTS: usize = 2;
    const EXTRA: usize = 0;
    const SPLIT: bool = false;

    #[inline(always)]
    fn forward<T: Float>(s: StepFwd<'_, T>) {
        let h = s.hidden;
        let states = s.c_prev.chunks_exact(h).zip(s.c.chunks_exact_mut(h)).zip(s.h.chunks_exact_mut(h));
        for (a, ((c_prev, c), hy)) in s.gates.chunks_exact_mut(4 * h).zip(states) {
            // Each activation over a whole gate block, so the vectorized kernels do the work.
            T::sigmoid_in_place(&mut a[..2 * h]);
            T::tanh_in_place(&mut a[2 * h..3 * h]);
            T::sigmoid_in_place(&mut a[3 * h..]);
            let (i, f, g) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h]);
            for k in 0..h {
                c[k] = f[k] * c_prev[k] + i[k] * g[k];
            }
            hy.copy_from_slice(c);
            T::tanh_in_place(hy);
            for (y, o) in hy.iter_mut().zip(&a[3 * h..]) {
                *y *= *o;
            }
        }
    }

    #[inline(always)]
    fn backward<T: Float>(s: StepBack<'_, T>) {
        let h = s.hidden;
        let cols = s.gates.chunks_exact(4 * h).zip(s.dpx.chunks_exact_mut(4 * h));
        let states = s.c_prev.chunks_exact(h).zip(s.c.chunks_exact(h));
        let grads = s.dh.chunks_exact(h).zip(s.dc.chunks_exact(h)).zip(s.dc_prev.chunks_exact_mut(h));
        for (((a, d), (c_prev, c)), ((dh, dc), dc_prev)) in cols.zip(states).zip(grads) {
            let (ai, af, ag, ao) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h], &a[3 * h..4 * h]);
            let (di, rest) = d.split_at_mut(h);
            let (df, rest) = rest.split_at_mut(h);
            let (dg, d_o) = rest.split_at_mut(h);
            let (c_prev, c, dh, dc, dc_prev) = (&c_prev[..h], &c[..h], &dh[..h], &dc[..h], &mut dc_prev[..h]);
            // tanh(c), vectorized, parked in the output gate's slot until that is written last.
            d_o.copy_from_slice(c);
            T::tanh_in_place(d_o);
            gate_grads([ai, af, ag, ao], c_prev, dh, dc, di, df, dg, d_o, dc_prev);
        }
        s.dh_prev.fill(T::zero());
    }
}

/// The gate gradients of one sample, every slice `H` long; `d_o` holds
/// `tanh(c)` on entry. Each output is its own `&mut` parameter, which tells
/// the compiler they do not overlap, so the loop vectorizes (cut from one
/// slice inside the caller, it did not).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gate_grads<T: Float>(
    [ai, af, ag, ao]: [&[T]; 4],
    c_prev: &[T],
    dh: &[T],
    dc: &[T],
    di: &mut [T],
    df: &mut [T],
    dg: &mut [T],
    d_o: &mut [T],
    dc_prev: &mut [T],
) {
    let one = T::one();
    let n = ai.len();
    let (af, ag, ao, c_prev, dh, dc) = (&af[..n], &ag[..n], &ao[..n], &c_prev[..n], &dh[..n], &dc[..n]);
    let (di, df, dg, d_o, dc_prev) = (&mut di[..n], &mut df[..n], &mut dg[..n], &mut d_o[..n], &mut dc_prev[..n]);
    for k in 0..n {
        let (i, f, g, o, tc) = (ai[k], af[k], ag[k], ao[k], d_o[k]);
        let dct = dc[k] + dh[k] * o * (one - tc * tc);
        di[k] = dct * g * i * (one - i);
        df[k] = dct * c_prev[k] * f * (one - f);
        dg[k] = dct * i * (one - g * g);
        d_o[k] = dh[k] * tc * o * (one - o);
        dc_prev[k] = dct * f;
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
            check_through_time(|| LstmCell::<f64, 3, 4>::new(&mut seeded_rng(seed)), steps, seed);
        }
    }
}
