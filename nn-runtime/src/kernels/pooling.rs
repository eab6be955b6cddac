//! Max and average pooling over channel-major images, compiled for every
//! instruction set by the kernels' dispatcher.
//!
//! Both walk an output row at a time, and within it the window's taps in
//! scan order (row by row), each tap one loop over the output columns whose
//! window reaches it: a running maximum (or sum) per output column. Those
//! loops have no branch on data (a maximum is a compare and two selects), so
//! LLVM turns them into vector code for the level `dispatch` compiles them
//! for. The taps come in the order the windows were scanned before, so every
//! result is the bits of the plain loops: the same maximum and winner
//! (PyTorch's rule), the same sums in the same order.
//!
//! On small images those loops are a few values long (an 8x8 image's
//! `max_pool(2)` rows are 4), and LLVM's vector loop never starts: for `f32`
//! with AVX-512, `max_pool(2)`, `avg_pool(2)` and same-size max pools have
//! kernels written in registers (module `avx512`), 16 windows at a time,
//! comparing and adding in the same order.

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::f32x16::{f32s, f32s_mut};
use super::im2col::taps;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::isa::Isa;
use super::isa::{dispatch, Kernel, Level};
use super::Window2d;
use crate::kernels::Float;

/// Where a maximum is: the index of its input cell within the sample.
pub(crate) type Argmax = u32;

/// No cell of the window seen yet.
const UNSET: Argmax = Argmax::MAX;

/// The input rows `r` (unpadded) that output row `a` reads, with their tap row `ki`.
#[inline(always)]
fn window_rows(win: &Window2d, a: usize) -> impl Iterator<Item = (usize, usize)> {
    let (stride, padding, height) = (win.stride(), win.padding(), win.height());
    (0..win.kernel()).filter_map(move |ki| {
        let r = (a * stride + ki).checked_sub(padding)?;
        (r < height).then_some((ki, r))
    })
}

/// `y` = the maximum of every window of the `n` images `x`, and `argmax` =
/// where each is (the cell's index within its sample): the first maximum in
/// scan order, or the last NaN, as PyTorch's CPU kernel picks it.
pub(crate) fn max_pool<T: Float>(win: &Window2d, x: &[T], n: usize, y: &mut [T], argmax: &mut [Argmax]) {
    assert!(win.input_len() <= UNSET as usize, "max_pool: a sample of more than 2^32 - 1 values");
    dispatch(MaxPool { win: *win, x, n, y, argmax })
}

struct MaxPool<'a, T> {
    win: Window2d,
    x: &'a [T],
    n: usize,
    y: &'a mut [T],
    argmax: &'a mut [Argmax],
}

impl<T: Float> Kernel for MaxPool<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        let Self { win, x, n, y, argmax } = self;
        if flat(&win) {
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            if let (Isa::Avx512, Some(x), Some(y)) = (L::ISA, f32s(x), f32s_mut(y)) {
                if win.kernel() <= avx512::FLAT_KERNEL {
                    // SAFETY: a value of a level (`run`'s argument) whose ISA
                    // is AVX-512 exists only where this CPU has AVX-512F.
                    return unsafe { avx512::flat_max_pool(&win, x, n, y, argmax) };
                }
            }
            return flat_max_pool(&win, x, n, y, argmax);
        }
        if tiled_2x2(&win) {
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            if let (Isa::Avx512, Some(x), Some(y)) = (L::ISA, f32s(x), f32s_mut(y)) {
                // SAFETY: a value of a level (`run`'s argument) whose ISA is
                // AVX-512 exists only where this CPU has AVX-512F (isa.rs).
                return unsafe { avx512::max_pool_2x2(&win, x, n, y, argmax) };
            }
            return max_pool_2x2(&win, x, n, y, argmax);
        }
        each_row(&win, n, |k, a, taps| {
            let ((ow, width), plane) = ((win.out_width(), win.width()), win.height() * win.width());
            let img = &x[k * plane..][..plane];
            let at = (k * win.out_height() + a) * ow;
            let (best, cells) = (&mut y[at..at + ow], &mut argmax[at..at + ow]);
            best.fill(T::of(f64::NEG_INFINITY));
            cells.fill(UNSET);
            // The cell's index within its sample.
            let base = (k % win.channels() * plane) as Argmax;
            for (_, r) in window_rows(&win, a) {
                for kj in 0..win.kernel() {
                    let cols = taps.cols(kj);
                    if cols.is_empty() {
                        continue;
                    }
                    let first = r * width + cols.start * win.stride() + kj - win.padding();
                    let cell0 = base + first as Argmax;
                    let (best, cells) = (&mut best[cols.clone()], &mut cells[cols.clone()]);
                    // Taken: the window's first cell, a larger value, or a
                    // NaN. `|`, not `||`: no branch on data.
                    let step = |(i, ((v, b), c)): (usize, ((&T, &mut T), &mut Argmax))| {
                        #[allow(clippy::eq_op)]
                        let take = (*c == UNSET) | (*v > *b) | (*v != *v);
                        *b = if take { *v } else { *b };
                        *c = if take { cell0 + (i * win.stride()) as Argmax } else { *c };
                    };
                    let src = &img[first..];
                    if win.stride() == 1 {
                        src.iter().zip(best.iter_mut()).zip(cells.iter_mut()).enumerate().for_each(step);
                    } else {
                        let src = src.chunks(win.stride()).map(|c| &c[0]);
                        src.zip(best.iter_mut()).zip(cells.iter_mut()).enumerate().for_each(step);
                    }
                }
            }
        });
    }
}

/// The largest plane [`flat_max_pool`] takes (its column table and padded
/// plane are on the stack).
const FLAT_PLANE: usize = 1024;

/// dL/dx of [`max_pool`] from dL/dy `g` (`n` samples) and the winners of
/// its last call: every cell from zero, plus the gradient of each window it
/// won, in the windows' order.
pub(crate) fn max_pool_backward<T: Float>(win: &Window2d, g: &[T], argmax: &[Argmax], n: usize, dx: &mut [T]) {
    dispatch(MaxPoolBackward { win: *win, g, argmax, n, dx })
}

