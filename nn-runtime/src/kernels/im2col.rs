//! The patch matrix of a convolution (`im2col`) and its adjoint (`col2im`),
//! compiled for every instruction set by the kernels' dispatcher.
//!
//! Layout, for `n` samples with `Q = H' * W'` output positions each: `col`
//! is row-major `[C*K*K, n*Q]`, row `(c, ki, kj)` (the weight's `[OC, C, K,
//! K]` flattening), column `(sample, position)`. A row of one sample is `H'`
//! runs of `W'` values, each a run of an input row (with stride 1) between
//! zeros where the window covers padding. On small images a run is a few
//! values: copying it with `copy_from_slice` was a call to `memmove` per run,
//! so here runs are moved through the level's registers, the last part of
//! each through a masked load and store.

use std::ops::Range;

use super::isa::{dispatch, Kernel, Level, Vector};
use super::Window2d;
use crate::kernels::Float;

/// The output positions `o` in `0..out_len` whose tap `o * stride + offset - pad`
/// falls inside `0..len` (the others read padding).
#[inline(always)]
pub(crate) fn taps(out_len: usize, offset: usize, stride: usize, pad: usize, len: usize) -> Range<usize> {
    let lo = pad.saturating_sub(offset).div_ceil(stride).min(out_len);
    let hi = (len + pad).saturating_sub(offset).div_ceil(stride).min(out_len);
    lo..hi.max(lo)
}

/// One row `(c, ki, kj)` of the patch matrix: the input channel `c` it reads,
/// its offset `(ki, kj)` in the window, and the output rows `a` and columns
/// `b` whose tap falls inside the image (the others read zero padding).
struct PatchRow {
    channel: usize,
    offset: (usize, usize),
    rows: Range<usize>,
    cols: Range<usize>,
}

/// The rows of the patch matrix in order: what [`im2col`] and its adjoint
/// [`col2im`] both walk.
#[inline(always)]
fn patch_rows(win: &Window2d) -> impl Iterator<Item = PatchRow> + '_ {
    let (kernel, stride, padding) = (win.kernel(), win.stride(), win.padding());
    let (oh, ow, height, width) = (win.out_height(), win.out_width(), win.height(), win.width());
    (0..win.channels()).flat_map(move |channel| {
        (0..kernel).flat_map(move |ki| {
            (0..kernel).map(move |kj| PatchRow {
                channel,
                offset: (ki, kj),
                rows: taps(oh, ki, stride, padding, height),
                cols: taps(ow, kj, stride, padding, width),
            })
        })
    })
}

/// Gathers every `K x K` patch of the `n >= 1` images `x` into `col`
/// (row-major `[C*K*K, n*Q]`), zeros where the patch covers padding.
pub(crate) fn im2col<T: Float>(win: &Window2d, x: &[T], n: usize, col: &mut [T]) {
    let q = win.out_height() * win.out_width();
    assert!(x.len() >= n * win.input_len() && col.len() >= win.channels() * win.kernel().pow(2) * n * q);
    dispatch(Im2col { win: *win, x, n, col })
}

struct Im2col<'a, T> {
    win: Window2d,
    x: &'a [T],
    n: usize,
    col: &'a mut [T],
}

