//! `nn.GRUCell`: gates (reset, update, new), the reset gate inside the new
//! gate's recurrent product:
//! `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, `h' = (1 - z) * n + z * h`.

use super::cell::{add, CellMath, StepBack, StepFwd};
use super::Recurrent;
use crate::kernels::Float;

/// Marker for the GRU cell; use [`GruCell`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gru;

/// `gru(H)`: PyTorch's `nn.GRUCell(I, H)`, run over whole sequences.
pub type GruCell<T, const I: usize, const H: usize> = Recurrent<T, Gru, I, H>;

impl CellMath for Gru {
    const NAME: &'static str = "gru";
    const GATES: usize = 3;
    const STATE_PARTS: usize = 1;
    /// `W_hn h + b_hn`, which the reset gate multiplies: backward needs it for dL/dr.
    const EXTRA: usize = 1;
    const SPLIT: bool = true;

    #[inline(always)]
    fn forward<T: Float>(s: StepFwd<'_, T>) {
        let h = s.hidden;
        let one = T::one();
        let cols = s.gates.chunks_exact_mut(3 * h).zip(s.ph.chunks_exact(3 * h));
        let states = s.h_prev.chunks_exact(h).zip(s.h.chunks_exact_mut(h)).zip(s.extra.chunks_exact_mut(h));
        for ((a, p), ((h_prev, hy), phn)) in cols.zip(states) {
            // Each activation over a whole gate block, so the vectorized kernels do the work.
            add(&mut a[..2 * h], &p[..2 * h]);
            T::sigmoid_in_place(&mut a[..2 * h]);
            let (rz, n) = a.split_at_mut(2 * h);
            phn.copy_from_slice(&p[2 * h..]);
            for k in 0..h {
                n[k] += rz[k] * phn[k];
            }
            T::tanh_in_place(n);
            for k in 0..h {
                let z = rz[h + k];
                hy[k] = (one - z) * n[k] + z * h_prev[k];
            }
        }
    }

    #[inline(always)]
    fn backward<T: Float>(s: StepBack<'_, T>) {
        let h = s.hidden;
        let cols = s.gates.chunks_exact(3 * h).zip(s.dpx.chunks_exact_mut(3 * h)).zip(s.dph.chunks_exact_mut(3 * h));
        let states = s.h_prev.chunks_exact(h).zip(s.extra.chunks_exact(h));
        let grads = s.dh.chunks_exact(h).zip(s.dh_prev.chunks_exact_mut(h));
        for ((((a, dx), dp), (h_prev, phn)), (dh, dh_prev)) in cols.zip(states).zip(grads) {
            let (ar, az, an) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h]);
            let (dxr, rest) = dx.split_at_mut(h);
            let (dxz, dxn) = rest.split_at_mut(h);
            let (dpr, rest) = dp.split_at_mut(h);
            let (dpz, dpn) = rest.split_at_mut(h);
            gate_grads([ar, az, an], h_prev, phn, dh, [dxr, dxz, dxn], [dpr, dpz, dpn], dh_prev);
        }
    }
}

/// The gate gradients of one sample, every slice `H` long. Each output is its
/// own `&mut` parameter, which tells the compiler they do not overlap, so the
/// loop vectorizes (as in `lstm.rs`).
#[inline(always)]
fn gate_grads<T: Float>(
    [ar, az, an]: [&[T]; 3],
    h_prev: &[T],
    phn: &[T],
    dh: &[T],
    [dxr, dxz, dxn]: [&mut [T]; 3],
    [dpr, dpz, dpn]: [&mut [T]; 3],
    dh_prev: &mut [T],
) {
    let one = T::one();
    let n = ar.len();
    let (az, an, h_prev, phn, dh) = (&az[..n], &an[..n], &h_prev[..n], &phn[..n], &dh[..n]);
    let (dxr, dxz, dxn, dpr, dpz, dpn) =
        (&mut dxr[..n], &mut dxz[..n], &mut dxn[..n], &mut dpr[..n], &mut dpz[..n], &mut dpn[..n]);
    let dh_prev = &mut dh_prev[..n];
    for k in 0..n {
        let (r, z, nn) = (ar[k], az[k], an[k]);
        let dan = dh[k] * (one - z) * (one - nn * nn);
        let dar = dan * phn[k] * r * (one - r);
        let daz = dh[k] * (h_prev[k] - nn) * z * (one - z);
        (dxr[k], dxz[k], dxn[k]) = (dar, daz, dan);
        (dpr[k], dpz[k], dpn[k]) = (dar, daz, dan * r);
        dh_prev[k] = dh[k] * z;
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
            check_through_time(|| GruCell::<f64, 3, 4>::new(&mut seeded_rng(seed)), steps, seed);
        }
    }
}
