//! The per-channel sums of batch normalization, compiled for every
//! instruction set by the kernels' dispatcher.
//!
//! A batch is a sequence of planes of `plane` values, plane `k` of channel
//! `k % channels` (samples are channel-major), so the same kernels serve
//! images (`plane = H * W`) and vectors (`plane = 1`). Each channel is done
//! whole before the next: its planes are read while they are in cache, the
//! sums run in the level's registers (one partial sum per lane, added up at
//! the end) and the element-wise passes are plain loops LLVM vectorizes.

use super::isa::{dispatch, Kernel, Level, Vector as _};
use crate::kernels::Float;

/// Per channel: `mean`, the biased variance `var`, and `y = weight (x - mean)
/// inv_std + bias` with `inv_std = 1 / sqrt(var + eps)` (written to
/// `inv_std`); `xhat = (x - mean) inv_std` too. The variance is the mean of
/// the squared deviations from the mean, a second sweep over the channel's
/// values while they are in cache (one sweep of sums and sums of squares
/// cancels catastrophically in `f32`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch_norm_train<T: Float>(
    x: &[T],
    plane: usize,
    eps: T,
    weight: &[T],
    bias: &[T],
    stats: [&mut [T]; 3],
    xhat: &mut [T],
    y: &mut [T],
) {
    let [mean, var, inv_std] = stats;
    assert!(x.len() == xhat.len() && x.len() == y.len() && x.len().is_multiple_of((plane * mean.len()).max(1)));
    dispatch(Train { x, plane, eps, weight, bias, mean, var, inv_std, xhat, y })
}

struct Train<'a, T> {
    x: &'a [T],
    plane: usize,
    eps: T,
    weight: &'a [T],
    bias: &'a [T],
    mean: &'a mut [T],
    var: &'a mut [T],
    inv_std: &'a mut [T],
    xhat: &'a mut [T],
    y: &'a mut [T],
}

impl<T: Float> Kernel for Train<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        let Self { x, plane, eps, weight, bias, mean, var, inv_std, xhat, y } = self;
        let lanes = partial_sums::<T, L>();
        let channels = mean.len();
        let stride = channels * plane;
        let count = T::of((x.len() / channels) as f64);
        for c in 0..channels {
            let planes = || x.chunks_exact(plane).skip(c).step_by(channels);
            let m = planes().fold(T::zero(), |acc, p| acc + sum(lanes, p, |v| v)) / count;
            let v = planes().fold(T::zero(), |acc, p| acc + sum(lanes, p, |v| (v - m) * (v - m))) / count;
            let s = T::one() / (v + eps).sqrt();
            (mean[c], var[c], inv_std[c]) = (m, v, s);
            let (w, b) = (weight[c], bias[c]);
            for at in (c * plane..x.len()).step_by(stride) {
                let xs = x[at..at + plane].iter();
                for ((x, h), y) in xs.zip(&mut xhat[at..at + plane]).zip(&mut y[at..at + plane]) {
                    *h = (*x - m) * s;
                    *y = w * *h + b;
                }
            }
        }
    }
}

/// Per channel: `sum_g = sum g` and `sum_g_xhat = sum g xhat` (set, not
/// added), over the planes of `g` and `xhat`.
pub(crate) fn grad_sums<T: Float>(g: &[T], xhat: &[T], plane: usize, sum_g: &mut [T], sum_g_xhat: &mut [T]) {
    assert!(g.len() == xhat.len() && sum_g.len() == sum_g_xhat.len());
    dispatch(GradSums { g, xhat, plane, sum_g, sum_g_xhat })
}

struct GradSums<'a, T> {
    g: &'a [T],
    xhat: &'a [T],
    plane: usize,
    sum_g: &'a mut [T],
    sum_g_xhat: &'a mut [T],
}

impl<T: Float> Kernel for GradSums<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        let Self { g, xhat, plane, sum_g, sum_g_xhat } = self;
        let lanes = partial_sums::<T, L>();
        let channels = sum_g.len();
        for c in 0..channels {
            let planes = || g.chunks_exact(plane).zip(xhat.chunks_exact(plane)).skip(c).step_by(channels);
            sum_g[c] = planes().fold(T::zero(), |acc, (g, _)| acc + sum(lanes, g, |v| v));
            sum_g_xhat[c] = planes().fold(T::zero(), |acc, (g, h)| acc + dot(lanes, g, h));
        }
    }
}

/// How many partial sums a channel's sums keep: a register's lanes for
/// `f32`; one for `f64`, which checks gradients and writes the committed
/// references, so its sums stay in the order of plain loops, the same bits
/// on every CPU and as before this kernel.
#[inline(always)]
fn partial_sums<T: Float, L: Level>() -> usize {
    if T::BYTES == 4 {
        <L::Reg<T>>::LANES
    } else {
        1
    }
}

/// The most lanes of a register of any level.
const MAX_LANES: usize = 16;