struct MaxPoolBackward<'a, T> {
    win: Window2d,
    g: &'a [T],
    argmax: &'a [Argmax],
    n: usize,
    dx: &'a mut [T],
}

impl<T: Float> Kernel for MaxPoolBackward<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        let Self { win, g, argmax, n, dx } = self;
        if tiled_2x2(&win) {
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            if let (Isa::Avx512, Some(g), Some(dx)) = (L::ISA, f32s(g), f32s_mut(dx)) {
                // SAFETY: a value of a level (`run`'s argument) whose ISA is
                // AVX-512 exists only where this CPU has AVX-512F (isa.rs).
                return unsafe { avx512::max_pool_backward_2x2(&win, g, argmax, n, dx) };
            }
        }
        let (inputs, outputs) = (win.input_len(), win.output_len(win.channels()));
        dx[..n * inputs].fill(T::zero());
        for (dx, (gs, am)) in
            dx.chunks_exact_mut(inputs).zip(g.chunks_exact(outputs).zip(argmax.chunks_exact(outputs))).take(n)
        {
            // Windows overlap when S < K: a cell may win several of them.
            for (g, i) in gs.iter().zip(am) {
                dx[*i as usize] += *g;
            }
        }
    }
}

/// Whether [`flat_max_pool`] takes `win`: stride 1, an output as large as
/// the input (padding `(K - 1) / 2`), and a plane and the cells its windows
/// reach past it ([`guard`]) of at most [`FLAT_PLANE`].
#[inline(always)]
fn flat(win: &Window2d) -> bool {
    let same = win.stride() == 1 && win.out_width() == win.width() && win.out_height() == win.height();
    same && win.height() * win.width() <= FLAT_PLANE && guard(win) <= FLAT_PLANE
}

/// How far a window of output `o` reaches before `o` (or after it) in the
/// flattened plane: `P` rows and `P` columns.
#[inline(always)]
fn guard(win: &Window2d) -> usize {
    win.padding() * (win.width() + 1)
}

/// [`MaxPool`] for [`flat`] windows, a plane at a time: output `o` reads
/// input `o + d` for tap `d = (ki - P) W + kj - P`, so each tap is one loop
/// over the whole plane (64 values on an 8x8 image, where a row is 8: too
/// short for a register of 16). The plane is copied between [`guard`]s on
/// the stack, so that every tap's loop reads the whole plane's length
/// (whole registers, no remainder on planes of a multiple of 16), the
/// cells past the image's rows and columns masked out by their row and
/// column.
#[inline(always)]
fn flat_max_pool<T: Float>(win: &Window2d, x: &[T], n: usize, y: &mut [T], argmax: &mut [Argmax]) {
    let (width, plane, padding, guard) = (win.width(), win.height() * win.width(), win.padding(), guard(win));
    let mut column = [0 as Argmax; FLAT_PLANE];
    for (o, c) in column[..plane].iter_mut().enumerate() {
        *c = (o % width) as Argmax;
    }
    let column = &column[..plane];
    let mut padded = [T::zero(); 3 * FLAT_PLANE];
    for k in 0..n * win.channels() {
        padded[guard..guard + plane].copy_from_slice(&x[k * plane..][..plane]);
        let (best, cells) = (&mut y[k * plane..][..plane], &mut argmax[k * plane..][..plane]);
        best.fill(T::of(f64::NEG_INFINITY));
        cells.fill(UNSET);
        let base = (k % win.channels() * plane) as Argmax;
        for ki in 0..win.kernel() {
            for kj in 0..win.kernel() {
                let d = (ki * width + kj) as isize - guard as isize;
                let src = &padded[(guard as isize + d) as usize..][..plane];
                // Tap `(ki, kj)` of output `o` is inside the image when its
                // row `o / W + ki - P` and column `o % W + kj - P` are: in
                // wrapping `u32`, `o + (ki - P) W < H W` and `o % W + kj - P < W`.
                let row_shift = ((ki * width) as Argmax).wrapping_sub((padding * width) as Argmax);
                let col_shift = (kj as Argmax).wrapping_sub(padding as Argmax);
                let cell0 = base.wrapping_add(d as Argmax);
                let lanes = src.iter().zip(column).zip(best.iter_mut().zip(cells.iter_mut()));
                for (o, ((v, col), (b, c))) in lanes.enumerate() {
                    let o = o as Argmax;
                    let inside =
                        (o.wrapping_add(row_shift) < plane as Argmax) & (col.wrapping_add(col_shift) < width as Argmax);
                    // Taken: inside the image and the window's first cell, a
                    // larger value, or a NaN. `&` and `|`, not `&&`: no branch.
                    #[allow(clippy::eq_op)]
                    let take = inside & ((*c == UNSET) | (*v > *b) | (*v != *v));
                    *b = if take { *v } else { *b };
                    *c = if take { cell0.wrapping_add(o) } else { *c };
                }
            }
        }
    }
}

/// Whether the windows are 2x2 with stride 2 and no padding (`max_pool(2)`,
/// `avg_pool(2)`): they tile the image, each cell in at most one window.
#[inline(always)]
fn tiled_2x2(win: &Window2d) -> bool {
    win.kernel() == 2 && win.stride() == 2 && win.padding() == 0
}

/// The two input rows `(top, bottom)` (`2 W'` values each, from column 0)
/// that output row `a` of plane `k` reads through [`tiled_2x2`] windows.
#[inline(always)]
fn rows_2x2<'a, T>(win: &Window2d, x: &'a [T], k: usize, a: usize) -> (&'a [T], &'a [T]) {
    let (width, plane, ow) = (win.width(), win.height() * win.width(), win.out_width());
    let rows = &x[k * plane + 2 * a * width..][..2 * width];
    (&rows[..2 * ow], &rows[width..][..2 * ow])
}

