//! The patch matrix of a convolution (`im2col`) and its adjoint (`col2im`),
//! compiled for every instruction set by the kernels' dispatcher.
//!
//! Layout, for `n` samples with `Q = H' * W'` output positions each: `col`
//! is row-major `[C*K*K, n*Q]`, row `(c, ki, kj)` (the weight's `[OC, C, K,
//! K]` flattening), column `(sample, position)` (the layers call with one
//! sample). A row of one sample is `H'` runs of `W'` values, each a run of
//! an input row (with stride 1) between zeros where the window covers
//! padding. On small images a run is a few values, shorter than a register:
//! with stride 1, `im2col` writes them front to back a register at a time
//! without masks ([`Front`]; for `f32` with AVX-512, 16 positions at a
//! time, permuted from a zero-padded copy of the plane), and the adjoint
//! goes through "wide" positions ([`Wide`], [`col2im_wide`]), where each
//! row of the patch matrix's gradient is one contiguous run onto the padded
//! input. Masked loads and stores of 8-value runs were most of these
//! kernels' time.

use std::ops::Range;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::f32x16::{f32s, f32s_mut};
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::isa::Isa;
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
/// [`col2im`] both walk. The tap ranges (two divisions each) are worked out
/// once per call for the first [`PatchRows::KEPT`] offsets, and the rows
/// counted without dividing: the layers call once per sample, and per row
/// the divisions cost as much as copying the row of a small image.
struct PatchRows {
    win: Window2d,
    /// The output rows (columns) whose tap at offset `i` falls inside the image.
    kept: [(Range<usize>, Range<usize>); PatchRows::KEPT],
    /// The next row's `(c, ki, kj)`.
    next: (usize, usize, usize),
}

impl PatchRows {
    const KEPT: usize = 16;

    #[inline(always)]
    fn new(win: &Window2d) -> Self {
        let kept = std::array::from_fn(|i| if i < win.kernel() { Self::taps(win, i) } else { (0..0, 0..0) });
        Self { win: *win, kept, next: (0, 0, 0) }
    }

    /// The output rows and columns whose tap at offset `i` falls inside the image.
    #[inline(always)]
    fn taps(win: &Window2d, i: usize) -> (Range<usize>, Range<usize>) {
        let (stride, padding) = (win.stride(), win.padding());
        (
            taps(win.out_height(), i, stride, padding, win.height()),
            taps(win.out_width(), i, stride, padding, win.width()),
        )
    }
}

impl Iterator for PatchRows {
    type Item = PatchRow;

    #[inline(always)]
    fn next(&mut self) -> Option<PatchRow> {
        let (channel, ki, kj) = self.next;
        if channel == self.win.channels() {
            return None;
        }
        let kernel = self.win.kernel();
        self.next = match (ki + 1 == kernel, kj + 1 == kernel) {
            (_, false) => (channel, ki, kj + 1),
            (false, true) => (channel, ki + 1, 0),
            (true, true) => (channel + 1, 0, 0),
        };
        let of = |i: usize| self.kept.get(i).cloned().unwrap_or_else(|| Self::taps(&self.win, i));
        Some(PatchRow { channel, offset: (ki, kj), rows: of(ki).0, cols: of(kj).1 })
    }
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
        if stride == 1 {
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            if let (Isa::Avx512, Some(x), Some(col)) = (L::ISA, f32s(x), f32s_mut(col)) {
                if avx512::fits(&win) {
                    // SAFETY: a value of a level (`run`'s argument) whose ISA
                    // is AVX-512 exists only where this CPU has AVX-512F.
                    return unsafe { avx512::im2col_stride_1(&win, x, n, col) };
                }
            }
            return im2col_stride_1::<L::Reg<T>>(level, &win, x, n, col);
        }
        for (row, p) in col.chunks_exact_mut(n * q).zip(PatchRows::new(&win)) {
            let ((ki, kj), Range { start: a0, end: a1 }, Range { start: b0, end: b1 }) = (p.offset, p.rows, p.cols);
            for (s, out) in row.chunks_exact_mut(q).enumerate() {
                let img = &x[s * in_len + p.channel * plane..][..plane];
                if a0 == a1 || b0 == b1 {
                    // Every tap of this row reads padding (and `first`
                    // below would lie outside the image).
                    zero::<L::Reg<T>>(level, out);
                    continue;
                }
                zero::<L::Reg<T>>(level, &mut out[..a0 * ow]);
                zero::<L::Reg<T>>(level, &mut out[a1 * ow..]);
                let first = (a0 * stride + ki - padding) * width + b0 * stride + kj - padding;
                for (a, dst) in out[a0 * ow..a1 * ow].chunks_exact_mut(ow).enumerate() {
                    // The columns whose tap reads padding are zeros.
                    zero::<L::Reg<T>>(level, &mut dst[..b0]);
                    zero::<L::Reg<T>>(level, &mut dst[b1..]);
                    let src = &img[first + a * stride * width..];
                    for (d, b) in dst[b0..b1].iter_mut().zip(0..) {
                        *d = src[b * stride];
                    }
                }
            }
        }
    }
}

