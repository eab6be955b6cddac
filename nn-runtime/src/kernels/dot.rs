//! Products whose every element is one dot product of two contiguous
//! vectors: `A` row-major and `B` column-major, the inner dimension long and
//! the result small, as a convolution's weight gradient `dW += Gz col^T`
//! (a few output channels by a patch, summed over every position of the
//! batch). The tiled product of `gemm.rs` runs its lanes down the columns of
//! `C` and would first lay the whole patch matrix out anew; here the lanes
//! run along the inner dimension, both operands are read where they are, and
//! each element's lanes are added up once at the end.

use super::isa::{Kernel, Level, Vector};
use super::mat::Product;
use super::pool;
use crate::kernels::Float;

/// Rows of `A` and columns of `B` one tile reads: 12 accumulators and 7
/// loads per step fit AVX2's 16 registers.
const MR: usize = 4;
const NR: usize = 3;

/// A product is split over threads into parts of at least this many
/// multiply-adds (as `gemm.rs`).
const PART_WORK: usize = 1 << 19;

/// How many products `A_s B_s` a [`dots`] call sums, and how far apart
/// (in elements) consecutive `A_s` and `B_s` are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segments {
    pub(crate) count: usize,
    pub(crate) a_step: usize,
    pub(crate) b_step: usize,
}

/// `C = alpha sum_s A_s B_s + beta C` for `A` (`A_0`) with unit column
/// stride and `B` (`B_0`) with unit row stride (checked by the caller),
/// `C` any strides, split by columns of `C` over
/// [`threads`](super::threads). Each element is summed in the same order
/// whatever the split.
#[inline(always)]
pub(super) fn dots<T: Float, L: Level>(level: L, product: Product<'_, T>, segments: Segments) {
    let Product { alpha, a, b, beta, c } = product;
    let (m, k, n) = (a.rows, a.cols * segments.count, b.cols);
    let parts = pool::threads().min(m * k * n / PART_WORK).min(n.div_ceil(NR));
    let whole = Dots { alpha, a, b, segments, beta, c: c.data.as_mut_ptr(), rs: c.rs, cs: c.cs };
    if parts < 2 {
        return whole.columns(level, 0, n);
    }
    let blocks = n.div_ceil(NR);
    let start = |p: usize| (p * blocks / parts * NR).min(n);
    pool::run(parts, &|p| level.run(Part { dots: whole, from: start(p), to: start(p + 1) }));
}

/// The operands, and `C` as a pointer so that parts on other threads can
/// each write their own columns.
struct Dots<'a, T> {
    alpha: T,
    a: super::MatRef<'a, T>,
    b: super::MatRef<'a, T>,
    segments: Segments,
    beta: T,
    c: *mut T,
    rs: usize,
    cs: usize,
}

impl<T: Copy> Clone for Dots<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Copy> Copy for Dots<'_, T> {}

// SAFETY: shared with other threads only by `dots`, which waits for them
// (`pool::run`) while `C`'s borrow lasts; the parts write disjoint columns
// of `C`, and `A` and `B` are shared reads.
unsafe impl<T: Sync> Sync for Dots<'_, T> {}

/// Columns `from..to` of `C`, as a kernel for a helper thread.
struct Part<'a, T> {
    dots: Dots<'a, T>,
    from: usize,
    to: usize,
}

impl<T: Float> Kernel for Part<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, level: L) {
        self.dots.columns(level, self.from, self.to)
    }
}