/// [`MaxPool`] for [`tiled_2x2`] windows: each output is one step over its
/// four cells in scan order, and the loop over an output row's columns has
/// no tap ranges to clip, so LLVM vectorizes it (de-interleaving the pairs
/// of columns) where the row path looped over 2-cell strided taps. (Plain
/// loops, no closures: a closure LLVM does not inline is compiled without
/// the level's instructions.)
#[inline(always)]
fn max_pool_2x2<T: Float>(win: &Window2d, x: &[T], n: usize, y: &mut [T], argmax: &mut [Argmax]) {
    let (width, plane, (oh, ow)) = (win.width(), win.height() * win.width(), (win.out_height(), win.out_width()));
    for k in 0..n * win.channels() {
        for a in 0..oh {
            let (top, bottom) = rows_2x2(win, x, k, a);
            let out = (k * oh + a) * ow;
            let (best, cells) = (&mut y[out..][..ow], &mut argmax[out..][..ow]);
            // The index within its sample of the row's first cell; window `b` starts 2 b further.
            let row = (k % win.channels() * plane + 2 * a * width) as Argmax;
            let width = width as Argmax;
            for b in 0..ow {
                let c = row + 2 * b as Argmax;
                let (mut m, mut at) = (top[2 * b], c);
                for (v, cell) in
                    [(top[2 * b + 1], c + 1), (bottom[2 * b], c + width), (bottom[2 * b + 1], c + width + 1)]
                {
                    // A larger value or a NaN; `|`, not `||`: no branch on data.
                    #[allow(clippy::eq_op)]
                    let take = (v > m) | (v != v);
                    m = if take { v } else { m };
                    at = if take { cell } else { at };
                }
                (best[b], cells[b]) = (m, at);
            }
        }
    }
}