/// Writes a slice front to back in runs, each a register at a time without
/// masks: a register that passes the end of its run writes values a later
/// run overwrites, since every run starts where the one before ended. Only
/// what would pass the end of the slice (or read past the end of the source
/// it copies from) is masked. On small images most runs are shorter than a
/// register (8 values on an 8x8 image), and masked stores cost more than
/// the copies.
struct Front<V: Vector> {
    /// The next element to write.
    at: *mut V::Elem,
    end: *mut V::Elem,
    /// The end of the source runs are copied from.
    src_end: *const V::Elem,
}

impl<V: Vector> Front<V> {
    /// A writer of `dst` from its first element, copying from `src`.
    #[inline(always)]
    fn new(dst: &mut [V::Elem], src: &[V::Elem]) -> Self {
        let at = dst.as_mut_ptr();
        Self { at, end: at.wrapping_add(dst.len()), src_end: src.as_ptr().wrapping_add(src.len()) }
    }

    /// Writes the next `len` values: zeros, or `src`'s first `len`.
    ///
    /// # Safety
    /// The CPU must have `V`'s instructions; the runs written so far and
    /// this one lie in the slice the writer was made for (at most its
    /// length in all), and `src` points to `len` elements of the source.
    #[inline(always)]
    unsafe fn put(&mut self, src: Option<*const V::Elem>, len: usize) {
        let (l, size) = (V::LANES, std::mem::size_of::<V::Elem>());
        // SAFETY: the caller's contract; a whole register is stored (loaded)
        // only where it ends inside the slice (source), else the lanes below
        // `len`, which lie inside.
        unsafe {
            let mut i = 0;
            while i < len {
                let dst = self.at.add(i);
                let mask = V::mask((len - i).min(l));
                let v = match src {
                    None => V::zero(),
                    Some(s) if s.add(i) as usize + l * size <= self.src_end as usize => V::load(s.add(i)),
                    Some(s) => V::load_masked(s.add(i), mask),
                };
                if dst as usize + l * size <= self.end as usize {
                    V::store(dst, v);
                } else {
                    V::store_masked(dst, mask, v);
                }
                i += l;
            }
            self.at = self.at.add(len);
        }
    }
}

/// [`Im2col`] with stride 1: the patch matrix written front to back
/// ([`Front`]), in runs of zeros where a tap reads padding and copies of an
/// image row's part where it does not.
#[inline(always)]
fn im2col_stride_1<V: Vector>(_: V::Token, win: &Window2d, x: &[V::Elem], n: usize, col: &mut [V::Elem]) {
    let (width, padding, (oh, ow)) = (win.width(), win.padding(), (win.out_height(), win.out_width()));
    let (in_len, plane) = (win.input_len(), win.height() * width);
    let rows = win.channels() * win.kernel() * win.kernel();
    assert!(x.len() >= n * in_len && col.len() >= rows * n * oh * ow);
    let mut front = Front::<V>::new(col, x);
    // SAFETY: the token shows the CPU has `V`'s instructions. The runs add
    // up to `rows * n * oh * ow <= col.len()` elements (asserted); copies
    // read `b1 - b0` elements of an image row of `x`, the taps of
    // `PatchRows` lying inside the image.
    unsafe {
        for p in PatchRows::new(win) {
            let ((ki, kj), Range { start: a0, end: a1 }, Range { start: b0, end: b1 }) = (p.offset, p.rows, p.cols);
            for s in 0..n {
                let img = x.as_ptr().add(s * in_len + p.channel * plane);
                front.put(None, a0 * ow);
                for a in a0..a1 {
                    front.put(None, b0);
                    if b0 < b1 {
                        front.put(Some(img.add((a + ki - padding) * width + b0 + kj - padding)), b1 - b0);
                    }
                    front.put(None, ow - b1);
                }
                front.put(None, (oh - a1) * ow);
            }
        }
    }
}