impl<T: Float> Dots<'_, T> {
    /// Columns `from..to` of `C`, `MR x NR` tiles at a time; an edge tile
    /// repeats its last row or column and drops what it computed twice.
    #[inline(always)]
    fn columns<L: Level>(&self, _: L, from: usize, to: usize) {
        let Self { alpha, a, b, segments, beta, c, rs, cs } = *self;
        let (m, k) = (a.rows, a.cols);
        for j0 in (from..to).step_by(NR) {
            let cols: [usize; NR] = std::array::from_fn(|j| (j0 + j).min(to - 1));
            for i0 in (0..m).step_by(MR) {
                let rows: [usize; MR] = std::array::from_fn(|i| (i0 + i).min(m - 1));
                // SAFETY: the level's token shows this CPU has the
                // registers' instructions; row `i < m` of every A_s and
                // column `j < n` of every B_s are `k` contiguous elements
                // inside their slices (unit strides, checked by `Mat`'s
                // constructors and, for the segments, by `gemm_dots_sum`).
                let sums = unsafe {
                    tile::<L::Reg<T>>(
                        rows.map(|i| a.data.as_ptr().wrapping_add(i * a.rs)),
                        cols.map(|j| b.data.as_ptr().wrapping_add(j * b.cs)),
                        k,
                        segments,
                    )
                };
                for (i, row) in sums.iter().enumerate().take(m - i0) {
                    for (j, dot) in row.iter().enumerate().take(to - j0) {
                        // SAFETY: `(i0 + i, j0 + j)` is an element of `C`
                        // (`i0 + i < m`, `j0 + j < to <= n`), inside its
                        // slice; only this part writes its columns.
                        let v = unsafe { &mut *c.add((i0 + i) * rs + (j0 + j) * cs) };
                        *v = if beta == T::zero() { alpha * *dot } else { alpha * *dot + beta * *v };
                    }
                }
            }
        }
    }
}

/// The `MR x NR` dot products of the rows at `a` with the columns at `b`,
/// each `k` long, summed over the segments (the rows and columns of segment
/// `s` start `s * a_step` and `s * b_step` further on).
///
/// # Safety
/// The CPU must have `V`'s instructions; every pointer, moved on to any of
/// the segments, must point to `k` readable elements.
#[inline(always)]
unsafe fn tile<V: Vector>(
    a: [*const V::Elem; MR],
    b: [*const V::Elem; NR],
    k: usize,
    segments: Segments,
) -> [[V::Elem; NR]; MR] {
    let l = V::LANES;
    // SAFETY: the caller's contract; loads read elements `p..p + LANES` below
    // `k` of a segment, or are masked to those below `k`.
    unsafe {
        let mut acc = [[V::zero(); NR]; MR];
        let mask = V::mask(k % l);
        for s in 0..segments.count {
            let a = a.map(|r| r.add(s * segments.a_step));
            let b = b.map(|c| c.add(s * segments.b_step));
            let mut p = 0;
            while p + l <= k {
                let bv: [V; NR] = std::array::from_fn(|j| V::load(b[j].add(p)));
                for i in 0..MR {
                    let av = V::load(a[i].add(p));
                    for j in 0..NR {
                        acc[i][j] = V::fmadd(av, bv[j], acc[i][j]);
                    }
                }
                p += l;
            }
            if p < k {
                let bv: [V; NR] = std::array::from_fn(|j| V::load_masked(b[j].add(p), mask));
                for i in 0..MR {
                    let av = V::load_masked(a[i].add(p), mask);
                    for j in 0..NR {
                        acc[i][j] = V::fmadd(av, bv[j], acc[i][j]);
                    }
                }
            }
        }
        acc.map(|row| row.map(|v| v.sum()))
    }
}

#[cfg(test)]
mod tests {
    use crate::kernels::Float;
    use crate::kernels::{f64_element, gemm_dots, gemm_dots_sum, with_isa, with_threads, Isa, MatMut, MatRef};

    /// Values in [-1, 1) from a hash of the index.
    fn values<T: Float>(len: usize, seed: usize) -> Vec<T> {
        (0..len).map(|i| T::of(((i * 2_654_435_761 + seed) % 1000) as f64 / 500.0 - 1.0)).collect()
    }