/// The `f32` pooling kernels in AVX-512 registers, where the loops over
/// short output rows (4 or 12 values: W8's and Inception's `max_pool(2)`)
/// ran one value at a time: the cells of 16 windows are gathered from two
/// registers of input by permutes, then compared in scan order, as in the
/// plain loops, so every value and winner keeps its bits.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub(super) mod avx512 {
    #[cfg(target_arch = "x86")]
    use std::arch::x86::*;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    use super::super::f32x16::lanes;
    use super::super::simd::first_16;
    use super::{Argmax, Window2d};

    /// The window's maximum and where it is, from its four cells (in scan
    /// order) and their indices: the first larger value or NaN wins, as in
    /// `max_pool_2x2`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fold(cells: [__m512; 4], at: [__m512i; 4]) -> (__m512, __m512i) {
        let (mut m, mut i) = (cells[0], at[0]);
        for (v, c) in cells.into_iter().zip(at).skip(1) {
            let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, m) | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
            m = _mm512_mask_blend_ps(take, m, v);
            i = _mm512_mask_blend_epi32(take, i, c);
        }
        (m, i)
    }

    /// The largest kernel [`flat_max_pool`] takes: its taps' masks are on the stack.
    pub(super) const FLAT_KERNEL: usize = 7;

    /// `flat_max_pool` on `f32`s, 16 outputs of a plane at a time, each tap
    /// a masked load at its offset from the outputs (no padded copy of the
    /// plane): the lanes whose tap lies outside the image read nothing and
    /// take nothing. The masks depend on the plane's geometry only: worked
    /// out once per call.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn flat_max_pool(win: &Window2d, x: &[f32], n: usize, y: &mut [f32], argmax: &mut [Argmax]) {
        let (width, height, kernel, padding) = (win.width(), win.height(), win.kernel(), win.padding());
        let (plane, planes, taps) = (height * width, n * win.channels(), kernel * kernel);
        assert!(kernel <= FLAT_KERNEL && plane <= super::FLAT_PLANE && x.len() >= planes * plane);
        assert!(y.len() >= planes * plane && argmax.len() >= planes * plane);
        let (x, y, argmax) = (x.as_ptr(), y.as_mut_ptr(), argmax.as_mut_ptr().cast::<i32>());
        // Per tap in scan order its offset from the output, and per block
        // of 16 outputs and tap the lanes for which it lies inside the image
        // and those for which it is the window's first such.
        let offsets: [isize; FLAT_KERNEL * FLAT_KERNEL] =
            std::array::from_fn(|t| ((t / kernel) * width + t % kernel) as isize - (padding * (width + 1)) as isize);
        let mut masks = [[(0 as __mmask16, 0 as __mmask16); FLAT_KERNEL * FLAT_KERNEL]; super::FLAT_PLANE / 16];
        for (o0, block) in (0..plane).step_by(16).zip(&mut masks) {
            let mut seen: __mmask16 = 0;
            for (t, tap) in block.iter_mut().take(taps).enumerate() {
                let (ki, kj) = (t / kernel, t % kernel);
                let inside = (0..16.min(plane - o0)).fold(0, |mask: __mmask16, l| {
                    let (r, c) = ((o0 + l) / width + ki, (o0 + l) % width + kj);
                    let inside = (padding..height + padding).contains(&r) && (padding..width + padding).contains(&c);
                    mask | (u16::from(inside) << l)
                });
                *tap = (inside, inside & !seen);
                seen |= inside;
            }
        }
        let flat = Flat { plane, channels: win.channels(), taps, offsets, masks };
        // Four planes in lockstep, then the rest one at a time.
        let grouped = planes / 4 * 4;
        for k in (0..grouped).step_by(4) {
            // SAFETY: planes `k..k + 4` lie in `x`, `y` and `argmax` (asserted).
            unsafe { flat_planes::<4>(&flat, k, x, y, argmax) };
        }
        for k in grouped..planes {
            // SAFETY: as above, plane `k`.
            unsafe { flat_planes::<1>(&flat, k, x, y, argmax) };
        }
    }

    /// What [`flat_planes`] needs of the geometry: per tap its offset from
    /// the output, and per block of 16 outputs and tap the lanes inside the
    /// image and those for which it is the window's first inside.
    struct Flat {
        plane: usize,
        channels: usize,
        taps: usize,
        offsets: [isize; FLAT_KERNEL * FLAT_KERNEL],
        masks: [[(__mmask16, __mmask16); FLAT_KERNEL * FLAT_KERNEL]; super::FLAT_PLANE / 16],
    }

    /// Planes `k0..k0 + G` of [`flat_max_pool`], their blocks in lockstep:
    /// a tap's compare waits on the one before it, and `G` chains keep the
    /// vector units busy where one left them waiting (on 4x4 planes, one
    /// block each).
    ///
    /// # Safety
    /// Planes `k0..k0 + G` lie in `x`, `y` and `argmax`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn flat_planes<const G: usize>(flat: &Flat, k0: usize, x: *const f32, y: *mut f32, argmax: *mut i32) {
        let Flat { plane, channels, taps, ref offsets, ref masks } = *flat;
        let iota = _mm512_loadu_si512(lanes(|l| l).as_ptr().cast());
        for (o0, block) in (0..plane).step_by(16).zip(masks) {
            let src: [*const f32; G] = std::array::from_fn(|g| x.wrapping_add((k0 + g) * plane + o0));
            let base: [i32; G] = std::array::from_fn(|g| ((k0 + g) % channels * plane + o0) as i32);
            let mut m = [_mm512_set1_ps(f32::NEG_INFINITY); G];
            let mut at = [_mm512_set1_epi32(-1); G];
            for (&offset, &(inside, first)) in offsets.iter().zip(block).take(taps) {
                for g in 0..G {
                    // SAFETY: the lanes of `inside` read cells of plane
                    // `k0 + g` (output `o`'s tap, `o + offset`, inside the
                    // image); the others read nothing.
                    let v = unsafe { _mm512_maskz_loadu_ps(inside, src[g].wrapping_offset(offset)) };
                    let larger = _mm512_mask_cmp_ps_mask::<_CMP_GT_OQ>(inside, v, m[g]);
                    let take = first | larger | _mm512_mask_cmp_ps_mask::<_CMP_UNORD_Q>(inside, v, v);
                    m[g] = _mm512_mask_blend_ps(take, m[g], v);
                    let cell = _mm512_add_epi32(iota, _mm512_set1_epi32(base[g] + offset as i32));
                    at[g] = _mm512_mask_blend_epi32(take, at[g], cell);
                }
            }
            let valid = first_16(plane - o0);
            for g in 0..G {
                // SAFETY: the lanes of `valid` are outputs of plane `k0 + g`.
                unsafe {
                    _mm512_mask_storeu_ps(y.add((k0 + g) * plane + o0), valid, m[g]);
                    _mm512_mask_storeu_epi32(argmax.add((k0 + g) * plane + o0), valid, at[g]);
                }
            }
        }
    }

    /// Whether [`windows_2x2`] goes a sample at a time rather than a row at a
    /// time: a sample is `C H'` pairs of rows, each `2 W = 4 W'` values for
    /// `W'` outputs, one after the other, and 16 outputs (64 values) hold
    /// whole pairs of rows, the first 8 outputs in the first 32 values.
    #[inline(always)]
    fn whole_samples(win: &Window2d) -> bool {
        win.width().is_multiple_of(2) && win.height().is_multiple_of(2) && matches!(win.out_width(), 1 | 2 | 4 | 8)
    }

    /// Calls `f(out, valid, cells, at)` for every 16 consecutive outputs of
    /// the `n` images `x` under `tiled_2x2` windows: `out` the first one's
    /// index, `valid` the lanes that are outputs, `cells` the four cells of
    /// each window in scan order and `at` their indices within the sample.
    ///
    /// # Safety
    /// `x` holds `n` samples of `win`'s input.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn windows_2x2(
        win: &Window2d,
        x: &[f32],
        n: usize,
        mut f: impl FnMut(usize, __mmask16, [__m512; 4], [__m512i; 4]),
    ) {
        let (width, (oh, ow)) = (win.width(), (win.out_height(), win.out_width()));
        let (plane, outputs) = (win.height() * width, win.channels() * oh * ow);
        assert!(x.len() >= n * win.input_len());
        let (x, w) = (x.as_ptr(), width as u32);
        if whole_samples(win) {
            // Lane `l`'s top-left cell is value `rel[l]` of the 64 (a
            // permute reads the index's low 5 bits, its place in the pair
            // of registers).
            let rel = lanes(|l| l / ow as u32 * 2 * w + 2 * (l % ow as u32));
            let rel = _mm512_loadu_si512(rel.as_ptr().cast());
            let offsets = [0, 1, w, w + 1].map(|d| _mm512_add_epi32(rel, _mm512_set1_epi32(d as i32)));
            for s in 0..n {
                for t0 in (0..outputs).step_by(16) {
                    let valid = (outputs - t0).min(16);
                    let src = x.wrapping_add(s * 4 * outputs + 4 * t0);
                    // SAFETY: the chunk's `4 * valid` values lie in the
                    // sample (its input is `4 * outputs` values); masked
                    // lanes read nothing.
                    let v: [__m512; 4] = std::array::from_fn(|i| unsafe {
                        _mm512_maskz_loadu_ps(first_16((4 * valid).saturating_sub(16 * i)), src.wrapping_add(16 * i))
                    });
                    let cells = offsets.map(|o| {
                        let low = _mm512_permutex2var_ps(v[0], o, v[1]);
                        _mm512_mask_blend_ps(0xff00, low, _mm512_permutex2var_ps(v[2], o, v[3]))
                    });
                    let at = offsets.map(|o| _mm512_add_epi32(o, _mm512_set1_epi32((4 * t0) as i32)));
                    f(s * outputs + t0, first_16(valid), cells, at);
                }
            }
            return;
        }
        // Row by row, 16 outputs from two registers of each input row.
        let even = _mm512_loadu_si512(lanes(|l| 2 * l).as_ptr().cast());
        let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        for k in 0..n * win.channels() {
            for a in 0..oh {
                let top = k * plane + 2 * a * width;
                let row = (k % win.channels() * plane + 2 * a * width) as i32;
                for b0 in (0..ow).step_by(16) {
                    let valid = (ow - b0).min(16);
                    // SAFETY: the `2 * valid` values from column `2 b0` of
                    // rows `2a` and `2a + 1` lie in the plane (`2 W' <= W`,
                    // `2 H' <= H`); masked lanes read nothing.
                    let load = |r: usize, i: usize| unsafe {
                        let p = x.wrapping_add(top + r * width + 2 * b0 + 16 * i);
                        _mm512_maskz_loadu_ps(first_16((2 * valid).saturating_sub(16 * i)), p)
                    };
                    let (t, b) = ([load(0, 0), load(0, 1)], [load(1, 0), load(1, 1)]);
                    let cells = [
                        _mm512_permutex2var_ps(t[0], even, t[1]),
                        _mm512_permutex2var_ps(t[0], odd, t[1]),
                        _mm512_permutex2var_ps(b[0], even, b[1]),
                        _mm512_permutex2var_ps(b[0], odd, b[1]),
                    ];
                    let tl = _mm512_add_epi32(even, _mm512_set1_epi32(row + 2 * b0 as i32));
                    let at = [0, 1, w, w + 1].map(|d| _mm512_add_epi32(tl, _mm512_set1_epi32(d as i32)));
                    f((k * oh + a) * ow + b0, first_16(valid), cells, at);
                }
            }
        }
    }

    /// `max_pool_2x2` on `f32`s.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn max_pool_2x2(win: &Window2d, x: &[f32], n: usize, y: &mut [f32], argmax: &mut [Argmax]) {
        let outputs = n * win.output_len(win.channels());
        assert!(y.len() >= outputs && argmax.len() >= outputs);
        let (y, argmax) = (y.as_mut_ptr(), argmax.as_mut_ptr().cast::<i32>());
        // SAFETY: `x` holds the samples (checked by `windows_2x2`); the
        // lanes stored are outputs, inside `y` and `argmax` (asserted).
        unsafe {
            windows_2x2(win, x, n, |out, valid, cells, at| {
                let (m, i) = fold(cells, at);
                _mm512_mask_storeu_ps(y.add(out), valid, m);
                _mm512_mask_storeu_epi32(argmax.add(out), valid, i);
            })
        }
    }

    /// The `tiled_2x2` branch of `AvgPool` on `f32`s: each window's sum
    /// from zero in scan order, divided by 4, as there.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avg_pool_2x2(win: &Window2d, x: &[f32], n: usize, y: &mut [f32]) {
        assert!(y.len() >= n * win.output_len(win.channels()));
        let y = y.as_mut_ptr();
        // SAFETY: as in `max_pool_2x2`.
        unsafe {
            windows_2x2(win, x, n, |out, valid, cells, _| {
                let sum = cells.into_iter().fold(_mm512_setzero_ps(), |s, c| _mm512_add_ps(s, c));
                _mm512_mask_storeu_ps(y.add(out), valid, _mm512_div_ps(sum, _mm512_set1_ps(4.0)));
            })
        }
    }

    /// For [`whole_samples`]' layout, the inverse of [`windows_2x2`]'s
    /// permutes: in register `r`, lane `l` is the output (of the 16 from a
    /// multiple of 16) whose window holds value `16 r + l` of the 64 they
    /// read, `i / 2W * W' + i % W / 2` for `i = 16 r + l`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sample_owners(win: &Window2d) -> [__m512i; 4] {
        let (w, ow) = (win.width() as u32, win.out_width() as u32);
        std::array::from_fn(|r| {
            let i = lanes(|l| (16 * r as u32 + l) / (2 * w) * ow + (16 * r as u32 + l) % w / 2);
            // SAFETY: reads the 16 values of `i`.
            unsafe { _mm512_loadu_si512(i.as_ptr().cast()) }
        })
    }

    /// The same for a row at a time: of the 32 values of an input row that
    /// 16 outputs read, the `l`-th of register `r` is in output `8 r + l / 2`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn row_owners() -> [__m512i; 2] {
        std::array::from_fn(|r| {
            let i = lanes(|l| 8 * r as u32 + l / 2);
            // SAFETY: reads the 16 values of `i`.
            unsafe { _mm512_loadu_si512(i.as_ptr().cast()) }
        })
    }

    /// The `tiled_2x2` branch of `MaxPoolBackward` on `f32`s: each cell of a
    /// window receives `0 + g` if it won the window, else `0`, through the
    /// inverse of [`windows_2x2`]'s permutes (of the gradients and of the
    /// winners), 16 windows at a time.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn max_pool_backward_2x2(win: &Window2d, g: &[f32], argmax: &[Argmax], n: usize, dx: &mut [f32]) {
        let (width, (oh, ow)) = (win.width(), (win.out_height(), win.out_width()));
        let (plane, outputs, inputs) = (win.height() * width, win.channels() * oh * ow, win.input_len());
        assert!(g.len() >= n * outputs && argmax.len() >= n * outputs && dx.len() >= n * inputs);
        let (g, argmax, dx) = (g.as_ptr(), argmax.as_ptr().cast::<i32>(), dx.as_mut_ptr());
        let iota = _mm512_loadu_si512(lanes(|l| l).as_ptr().cast());
        // The gradients and winners of the 16 outputs from `out`.
        let load = |out: usize, valid: usize| {
            // SAFETY: the lanes of `valid` are outputs inside `g` and `argmax` (asserted).
            unsafe {
                (
                    _mm512_maskz_loadu_ps(first_16(valid), g.add(out)),
                    _mm512_maskz_loadu_epi32(first_16(valid), argmax.add(out)),
                )
            }
        };
        // `0 + g` in the lanes whose cell (index within the sample) won, `0` in the others.
        let spread = |of: __m512i, (g, won): (__m512, __m512i), cells: i32| {
            let won = _mm512_cmpeq_epi32_mask(
                _mm512_permutexvar_epi32(of, won),
                _mm512_add_epi32(iota, _mm512_set1_epi32(cells)),
            );
            _mm512_maskz_add_ps(won, _mm512_setzero_ps(), _mm512_permutexvar_ps(of, g))
        };
        if whole_samples(win) {
            // Every cell is in a window.
            let of = sample_owners(win);
            for s in 0..n {
                for t0 in (0..outputs).step_by(16) {
                    let valid = (outputs - t0).min(16);
                    let gw = load(s * outputs + t0, valid);
                    for (r, of) in of.iter().enumerate() {
                        let v = spread(*of, gw, (4 * t0 + 16 * r) as i32);
                        // SAFETY: the `4 * valid` cells of these outputs lie
                        // in the sample; masked lanes write nothing.
                        unsafe {
                            let k = first_16((4 * valid).saturating_sub(16 * r));
                            _mm512_mask_storeu_ps(dx.add(s * inputs + 4 * t0 + 16 * r), k, v);
                        }
                    }
                }
            }
            return;
        }
        if !(width.is_multiple_of(2) && win.height().is_multiple_of(2)) {
            // Cells past the last window's row or column stay zero.
            // SAFETY: `dx` holds the `n` samples (asserted).
            unsafe { std::ptr::write_bytes(dx, 0, n * inputs) };
        }
        let pairs = row_owners();
        for k in 0..n * win.channels() {
            for a in 0..oh {
                let (top, row) = (k * plane + 2 * a * width, k % win.channels() * plane + 2 * a * width);
                for b0 in (0..ow).step_by(16) {
                    let valid = (ow - b0).min(16);
                    let gw = load((k * oh + a) * ow + b0, valid);
                    for (i, pair) in pairs.iter().enumerate() {
                        let m = first_16((2 * valid).saturating_sub(16 * i));
                        for r in 0..2 {
                            let v = spread(*pair, gw, (row + r * width + 2 * b0 + 16 * i) as i32);
                            // SAFETY: the `2 * valid` cells from column `2 b0`
                            // of rows `2a` and `2a + 1` lie in the plane;
                            // masked lanes write nothing.
                            unsafe { _mm512_mask_storeu_ps(dx.add(top + r * width + 2 * b0 + 16 * i), m, v) };
                        }
                    }
                }
            }
        }
    }

    /// `avg_pool_backward_2x2` on `f32`s: every cell of a window receives
    /// `0 + g / 4`, the inverse of [`windows_2x2`]'s permutes spreading 16
    /// outputs' shares over their cells. Cells in no window are left as
    /// they are (zero).
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avg_pool_backward_2x2(win: &Window2d, g: &[f32], n: usize, dx: &mut [f32]) {
        let (width, (oh, ow)) = (win.width(), (win.out_height(), win.out_width()));
        let (plane, outputs) = (win.height() * width, win.channels() * oh * ow);
        assert!(g.len() >= n * outputs && dx.len() >= n * win.input_len());
        let (g, dx) = (g.as_ptr(), dx.as_mut_ptr());
        let share = |at: usize, valid: usize| {
            // SAFETY: the lanes of `valid` are outputs inside `g` (asserted).
            let g = unsafe { _mm512_maskz_loadu_ps(first_16(valid), g.add(at)) };
            _mm512_add_ps(_mm512_setzero_ps(), _mm512_div_ps(g, _mm512_set1_ps(4.0)))
        };
        if whole_samples(win) {
            let of = sample_owners(win);
            for t0 in (0..n * outputs).step_by(16) {
                let valid = (n * outputs - t0).min(16);
                let s = share(t0, valid);
                for (r, of) in of.iter().enumerate() {
                    // SAFETY: the `4 * valid` cells of these outputs lie in
                    // `dx` (samples' inputs are `4 * outputs` values, one
                    // after the other); masked lanes write nothing.
                    unsafe {
                        let k = first_16((4 * valid).saturating_sub(16 * r));
                        _mm512_mask_storeu_ps(dx.add(4 * t0 + 16 * r), k, _mm512_permutexvar_ps(*of, s));
                    }
                }
            }
            return;
        }
        let pairs = row_owners();
        for k in 0..n * win.channels() {
            for a in 0..oh {
                let top = k * plane + 2 * a * width;
                for b0 in (0..ow).step_by(16) {
                    let valid = (ow - b0).min(16);
                    let s = share((k * oh + a) * ow + b0, valid);
                    for (i, pair) in pairs.iter().enumerate() {
                        let v = _mm512_permutexvar_ps(*pair, s);
                        let m = first_16((2 * valid).saturating_sub(16 * i));
                        // SAFETY: the `2 * valid` cells from column `2 b0`
                        // of rows `2a` and `2a + 1` lie in the plane; masked
                        // lanes write nothing.
                        unsafe {
                            _mm512_mask_storeu_ps(dx.add(top + 2 * b0 + 16 * i), m, v);
                            _mm512_mask_storeu_ps(dx.add(top + width + 2 * b0 + 16 * i), m, v);
                        }
                    }
                }
            }
        }
    }
}