/// [`im2col_stride_1`] on `f32` in AVX-512 registers, for small planes: a
/// channel is copied once into a zero-padded plane, and then 16 positions
/// of a patch row are one permute of two registers loaded from it (the 16
/// positions' taps span at most 32 cells of the padded plane: two rows of
/// 8 on an 8x8 image, four of 4 on a 4x4 one). The runs of 8 or 4 values
/// between zeros cost a masked store each, and most of `im2col`'s time.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod avx512 {
    #[cfg(target_arch = "x86")]
    use std::arch::x86::*;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    use super::super::f32x16::lanes;
    use super::super::simd::first_16;
    use super::Window2d;

    /// The largest padded plane, and the most output positions, taken (on the stack).
    const PLANE: usize = 2048;
    const POSITIONS: usize = 1024;

    /// Where output position `p`'s tap `(0, 0)` is in the padded plane.
    #[inline(always)]
    fn cell(win: &Window2d, p: usize) -> usize {
        p / win.out_width() * (win.width() + 2 * win.padding()) + p % win.out_width()
    }

    /// Whether [`im2col_stride_1`] takes `win` (stride 1): output rows
    /// shorter than a register (on longer ones, W8's 24, the runs of the
    /// portable writer cost less than the permutes), the padded plane and
    /// the positions fit its buffers, and every 16 consecutive positions'
    /// taps lie within 32 cells of the padded plane.
    pub(super) fn fits(win: &Window2d) -> bool {
        let (pw, ph) = (win.width() + 2 * win.padding(), win.height() + 2 * win.padding());
        let q = win.out_height() * win.out_width();
        win.out_width() < 16
            && ph * pw + 32 <= PLANE
            && q <= POSITIONS
            && (0..q).step_by(16).all(|p| cell(win, (p + 15).min(q - 1)) - cell(win, p) < 32)
    }

    /// `im2col_stride_1` on `f32`s, for a window that [`fits`].
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn im2col_stride_1(win: &Window2d, x: &[f32], n: usize, col: &mut [f32]) {
        let (width, height, padding, kernel) = (win.width(), win.height(), win.padding(), win.kernel());
        let (pw, q) = (width + 2 * padding, win.out_height() * win.out_width());
        assert!(fits(win) && win.stride() == 1);
        assert!(x.len() >= n * win.input_len() && col.len() >= win.channels() * kernel * kernel * n * q);
        // Per block of 16 positions: where its first tap is, and the others from there.
        let mut blocks = [(0usize, _mm512_setzero_si512()); POSITIONS / 16];
        for (p, block) in (0..q).step_by(16).zip(&mut blocks) {
            let at = cell(win, p);
            let rel = lanes(|l| (cell(win, (p + l as usize).min(q - 1)) - at) as u32);
            *block = (at, _mm512_loadu_si512(rel.as_ptr().cast()));
        }
        let blocks = &blocks[..q.div_ceil(16)];
        // Zeros around the image, and past it for the last blocks' second
        // register: only the part used is written (and read), the layers
        // call once per sample.
        let mut plane = [std::mem::MaybeUninit::<f32>::uninit(); PLANE];
        let used = (win.height() + 2 * padding) * pw + 32;
        let padded = plane.as_mut_ptr().cast::<f32>();
        for i in (0..used).step_by(16) {
            // SAFETY: `used <= PLANE` (`fits`); the lanes stored lie below it.
            unsafe { _mm512_mask_storeu_ps(padded.add(i), first_16(used - i), _mm512_setzero_ps()) };
        }
        let (x, col) = (x.as_ptr(), col.as_mut_ptr());
        for s in 0..n {
            for c in 0..win.channels() {
                let img = x.wrapping_add((s * win.channels() + c) * height * width);
                for r in 0..height {
                    for j in (0..width).step_by(16) {
                        let k = first_16(width - j);
                        // SAFETY: row `r` of the image holds `width` values;
                        // the padded plane holds its row `r + P` at `P`.
                        unsafe {
                            let v = _mm512_maskz_loadu_ps(k, img.wrapping_add(r * width + j));
                            _mm512_mask_storeu_ps(padded.add((r + padding) * pw + padding + j), k, v);
                        }
                    }
                }
                for t in 0..kernel * kernel {
                    let src = padded.cast_const().wrapping_add(t / kernel * pw + t % kernel);
                    let dst = col.wrapping_add(((c * kernel * kernel + t) * n + s) * q);
                    for (b, &(at, rel)) in blocks.iter().enumerate() {
                        // SAFETY: `src + at` and the 31 cells after it lie in
                        // the `used` (written) part of `padded`: the last
                        // position's last tap is cell `(H + 2P)(W + 2P) - 1`;
                        // the lanes stored are the row's positions.
                        unsafe {
                            let (lo, hi) = (_mm512_loadu_ps(src.add(at)), _mm512_loadu_ps(src.add(at + 16)));
                            let v = _mm512_permutex2var_ps(lo, rel, hi);
                            if 16 * b + 16 <= q {
                                _mm512_storeu_ps(dst.add(16 * b), v);
                            } else {
                                _mm512_mask_storeu_ps(dst.add(16 * b), first_16(q - 16 * b), v);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The layout in which a stride-1 convolution takes its patch-matrix
/// gradient back to its input, one sample at a time ([`col2im_wide`]).
///
/// The output positions are "wide": `W + 2P` per row rather than `W'`, the
/// last `K - 1` of each outside the output. Then tap `(ki, kj)` of position
/// `t` is cell `ki (W + 2P) + kj + t` of the padded input plane, for every
/// `t`: a row of the patch-matrix gradient adds onto the padded plane in one
/// contiguous run, where the output's positions took `H'` runs of `W'`
/// (8-value runs on 8x8 images, each a masked load, add and store). The
/// output gradient is spread into wide rows with zeros in the extra
/// positions ([`spread_wide`]), so the product `W^T g` is zero there (for
/// finite weights) and adds nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wide {
    /// Wide positions: `H' (W + 2P)`.
    pub(crate) positions: usize,
    /// A row of the patch-matrix gradient: `K - 1` zeros, the positions,
    /// `K - 1` zeros, so that every shifted read stays in the row.
    pub(crate) row: usize,
    /// A padded input plane: `(H + 2P)(W + 2P)` and the `K - 1` cells the
    /// last positions' taps reach past it.
    pub(crate) plane: usize,
}

impl Wide {
    /// The layout of `win`'s convolution, which must have stride 1.
    pub(crate) fn of(win: &Window2d) -> Self {
        assert_eq!(win.stride(), 1, "the wide layout is for stride 1");
        let (pw, k) = (win.width() + 2 * win.padding(), win.kernel());
        let positions = win.out_height() * pw;
        Self { positions, row: positions + 2 * (k - 1), plane: (win.height() + 2 * win.padding()) * pw + k - 1 }
    }

    /// Where the positions start in a row.
    pub(crate) fn first(win: &Window2d) -> usize {
        win.kernel() - 1
    }
}

/// `wide` (`[OC, H' (W + 2P)]`, row-major) = the sample's output gradient
/// `g` (`[OC, Q]`) in [`Wide`] positions, zeros at the extra ones.
pub(crate) fn spread_wide<T: Float>(win: &Window2d, g: &[T], wide: &mut [T]) {
    dispatch(SpreadWide { win: *win, g, wide })
}

struct SpreadWide<'a, T> {
    win: Window2d,
    g: &'a [T],
    wide: &'a mut [T],
}

impl<T: Float> Kernel for SpreadWide<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        let Self { win, g, wide } = self;
        let (ow, pw) = (win.out_width(), win.width() + 2 * win.padding());
        let rows = g.len() / ow;
        assert!(g.len() == rows * ow && wide.len() >= rows * pw);
        let mut front = Front::<L::Reg<T>>::new(&mut wide[..rows * pw], g);
        // SAFETY: the level's token shows the CPU's instructions; `rows`
        // runs of `pw` fill `wide[..rows * pw]` exactly, each reading a row
        // of `g`.
        unsafe {
            for r in 0..rows {
                front.put(Some(g.as_ptr().add(r * ow)), ow);
                front.put(None, pw - ow);
            }
        }
    }
}

/// The adjoint of [`im2col`] for one sample of a stride-1 convolution, from
/// its patch-matrix gradient in [`Wide`] rows (`dcol`, zeros around each
/// row's positions): `dx` (`C * H * W`) receives, in each cell, the sum of
/// the entries that read it, added in the order of the patch matrix's rows
/// as [`col2im`] adds them (with zeros between, which change no bit: a sum
/// from +0 is never -0). `padded` is scratch for the padded planes (`C *
/// Wide::plane`).
pub(crate) fn col2im_wide<T: Float>(win: &Window2d, dcol: &[T], padded: &mut [T], dx: &mut [T]) {
    let wide = Wide::of(win);
    assert!(dcol.len() >= win.channels() * win.kernel().pow(2) * wide.row);
    assert!(padded.len() >= win.channels() * wide.plane && dx.len() >= win.input_len());
    dispatch(Col2imWide { win: *win, wide, dcol, padded, dx })
}

struct Col2imWide<'a, T> {
    win: Window2d,
    wide: Wide,
    dcol: &'a [T],
    padded: &'a mut [T],
    dx: &'a mut [T],
}

impl<T: Float> Kernel for Col2imWide<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, level: L) {
        let Self { win, wide, dcol, padded, dx } = self;
        let (k, pw, padding) = (win.kernel(), win.width() + 2 * win.padding(), win.padding());
        let padded = &mut padded[..win.channels() * wide.plane];
        zero::<L::Reg<T>>(level, padded);
        // The run of tap row `ki`: positions shifted by `ki (W + 2P) + kj`,
        // for `kj` in `0..K`: `positions + K - 1` cells.
        let len = wide.positions + k - 1;
        for (c, plane) in padded.chunks_exact_mut(wide.plane).enumerate() {
            for ki in 0..k {
                let dst = &mut plane[ki * pw..][..len];
                let rows = &dcol[(c * k + ki) * k * wide.row..][..k * wide.row];
                add_shifted_rows::<L::Reg<T>>(level, rows, wide.row, k, dst);
            }
        }
        // The image inside the padding, row by row.
        let (height, width) = (win.height(), win.width());
        let dx = &mut dx[..win.input_len()];
        let mut front = Front::<L::Reg<T>>::new(dx, padded);
        // SAFETY: the token shows the CPU's instructions; `C H` runs of `W`
        // fill `dx` exactly, each reading `W` cells of a padded plane's row.
        unsafe {
            for c in 0..win.channels() {
                for r in 0..height {
                    front.put(Some(padded.as_ptr().add(c * wide.plane + (r + padding) * pw + padding)), width);
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
        for (row, p) in dcol.chunks_exact(n * q).zip(PatchRows::new(&win)) {
            let ((ki, kj), Range { start: a0, end: a1 }, Range { start: b0, end: b1 }) = (p.offset, p.rows, p.cols);
            if a0 == a1 || b0 == b1 {
                continue;
            }
            let first = (a0 * stride + ki - padding) * width + b0 * stride + kj - padding;
            for (s, src) in row.chunks_exact(q).enumerate() {
                let img = &mut dx[s * in_len + p.channel * plane..][..plane];
                let src = &src[a0 * ow + b0..a1 * ow];
                if stride == 1 {
                    add_runs::<L::Reg<T>>(level, src, ow, &mut img[first..], width, (a1 - a0, b1 - b0));
                } else {
                    for (a, g) in src.chunks(ow).enumerate() {
                        let dst = &mut img[first + a * stride * width..];
                        for (b, g) in g[..b1 - b0].iter().enumerate() {
                            dst[b * stride] += *g;
                        }
                    }
                }
            }
        }
    }
}

/// `dst += src` on the runs of `len` elements at `src[r * src_step..]` and
/// `dst[r * dst_step..]` for `r` in `0..rows`: runs of a patch-matrix row
/// added onto image rows, a register at a time, the last part of each
/// masked. Bounds are checked once, and the mask made once per call, not
/// per run: a run is often a few values (8 on an 8x8 image), so per-run
/// work is most of the cost.
#[inline(always)]
fn add_runs<V: Vector>(
    _: V::Token,
    src: &[V::Elem],
    src_step: usize,
    dst: &mut [V::Elem],
    dst_step: usize,
    (rows, len): (usize, usize),
) {
    if len == 0 || rows == 0 {
        return;
    }
    assert!((rows - 1) * dst_step + len <= dst.len() && (rows - 1) * src_step + len <= src.len());
    let (l, s, d) = (V::LANES, src.as_ptr(), dst.as_mut_ptr());
    // SAFETY: the token shows the CPU has `V`'s instructions. Run `r < rows`
    // covers elements `r * step..r * step + len` of `src` and `dst`, inside
    // the slices by the assertion; the loops touch elements `i..i + LANES`
    // below `len`, the masked ones only lanes below `len`.
    unsafe {
        let (full, tail) = (len / l * l, V::mask(len % l));
        for r in 0..rows {
            let (s, d) = (s.add(r * src_step), d.add(r * dst_step));
            let mut i = 0;
            while i < full {
                V::store(d.add(i), V::add(V::load(d.add(i)), V::load(s.add(i))));
                i += l;
            }
            if i < len {
                let sum = V::add(V::load_masked(d.add(i), tail), V::load_masked(s.add(i), tail));
                V::store_masked(d.add(i), tail, sum);
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

/// `dst[u] += rows[kj][K - 1 + u - kj]` for `kj` in `0..k`, in that order,
/// for every cell `u` of `dst` (`rows`: `k` rows of `row`, the first and last
/// `K - 1` of each zeros), summed in registers: the `k` runs overlap, one
/// element apart, and added one after the other each run's loads would wait
/// for the stores of the one before.
#[inline(always)]
fn add_shifted_rows<V: Vector>(_: V::Token, rows: &[V::Elem], row: usize, k: usize, dst: &mut [V::Elem]) {
    let (l, len) = (V::LANES, dst.len());
    assert!(rows.len() >= k * row && len + k - 1 <= row);
    let (d, r) = (dst.as_mut_ptr(), rows.as_ptr());
    // SAFETY: the token shows the CPU has `V`'s instructions. Whole
    // registers are loaded and stored only at `u + LANES <= len`, else the
    // lanes below `len`; tap `kj` reads elements `kj * row + K - 1 - kj + u`
    // for those `u`, below `kj * row + K - 1 + len <= (kj + 1) * row`
    // (asserted): inside row `kj` of `rows`.
    unsafe {
        let mut u = 0;
        while u < len {
            let whole = u + l <= len;
            let mask = V::mask((len - u).min(l));
            let load = |p: *const V::Elem| if whole { V::load(p) } else { V::load_masked(p, mask) };
            let mut acc = load(d.add(u));
            for kj in 0..k {
                acc = V::add(acc, load(r.add(kj * row + k - 1 - kj + u)));
            }
            if whole {
                V::store(d.add(u), acc);
            } else {
                V::store_masked(d.add(u), mask, acc);
            }
            u += l;
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
    /// On 18x1 images 16 positions of a padded window span more than the
    /// 32 cells AVX-512's permutes read from: its `f32` kernel leaves them.
    fn check<T: Float>() {
        let n = 3;
        let mut checked = 0;
        for (h, w) in [(5, 6), (8, 8), (9, 20), (28, 28), (4, 4), (12, 12), (18, 1)] {
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
                            if stride == 1 {
                                wide_sample_by_sample(isa, &win, &g, n, &want_dx);
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked >= 4 * 5 * 3 * 3 / 2);
    }

    /// [`col2im_wide`] on each sample's rows of `g` laid out wide (with the
    /// output gradient spread by [`spread_wide`] and multiplied by an
    /// identity, as the layer multiplies it by `W^T`): the bits of `want`.
    fn wide_sample_by_sample<T: Float>(isa: Isa, win: &Window2d, g: &[T], n: usize, want: &[T]) {
        let (rows, (oh, ow)) = (win.channels() * win.kernel().pow(2), (win.out_height(), win.out_width()));
        let (q, pw, wide) = (oh * ow, win.width() + 2 * win.padding(), Wide::of(win));
        for s in 0..n {
            // The sample's rows of g, spread into wide positions: a 1-channel
            // "output gradient" per row.
            let mut dcol = vec![T::zero(); rows * wide.row];
            let mut spread = vec![T::of(f64::NAN); wide.positions];
            for r in 0..rows {
                with_isa(isa, || spread_wide(win, &g[(r * n + s) * q..][..q], &mut spread));
                for (a, chunk) in spread.chunks_exact(pw).enumerate() {
                    assert!(chunk[ow..].iter().all(|v| *v == T::zero()), "{isa:?} {win:?}: spread's extra positions");
                    assert!(chunk[..ow].iter().zip(&g[(r * n + s) * q + a * ow..]).all(|(x, y)| x == y));
                }
                dcol[r * wide.row + Wide::first(win)..][..wide.positions].copy_from_slice(&spread);
            }
            let mut padded = vec![T::of(f64::NAN); win.channels() * wide.plane];
            let mut dx = vec![T::of(f64::NAN); win.input_len()];
            with_isa(isa, || col2im_wide(win, &dcol, &mut padded, &mut dx));
            let want = &want[s * win.input_len()..][..win.input_len()];
            let same = dx.iter().zip(want).all(|(a, b)| a.as_f64().to_bits() == b.as_f64().to_bits());
            assert!(same, "{isa:?} {win:?}: col2im_wide, sample {s}");
        }
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