/// The sum of `f(v)` over `xs` with `l` partial sums (a register's lanes:
/// LLVM keeps them in one).
#[inline(always)]
fn sum<T: Float>(l: usize, xs: &[T], f: impl Fn(T) -> T) -> T {
    let mut lanes = [T::zero(); MAX_LANES];
    let chunks = xs.chunks_exact(l);
    let tail = chunks.remainder().iter().fold(T::zero(), |acc, v| acc + f(*v));
    for chunk in chunks {
        for (acc, v) in lanes.iter_mut().zip(chunk) {
            *acc += f(*v);
        }
    }
    lanes[..l].iter().fold(tail, |acc, v| acc + *v)
}

/// The dot product of `a` and `b` with `l` partial sums, as [`sum`].
#[inline(always)]
fn dot<T: Float>(l: usize, a: &[T], b: &[T]) -> T {
    let mut lanes = [T::zero(); MAX_LANES];
    let (ca, cb) = (a.chunks_exact(l), b.chunks_exact(l));
    let tail = ca.remainder().iter().zip(cb.remainder()).fold(T::zero(), |acc, (a, b)| acc + *a * *b);
    for (a, b) in ca.zip(cb) {
        for ((acc, a), b) in lanes.iter_mut().zip(a).zip(b) {
            *acc += *a * *b;
        }
    }
    lanes[..l].iter().fold(tail, |acc, v| acc + *v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{with_isa, Isa};

    /// Against the same formulas in f64 on the `f32` inputs, on every
    /// instruction set: the sums of `m` values of magnitude up to 4 (and
    /// their squares) are within `m` ulp of their magnitude, the normalized
    /// values (of order 1) within a few `f32` ulp times `m`. The bound below
    /// is `2 m eps` relative to each quantity's scale: at least 10 times the
    /// error any order of summation gives, and far below the differences a
    /// wrong formula or a wrong channel makes.
    #[test]
    fn statistics_normalization_and_sums_match_f64_on_every_isa() {
        let (channels, plane, n) = (3, 37, 5);
        let len = channels * plane * n;
        let x: Vec<f32> = (0..len).map(|i| ((i * 7919 % 1000) as f32 / 125.0 - 4.0) + (i % channels) as f32).collect();
        let g: Vec<f32> = (0..len).map(|i| (i * 104_729 % 997) as f32 / 500.0 - 1.0).collect();
        let (weight, bias) = ([1.5f32, -0.5, 2.0], [0.1f32, 0.2, -0.3]);
        let m = (plane * n) as f64;
        let bound = 2.0 * m * f64::from(f32::EPSILON);
        let mut checked = 0;
        for &isa in Isa::ALL.iter().filter(|i| i.available()) {
            let (mut mean, mut var, mut inv_std) = ([0f32; 3], [0f32; 3], [0f32; 3]);
            let (mut xhat, mut y) = (vec![f32::NAN; len], vec![f32::NAN; len]);
            let stats = [&mut mean[..], &mut var[..], &mut inv_std[..]];
            with_isa(isa, || batch_norm_train(&x, plane, 1e-5, &weight, &bias, stats, &mut xhat, &mut y));
            let (mut sum_g, mut sum_g_xhat) = ([0f32; 3], [0f32; 3]);
            with_isa(isa, || grad_sums(&g, &xhat, plane, &mut sum_g, &mut sum_g_xhat));
            for c in 0..channels {
                let at: Vec<usize> = (0..len).filter(|i| i / plane % channels == c).collect();
                let want_mean = at.iter().map(|&i| f64::from(x[i])).sum::<f64>() / m;
                let want_var = at.iter().map(|&i| (f64::from(x[i]) - want_mean).powi(2)).sum::<f64>() / m;
                let s = 1.0 / (want_var + 1e-5).sqrt();
                assert!((f64::from(mean[c]) - want_mean).abs() <= bound * 5.0, "{isa:?} mean {c}");
                assert!((f64::from(var[c]) - want_var).abs() <= bound * want_var, "{isa:?} var {c}");
                assert!((f64::from(inv_std[c]) - s).abs() <= bound * s, "{isa:?} inv_std {c}");
                let (mut want_g, mut want_gh, mut scale) = (0.0, 0.0, 0.0);
                for &i in &at {
                    let h = (f64::from(x[i]) - want_mean) * s;
                    assert!((f64::from(xhat[i]) - h).abs() <= bound * 4.0, "{isa:?} xhat {i}");
                    let want_y = f64::from(weight[c]) * h + f64::from(bias[c]);
                    assert!((f64::from(y[i]) - want_y).abs() <= bound * 8.0, "{isa:?} y {i}");
                    want_g += f64::from(g[i]);
                    want_gh += f64::from(g[i]) * f64::from(xhat[i]);
                    scale += f64::from(g[i]).abs() * (1.0 + f64::from(xhat[i]).abs());
                }
                assert!((f64::from(sum_g[c]) - want_g).abs() <= bound * scale, "{isa:?} sum g {c}");
                assert!((f64::from(sum_g_xhat[c]) - want_gh).abs() <= bound * scale, "{isa:?} sum g xhat {c}");
            }
            checked += 1;
        }
        assert!(checked >= 1);
    }
}