impl<T: Float> Kernel for Im2col<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, level: L) {
        let Self { win, x, n, col } = self;
        let (width, stride, padding) = (win.width(), win.stride(), win.padding());
        let ow = win.out_width();
        let (q, in_len, plane) = (win.out_height() * ow, win.input_len(), win.height() * width);
        for (row, p) in col.chunks_exact_mut(n * q).zip(patch_rows(&win)) {
            let ((ki, kj), Range { start: b0, end: b1 }) = (p.offset, p.cols);
            for (s, out) in row.chunks_exact_mut(q).enumerate() {
                let img = &x[s * in_len + p.channel * plane..][..plane];
                let rows = p.rows.start * ow..p.rows.end * ow;
                zero::<L::Reg<T>>(level, &mut out[..rows.start]);
                zero::<L::Reg<T>>(level, &mut out[rows.end..]);
                for a in p.rows.clone() {
                    let src = &img[(a * stride + ki - padding) * width..][..width];
                    let dst = &mut out[a * ow..][..ow];
                    zero::<L::Reg<T>>(level, &mut dst[..b0]);
                    zero::<L::Reg<T>>(level, &mut dst[b1..]);
                    if stride == 1 {
                        copy::<L::Reg<T>>(level, &src[b0 + kj - padding..b1 + kj - padding], &mut dst[b0..b1]);
                    } else {
                        for (d, b) in dst[b0..b1].iter_mut().zip(b0..b1) {
                            *d = src[b * stride + kj - padding];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: each input cell of `dx` (`n` samples) receives
/// the sum of the `dcol` entries that read it, added in the order of the
/// patch matrix's rows.
pub(crate) fn col2im<T: Float>(win: &Window2d, dcol: &[T], n: usize, dx: &mut [T]) {
    dx.fill(T::zero());
    if n == 0 {
        return;
    }
    let q = win.out_height() * win.out_width();
    assert!(dx.len() >= n * win.input_len() && dcol.len() >= win.channels() * win.kernel().pow(2) * n * q);
    dispatch(Col2im { win: *win, dcol, n, dx })
}

struct Col2im<'a, T> {
    win: Window2d,
    dcol: &'a [T],
    n: usize,
    dx: &'a mut [T],
}

impl<T: Float> Kernel for Col2im<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, level: L) {
        let Self { win, dcol, n, dx } = self;
        let (width, stride, padding) = (win.width(), win.stride(), win.padding());
        let ow = win.out_width();
        let (q, in_len, plane) = (win.out_height() * ow, win.input_len(), win.height() * width);
        for (row, p) in dcol.chunks_exact(n * q).zip(patch_rows(&win)) {
            let ((ki, kj), Range { start: b0, end: b1 }) = (p.offset, p.cols);
            for (s, src) in row.chunks_exact(q).enumerate() {
                let img = &mut dx[s * in_len + p.channel * plane..][..plane];
                for a in p.rows.clone() {
                    let dst = &mut img[(a * stride + ki - padding) * width..][..width];
                    let g = &src[a * ow..][..ow];
                    if stride == 1 {
                        add::<L::Reg<T>>(level, &g[b0..b1], &mut dst[b0 + kj - padding..b1 + kj - padding]);
                    } else {
                        for b in b0..b1 {
                            dst[b * stride + kj - padding] += g[b];
                        }
                    }
                }
            }
        }
    }
}

/// `dst = 0`, a register at a time.
#[inline(always)]
fn zero<V: Vector>(_: V::Token, dst: &mut [V::Elem]) {
    let (l, len, d) = (V::LANES, dst.len(), dst.as_mut_ptr());
    // SAFETY: the token shows the CPU has `V`'s instructions; stores write elements
    // `i..i + LANES` below `len`, or are masked to those below `len`.
    unsafe {
        let mut i = 0;
        while i + l <= len {
            V::store(d.add(i), V::zero());
            i += l;
        }
        if i < len {
            V::store_masked(d.add(i), V::mask(len - i), V::zero());
        }
    }
}

/// `dst = src` (as long), a register at a time.
#[inline(always)]
fn copy<V: Vector>(_: V::Token, src: &[V::Elem], dst: &mut [V::Elem]) {
    assert_eq!(src.len(), dst.len());
    let (l, len, s, d) = (V::LANES, dst.len(), src.as_ptr(), dst.as_mut_ptr());
    // SAFETY: as in `zero`; loads read the elements of `src` the stores write
    // in `dst`, which is as long.
    unsafe {
        let mut i = 0;
        while i + l <= len {
            V::store(d.add(i), V::load(s.add(i)));
            i += l;
        }
        if i < len {
            let mask = V::mask(len - i);
            V::store_masked(d.add(i), mask, V::load_masked(s.add(i), mask));
        }
    }
}

/// `dst += src` (as long), a register at a time.
#[inline(always)]
fn add<V: Vector>(_: V::Token, src: &[V::Elem], dst: &mut [V::Elem]) {
    assert_eq!(src.len(), dst.len());
    let (l, len, s, d) = (V::LANES, dst.len(), src.as_ptr(), dst.as_mut_ptr());
    // SAFETY: as in `copy`, reading and writing `dst` at the same elements.
    unsafe {
        let mut i = 0;
        while i + l <= len {
            V::store(d.add(i), V::add(V::load(d.add(i)), V::load(s.add(i))));
            i += l;
        }
        if i < len {
            let mask = V::mask(len - i);
            V::store_masked(d.add(i), mask, V::add(V::load_masked(d.add(i), mask), V::load_masked(s.add(i), mask)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{with_isa, Isa};

    /// The plain loops: entry `(c, ki, kj), (s, a, b)` of the patch matrix
    /// reads input cell `(c, a S + ki - P, b S + kj - P)` of sample `s`, or
    /// padding.
    fn cell(win: &Window2d, row: usize, s: usize, pos: usize) -> Option<usize> {
        let (k, ow) = (win.kernel(), win.out_width());
        let (c, ki, kj) = (row / (k * k), row / k % k, row % k);
        let (a, b) = (pos / ow, pos % ow);
        let r = (a * win.stride() + ki).checked_sub(win.padding()).filter(|r| *r < win.height())?;
        let col = (b * win.stride() + kj).checked_sub(win.padding()).filter(|c| *c < win.width())?;
        Some(s * win.input_len() + (c * win.height() + r) * win.width() + col)
    }

    /// Kernels 1 to 5, strides 1 to 3, paddings up to 2, rows shorter and
    /// longer than a register: every entry, on every instruction set, the
    /// bits of the plain loops (col2im adds in the patch matrix's row order).
    fn check<T: Float>() {
        let n = 3;
        let mut checked = 0;
        for (h, w) in [(5, 6), (8, 8), (9, 20), (28, 28)] {
            for kernel in 1..=5 {
                for stride in 1..=3 {
                    for padding in 0..=2 {
                        if kernel > h + 2 * padding || kernel > w + 2 * padding {
                            continue;
                        }
                        let win = Window2d::new(2, h, w, kernel, stride, padding);
                        let (rows, q) = (2 * kernel * kernel, win.out_height() * win.out_width());
                        let x: Vec<T> =
                            (0..n * win.input_len()).map(|i| T::of(((i * 37) % 101) as f64 * 0.37 - 17.0)).collect();
                        let g: Vec<T> = (0..rows * n * q).map(|i| T::of(((i * 53) % 97) as f64 * 0.21 - 9.0)).collect();
                        let mut want_col = vec![T::zero(); rows * n * q];
                        let mut want_dx = vec![T::zero(); x.len()];
                        for row in 0..rows {
                            for s in 0..n {
                                for pos in 0..q {
                                    if let Some(i) = cell(&win, row, s, pos) {
                                        want_col[(row * n + s) * q + pos] = x[i];
                                        want_dx[i] += g[(row * n + s) * q + pos];
                                    }
                                }
                            }
                        }
                        for &isa in Isa::ALL.iter().filter(|i| i.available()) {
                            let mut col = vec![T::of(f64::NAN); rows * n * q];
                            with_isa(isa, || im2col(&win, &x, n, &mut col));
                            let same = |a: &[T], b: &[T]| {
                                a.iter().zip(b).all(|(a, b)| a.as_f64().to_bits() == b.as_f64().to_bits())
                            };
                            assert!(same(&col, &want_col), "{isa:?} {win:?}: im2col");
                            let mut dx = vec![T::of(f64::NAN); x.len()];
                            with_isa(isa, || col2im(&win, &g, n, &mut dx));
                            assert!(same(&dx, &want_dx), "{isa:?} {win:?}: col2im");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked >= 4 * 5 * 3 * 3 / 2);
    }

    #[test]
    fn patches_and_their_adjoint_give_the_bits_of_plain_loops_on_every_isa_f32() {
        check::<f32>();
    }

    #[test]
    fn patches_and_their_adjoint_give_the_bits_of_plain_loops_on_every_isa_f64() {
        check::<f64>();
    }
}