/// Calls `f(k, a, taps)` for every output row `a` of every plane `k`
/// (sample after sample, channel after channel) of `n` images.
#[inline(always)]
fn each_row(win: &Window2d, n: usize, mut f: impl FnMut(usize, usize, &ColumnTaps)) {
    let taps = ColumnTaps::new(win);
    for k in 0..n * win.channels() {
        for a in 0..win.out_height() {
            f(k, a, &taps);
        }
    }
}

/// The output columns each tap column `kj` reaches ([`taps`]), worked out
/// once per call for the first [`ColumnTaps::KEPT`] (two divisions each:
/// per row and tap they cost as much as the pooling of a small image).
struct ColumnTaps {
    win: Window2d,
    kept: [(usize, usize); ColumnTaps::KEPT],
}

impl ColumnTaps {
    const KEPT: usize = 16;

    #[inline(always)]
    fn new(win: &Window2d) -> Self {
        let of = |kj| taps(win.out_width(), kj, win.stride(), win.padding(), win.width());
        let kept = std::array::from_fn(|kj| if kj < win.kernel() { of(kj) } else { 0..0 }).map(|r| (r.start, r.end));
        Self { win: *win, kept }
    }

    #[inline(always)]
    fn cols(&self, kj: usize) -> std::ops::Range<usize> {
        match self.kept.get(kj) {
            Some(&(start, end)) => start..end,
            None => taps(self.win.out_width(), kj, self.win.stride(), self.win.padding(), self.win.width()),
        }
    }
}