    /// Every remainder of the 4x3 tiles and of the lanes (k up to 40, and
    /// long), `C` row-major and column-major, with and without beta, on
    /// every instruction set and 1 or 3 threads, against the product in f64
    /// within the rounding bound of any summation order; the thread count
    /// does not change a bit.
    fn check<T: Float>() {
        let mut shapes: Vec<(usize, usize, usize)> = (1..=9).flat_map(|m| (1..=7).map(move |n| (m, 19, n))).collect();
        shapes.extend((1..=40).map(|k| (5, k, 4)));
        shapes.extend([(6, 36_864, 25), (16, 4096, 150), (3, 70_000, 8)]);
        let mut checked = 0;
        for &isa in Isa::ALL.iter().filter(|i| i.available()) {
            for &(m, k, n) in &shapes {
                let (a, b) = (values::<T>(m * k, 1), values::<T>(k * n, 2));
                let (am, bm) = (MatRef::row_major(&a[..], m, k), MatRef::col_major(&b[..], k, n));
                for (row_major_c, alpha, beta) in [(true, 1.0, 0.0), (true, 0.5, 1.0), (false, -1.0, 0.25)] {
                    let c0 = values::<T>(m * n, 3);
                    let run = |threads: usize| {
                        let mut c = if beta == 0.0 { vec![T::of(f64::NAN); m * n] } else { c0.clone() };
                        let cm = if row_major_c {
                            MatMut::row_major(&mut c[..], m, n)
                        } else {
                            MatMut::col_major(&mut c[..], m, n)
                        };
                        with_isa(isa, || with_threads(threads, || gemm_dots(T::of(alpha), am, bm, T::of(beta), cm)));
                        c
                    };
                    let c = run(1);
                    let at = |i: usize, j: usize| if row_major_c { i * n + j } else { i + j * m };
                    for i in 0..m {
                        for j in 0..n {
                            let (want, tol) = f64_element(am, bm, (i, j), alpha, beta, c0[at(i, j)]);
                            let got = c[at(i, j)].as_f64();
                            assert!((got - want).abs() <= tol, "{isa:?} {m}x{k}x{n} ({i}, {j}): {got} vs {want}");
                        }
                    }
                    let three = run(3);
                    assert!(c.iter().zip(&three).all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits()));
                    checked += 1;
                }
            }
        }
        assert!(checked >= 3 * (63 + 40 + 3));
    }

    /// `sum_s a_s b_s` over segments laid out as a 1x1 convolution's samples
    /// (`g`: `[n, OC, Q]`, `x`: `[n, C, Q]`), against the sum in f64, every
    /// lane remainder of `Q`.
    #[test]
    fn sums_over_segments_match_f64_on_every_isa() {
        let mut checked = 0;
        for &isa in Isa::ALL.iter().filter(|i| i.available()) {
            for (n, oc, c, q) in [(3, 5, 7, 64), (4, 8, 16, 16), (2, 3, 4, 4), (5, 6, 2, 21), (1, 2, 3, 1)] {
                let (g, x) = (values::<f32>(n * oc * q, 4), values::<f32>(n * c * q, 5));
                let mut dw = values::<f32>(oc * c, 6);
                let before = dw.clone();
                let (g0, x0) = (MatRef::row_major(&g[..], oc, q), MatRef::row_major(&x[..], c, q));
                let dwm = MatMut::row_major(&mut dw[..], oc, c);
                with_isa(isa, || gemm_dots_sum(1.0, g0, x0.t(), (n, oc * q, c * q), 1.0, dwm));
                for o in 0..oc {
                    for i in 0..c {
                        let (mut want, mut mag) = (f64::from(before[o * c + i]), 0.0);
                        for s in 0..n {
                            for p in 0..q {
                                let v = f64::from(g[(s * oc + o) * q + p]) * f64::from(x[(s * c + i) * q + p]);
                                want += v;
                                mag += v.abs();
                            }
                        }
                        let tol = 2.0 * ((n * q) as f64 + 2.0) * f64::from(f32::EPSILON) * (mag + 1.0);
                        let got = f64::from(dw[o * c + i]);
                        assert!((got - want).abs() <= tol, "{isa:?} n {n} q {q} ({o}, {i}): {got} vs {want}");
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 5);
    }

    #[test]
    fn dots_match_the_f64_product_on_every_isa_and_thread_count_f32() {
        check::<f32>();
    }

    #[test]
    fn dots_match_the_f64_product_on_every_isa_and_thread_count_f64() {
        check::<f64>();
    }
}