/// `y` = the mean of every window of the `n` images `x`, padding counted as
/// zeros (`count_include_pad`): each window's sum in scan order, divided by
/// `K * K`.
pub(crate) fn avg_pool<T: Float>(win: &Window2d, x: &[T], n: usize, y: &mut [T]) {
    dispatch(AvgPool { win: *win, x, n, y })
}

struct AvgPool<'a, T> {
    win: Window2d,
    x: &'a [T],
    n: usize,
    y: &'a mut [T],
}

impl<T: Float> Kernel for AvgPool<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        let Self { win, x, n, y } = self;
        let area = T::of((win.kernel() * win.kernel()) as f64);
        if tiled_2x2(&win) {
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            if let (Isa::Avx512, Some(x), Some(y)) = (L::ISA, f32s(x), f32s_mut(y)) {
                // SAFETY: a value of a level (`run`'s argument) whose ISA is
                // AVX-512 exists only where this CPU has AVX-512F (isa.rs).
                return unsafe { avx512::avg_pool_2x2(&win, x, n, y) };
            }
            let (oh, ow) = (win.out_height(), win.out_width());
            for k in 0..n * win.channels() {
                for a in 0..oh {
                    let (top, bottom) = rows_2x2(&win, x, k, a);
                    // From zero, as the general path sums: -0.0 comes out as 0.0.
                    for (b, y) in y[(k * oh + a) * ow..][..ow].iter_mut().enumerate() {
                        *y = (T::zero() + top[2 * b] + top[2 * b + 1] + bottom[2 * b] + bottom[2 * b + 1]) / area;
                    }
                }
            }
            return;
        }
        each_row(&win, n, |k, a, taps| {
            let ((ow, width), plane) = ((win.out_width(), win.width()), win.height() * win.width());
            let img = &x[k * plane..][..plane];
            let sums = &mut y[(k * win.out_height() + a) * ow..][..ow];
            sums.fill(T::zero());
            for (_, r) in window_rows(&win, a) {
                for kj in 0..win.kernel() {
                    let cols = taps.cols(kj);
                    if cols.is_empty() {
                        continue;
                    }
                    let src = &img[r * width + cols.start * win.stride() + kj - win.padding()..];
                    for (s, v) in sums[cols].iter_mut().zip(src.iter().step_by(win.stride())) {
                        *s += *v;
                    }
                }
            }
            for s in sums.iter_mut() {
                *s /= area;
            }
        });
    }
}

/// dL/dx of [`avg_pool`] from dL/dy `g`: every cell receives `g / (K * K)`
/// of each window it is in, added in the order of the windows (row by row).
pub(crate) fn avg_pool_backward<T: Float>(win: &Window2d, g: &[T], n: usize, dx: &mut [T]) {
    dispatch(AvgPoolBackward { win: *win, g, n, dx })
}

struct AvgPoolBackward<'a, T> {
    win: Window2d,
    g: &'a [T],
    n: usize,
    dx: &'a mut [T],
}

impl<T: Float> Kernel for AvgPoolBackward<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        let Self { win, g, n, dx } = self;
        dx.fill(T::zero());
        let area = T::of((win.kernel() * win.kernel()) as f64);
        if tiled_2x2(&win) {
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            if let (Isa::Avx512, Some(g), Some(dx)) = (L::ISA, f32s(g), f32s_mut(dx)) {
                // SAFETY: as in `AvgPool`.
                return unsafe { avx512::avg_pool_backward_2x2(&win, g, n, dx) };
            }
            return avg_pool_backward_2x2(&win, g, n, dx, area);
        }
        each_row(&win, n, |k, a, taps| {
            let ((ow, width), plane) = ((win.out_width(), win.width()), win.height() * win.width());
            let img = &mut dx[k * plane..][..plane];
            let gs = &g[(k * win.out_height() + a) * ow..][..ow];
            for (_, r) in window_rows(&win, a) {
                // Within one output row a cell is reached once per window
                // that covers it, by one tap row: later windows (columns)
                // reach it through earlier taps, so taps from the right keep
                // the windows' order.
                for kj in (0..win.kernel()).rev() {
                    let cols = taps.cols(kj);
                    if cols.is_empty() {
                        continue;
                    }
                    let dst = &mut img[r * width + cols.start * win.stride() + kj - win.padding()..];
                    for (d, g) in dst.iter_mut().step_by(win.stride()).zip(&gs[cols]) {
                        *d += *g / area;
                    }
                }
            }
        });
    }
}

/// [`AvgPoolBackward`] for [`tiled_2x2`] windows on a zeroed `dx`: each
/// cell is in at most one window, so it receives `0 + g / 4` once.
#[inline(always)]
fn avg_pool_backward_2x2<T: Float>(win: &Window2d, g: &[T], n: usize, dx: &mut [T], area: T) {
    let (width, plane, (oh, ow)) = (win.width(), win.height() * win.width(), (win.out_height(), win.out_width()));
    for (k, img) in dx.chunks_exact_mut(plane).take(n * win.channels()).enumerate() {
        for (a, gs) in g[k * oh * ow..][..oh * ow].chunks_exact(ow).enumerate() {
            let (top, bottom) = img[2 * a * width..].split_at_mut(width);
            let (top, bottom) = (&mut top[..2 * ow], &mut bottom[..2 * ow]);
            for (b, g) in gs.iter().enumerate() {
                let share = T::zero() + *g / area;
                (top[2 * b], top[2 * b + 1], bottom[2 * b], bottom[2 * b + 1]) = (share, share, share, share);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{with_isa, Isa};

    /// Every geometry the layers allow on small images: kernels 1 to 4,
    /// strides 1 to 3, padding up to half the kernel, odd and even sizes,
    /// and output rows longer than a register (6x41). For `max_pool(2)`'s
    /// AVX-512 kernel: planes of even sides whose output rows are 1, 2, 4
    /// or 8 values (2x2, 4x4, 8x8, 6x16; a sample's outputs a multiple of
    /// its 16 lanes or not), and rows of 12 (4x24; 9x24, the last row in no
    /// window).
    fn windows() -> Vec<Window2d> {
        let mut out = Vec::new();
        for (h, w) in [(5, 6), (8, 8), (3, 7), (6, 41), (4, 4), (2, 2), (6, 16), (9, 24), (4, 24)] {
            for kernel in 1..=4 {
                for stride in 1..=3 {
                    for padding in 0..=kernel / 2 {
                        if kernel <= h + 2 * padding && kernel <= w + 2 * padding {
                            out.push(Window2d::new(2, h, w, kernel, stride, padding));
                        }
                    }
                }
            }
        }
        out
    }

    /// Values with ties (a grid of 0.5), some -inf and NaN when `specials`.
    fn values<T: Float>(len: usize, seed: usize, specials: bool) -> Vec<T> {
        (0..len)
            .map(|i| {
                let h = (i * 2_654_435_761 + seed * 97) % 1009;
                match h % 53 {
                    0 if specials => f64::NAN,
                    1 if specials => f64::NEG_INFINITY,
                    _ => (h % 11) as f64 * 0.5 - 2.5,
                }
            })
            .map(T::of)
            .collect()
    }

    /// The plain loops the kernels replace: each window scanned row by row.
    fn each_window(win: &Window2d, n: usize, mut f: impl FnMut(usize, &mut dyn Iterator<Item = usize>)) {
        let plane = win.height() * win.width();
        let mut k = 0;
        for s in 0..n {
            for c in 0..win.channels() {
                for a in 0..win.out_height() {
                    let (r0, r1) = win.rows_of(a);
                    for b in 0..win.out_width() {
                        let (c0, c1) = win.cols_of(b);
                        let base = s * win.input_len() + c * plane;
                        f(k, &mut (r0..r1).flat_map(move |r| (c0..c1).map(move |c| base + r * win.width() + c)));
                        k += 1;
                    }
                }
            }
        }
    }

    fn same_bits<T: Float>(a: &[T], b: &[T]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits())
    }

    fn check<T: Float>() {
        let n = 3;
        let mut checked = 0;
        for win in windows() {
            let outputs = n * win.output_len(win.channels());
            for specials in [false, true] {
                let x = values::<T>(n * win.input_len(), outputs, specials);
                let g = values::<T>(outputs, 7, false);
                // Max: PyTorch's rule, written out: the first valid cell, then a
                // larger value or a NaN.
                let (mut want_y, mut want_at) = (vec![T::zero(); outputs], vec![0usize; outputs]);
                each_window(&win, n, |k, cells| {
                    let (mut best, mut at) = (T::of(f64::NEG_INFINITY), usize::MAX);
                    for i in cells {
                        #[allow(clippy::eq_op)]
                        if at == usize::MAX || x[i] > best || x[i] != x[i] {
                            (best, at) = (x[i], i);
                        }
                    }
                    (want_y[k], want_at[k]) = (best, at % win.input_len());
                });
                // Max backward: each window's gradient onto its winner, from zero.
                let mut max_dx = vec![T::zero(); x.len()];
                for (k, at) in want_at.iter().enumerate() {
                    max_dx[k / win.output_len(win.channels()) * win.input_len() + at] += g[k];
                }
                let (mut avg_y, mut avg_dx) = (vec![T::zero(); outputs], vec![T::zero(); x.len()]);
                let area = T::of((win.kernel() * win.kernel()) as f64);
                each_window(&win, n, |k, cells| {
                    for i in cells {
                        avg_y[k] += x[i];
                        avg_dx[i] += g[k] / area;
                    }
                    avg_y[k] /= area;
                });
                for &isa in Isa::ALL.iter().filter(|i| i.available()) {
                    let what = format!("{isa:?} {win:?} specials {specials}");
                    let (mut y, mut at) = (vec![T::of(f64::NAN); outputs], vec![0; outputs]);
                    with_isa(isa, || max_pool(&win, &x, n, &mut y, &mut at));
                    assert!(same_bits(&y, &want_y), "{what}: max");
                    assert!(at.iter().zip(&want_at).all(|(a, b)| *a as usize == *b), "{what}: argmax");
                    let mut dx = vec![T::of(f64::NAN); x.len()];
                    with_isa(isa, || max_pool_backward(&win, &g, &at, n, &mut dx));
                    assert!(same_bits(&dx, &max_dx), "{what}: max backward");
                    with_isa(isa, || avg_pool(&win, &x, n, &mut y));
                    assert!(same_bits(&y, &avg_y), "{what}: avg");
                    let mut dx = vec![T::of(f64::NAN); x.len()];
                    with_isa(isa, || avg_pool_backward(&win, &g, n, &mut dx));
                    assert!(same_bits(&dx, &avg_dx), "{what}: avg backward");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 2 * windows().len());
    }

    #[test]
    fn pools_give_the_bits_of_plain_loops_on_every_isa_f32() {
        check::<f32>();
    }

    #[test]
    fn pools_give_the_bits_of_plain_loops_on_every_isa_f64() {
        check::<f64>();
    }
}
