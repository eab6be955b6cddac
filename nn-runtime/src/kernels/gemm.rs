//! `nn`'s own matrix product, for `f32` and `f64` on every instruction set:
//! `C = alpha A B + beta C` with `C` or `C^T` column-major, the shapes layers
//! produce.
//!
//! A general-purpose product (matrixmultiply, BLAS) packs both operands on
//! every call, into a buffer it allocates. For the products of a small
//! network (a 128x64 weight times a batch of 32) the packing costs as much as
//! the arithmetic, and the allocation breaks the promise that a training step
//! allocates nothing. Here the vector lanes run down the columns of `C`, so
//! the operand multiplied along them (`A`) is read in place whenever its
//! columns are contiguous: `W^T g` and `x g^T` in backward, a recurrent
//! layer's cached `W_hh^T`. Only an `A` without contiguous columns (a
//! row-major weight in forward) is laid out anew, into a per-thread buffer
//! that grows and is then reused. `B` is never copied: its elements are
//! broadcast from where they are.
//!
//! The tile kernel keeps a block of `C` in registers: two vectors down each
//! of [`Vector::TILE_COLS`] columns (32x8 `f32` with AVX-512, 16x6 with AVX2,
//! 8x8 with NEON, 8x4 portable); edges in `m` use masked loads and stores.
//! Every element of `C` is summed in the same order whatever the thread
//! count, so results do not depend on it.

use super::aligned::from_line_start;
use super::isa::{Kernel, Level};
use super::isa::{Vector, MAX_TILE_COLS, MAX_TILE_REGS};
use super::mat::Product;
use super::transpose::transpose_into;
use super::{pool, MatRef};
use crate::kernels::Float;

/// Depth of one pass: a 32xKC panel of `A` (32 KiB of `f32` with AVX-512)
/// stays in L1 while it meets every column block of `B`.
const KC: usize = 256;

/// A product is split into parts of at least this many multiply-adds.
const PART_WORK: usize = 1 << 19;

/// `C = alpha A B + beta C` on `level`, for `C` with a unit row stride
/// (column-major) or a unit column stride (row-major, computed as `C^T = B^T
/// A^T`). A product of at least `2 * PART_WORK` multiply-adds is split over
/// up to [`threads`](super::threads) threads ([`pool`]).
#[inline(always)]
pub(super) fn gemm<T: Float, L: Level>(level: L, product: Product<'_, T>) {
    let whole = if product.c.rs == 1 {
        Tiles::new(product)
    } else {
        assert!(product.c.cs == 1, "the own product writes along unit-stride columns or rows of C");
        Tiles::new(product.t())
    };
    let (m, k, n) = (whole.a.rows, whole.a.cols, whole.b.cols);
    let parts = pool::threads().min(m * k * n / PART_WORK);
    if parts < 2 {
        return whole.run(level);
    }
    let (mr, nr) = (<L::Reg<T>>::TILE_REGS * <L::Reg<T>>::LANES, <L::Reg<T>>::TILE_COLS);
    let (row_tiles, col_tiles) = (m.div_ceil(mr), n.div_ceil(nr));
    // Part `p` of `parts` over `tiles` tiles of `size`: where it starts.
    let start = |p: usize, parts: usize, tiles: usize, size: usize, len: usize| (p * tiles / parts * size).min(len);
    if row_tiles >= parts.min(col_tiles) {
        // Each part lays out its own rows of A, on its own thread.
        let parts = parts.min(row_tiles);
        #[cfg(test)]
        tests::SPLITS.set(tests::SPLITS.get() + 1);
        let part = |p| whole.rows(start(p, parts, row_tiles, mr, m), start(p + 1, parts, row_tiles, mr, m));
        return pool::run(parts, &|p| level.run(part(p)));
    }
    // Every part reads all of A (few rows): lay it out once, here.
    let parts = parts.min(col_tiles);
    #[cfg(test)]
    tests::SPLITS.set(tests::SPLITS.get() + 1);
    let by_cols = |whole: Tiles<'_, T>| {
        let part = |p| whole.cols(start(p, parts, col_tiles, nr, n), start(p + 1, parts, col_tiles, nr, n));
        pool::run(parts, &|p| level.run(part(p)));
    };
    if whole.a.rs == 1 {
        return by_cols(whole);
    }
    // No part borrows this thread's buffer again: A is column-major now.
    T::with_buf(|buf| by_cols(Tiles { a: lay_out(level, whole.a, whole.whole_rows, buf), ..whole }))
}

/// `C = alpha A B + beta C` with `C` column-major, or a block of it: `C`'s
/// element `(i, j)` at `c + i + j * csc`, where `A` has `a.rows` rows and `B`
/// has `b.cols` columns. `C` is the unique borrow [`gemm`] was given, alive
/// until it returns; its blocks ([`Tiles::rows`], [`Tiles::cols`]) do not
/// overlap, so each thread writes only its own.
struct Tiles<'a, T> {
    alpha: T,
    a: MatRef<'a, T>,
    /// The rows of the whole product's `A`: a part that lays out its rows
    /// grows its thread's buffer to hold them all, so that a later product
    /// split into fewer, larger parts (a smaller batch) finds it large
    /// enough and allocates nothing.
    whole_rows: usize,
    b: MatRef<'a, T>,
    beta: T,
    c: *mut T,
    csc: usize,
}

impl<T: Copy> Clone for Tiles<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Copy> Copy for Tiles<'_, T> {}

// SAFETY: a `Tiles` is shared with other threads only by `gemm`, which waits
// for them (`pool::run`) before it returns, while `C`'s borrow lasts; the
// parts write disjoint elements of `C`, and `A` and `B` are shared reads.
unsafe impl<T: Sync> Sync for Tiles<'_, T> {}

impl<'a, T: Float> Tiles<'a, T> {
    /// The whole product, into a column-major `c` (`c.rs == 1`).
    fn new(product: Product<'a, T>) -> Self {
        let Product { alpha, a, b, beta, c } = product;
        assert_eq!(c.rs, 1);
        Self { alpha, a, whole_rows: a.rows, b, beta, c: c.data.as_mut_ptr(), csc: c.cs }
    }

    /// Rows `from..to` of C.
    fn rows(self, from: usize, to: usize) -> Self {
        Self { a: self.a.block(from, 0, to - from, self.a.cols), c: self.c.wrapping_add(from), ..self }
    }

    /// Columns `from..to` of C.
    fn cols(self, from: usize, to: usize) -> Self {
        Self { b: self.b.block(0, from, self.b.rows, to - from), c: self.c.wrapping_add(from * self.csc), ..self }
    }

    /// The tile loops, with `A` column-major.
    #[inline(always)]
    fn tiles<L: Level>(&self, _: L) {
        let Self { alpha, a, b, beta, c, csc, .. } = *self;
        debug_assert_eq!(a.rs, 1);
        let (mr, nr) = (<L::Reg<T>>::TILE_REGS * <L::Reg<T>>::LANES, <L::Reg<T>>::TILE_COLS);
        let (m, k, n) = (a.rows, a.cols, b.cols);
        // B is read where it is, `nr` columns at a time: packing it into
        // panels cost more than it saved for every benchmark network (W1-W5,
        // AVX-512 and AVX2; BENCHMARKS.md), even where A has 16 row blocks.
        for kb in (0..k).step_by(KC) {
            let kc = KC.min(k - kb);
            // The first pass applies beta; later passes add to what it left.
            let beta = if kb == 0 { beta } else { T::one() };
            for ib in (0..m).step_by(mr) {
                let rows = mr.min(m - ib);
                for jb in (0..n).step_by(nr) {
                    let cols = nr.min(n - jb);
                    let c = c.wrapping_add(ib + jb * csc);
                    // SAFETY: the token (`L`) shows this CPU has the
                    // registers' instructions; the blocks have at most `mr`
                    // rows and `nr` columns, and `A`'s is column-major; `c`
                    // is the tile's first element, and the tile's elements
                    // (column stride `csc`) lie inside this `Tiles`' part of
                    // C, which only this thread touches (see `Tiles`).
                    unsafe {
                        tile::<T, L::Reg<T>>(a.block(ib, kb, rows, kc), b.block(kb, jb, kc, cols), alpha, beta, c, csc);
                    }
                }
            }
        }
    }
}

/// The product (or part) on the calling thread; an `A` without unit row
/// stride is first laid out in this thread's buffer (`Scalar::with_buf`),
/// which must not be borrowed.
impl<T: Float> Kernel for Tiles<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, level: L) {
        if self.a.rs == 1 {
            return self.tiles(level);
        }
        // The closure is compiled outside `dispatch`'s wrapper: `level.run`
        // enters it again for the tile loops.
        T::with_buf(|a_buf| level.run(LaidOut(Tiles { a: lay_out(level, self.a, self.whole_rows, a_buf), ..self })))
    }
}

/// [`Tiles`] whose `A` is column-major, as a kernel.
struct LaidOut<'a, T>(Tiles<'a, T>);

impl<T: Float> Kernel for LaidOut<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, level: L) {
        self.0.tiles(level)
    }
}

/// `a` laid out column-major in `buf`, as a view of `buf`; a short `buf`
/// grows to hold `whole_rows` rows (at least `a.rows`) of `a`'s columns.
#[inline(always)]
fn lay_out<'b, T: Float, L: Level>(
    level: L,
    a: MatRef<'_, T>,
    whole_rows: usize,
    buf: &'b mut Vec<T>,
) -> MatRef<'b, T> {
    // Columns 16 elements apart beyond a multiple of 16 rows: with a stride
    // of a power of two (128 rows) the transpose's stores and the tiles'
    // loads fell on the same cache sets, and W1 and W3 steps were 5-7 %
    // slower (AVX-512, one thread).
    let ld_of = |rows: usize| rows.next_multiple_of(16) + 16;
    let (ld, len) = (ld_of(a.rows), ld_of(a.rows) * a.cols);
    // From a cache-line start: off one, every other AVX2 load of a column
    // (every AVX-512 one) straddled two lines.
    let laid = from_line_start(buf, len, ld_of(whole_rows) * a.cols);
    transpose_into(level, a, laid, ld);
    MatRef::strided(laid, a.rows, a.cols, 1, ld)
}

/// `C[0..mr, 0..nr] = alpha * A * B + beta * C` for `A: mr x kc`
/// (column-major, `mr <= 2 * LANES`) and `B: kc x nr` (`nr <= TILE_COLS`,
/// any strides), with `beta == 0` ignoring `C`'s contents.
///
/// # Safety
/// The CPU must have `V`'s instructions; `c` must point to an `mr x nr`
/// block (column stride `csc`) that this thread may write and no one else
/// reads.
#[inline(always)]
unsafe fn tile<T: Float, V: Vector<Elem = T>>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    alpha: T,
    beta: T,
    c: *mut T,
    csc: usize,
) {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        if a.rows != V::TILE_REGS * V::LANES {
            return tile_of::<T, V, false, 0>(a, b, alpha, beta, c, csc);
        }
        // The last tile of a batch that is not a multiple of `TILE_COLS`
        // (32 with AVX2's 6) computes only its own columns.
        match b.cols {
            1 => tile_of::<T, V, true, 1>(a, b, alpha, beta, c, csc),
            2 => tile_of::<T, V, true, 2>(a, b, alpha, beta, c, csc),
            3 => tile_of::<T, V, true, 3>(a, b, alpha, beta, c, csc),
            4 if V::TILE_COLS > 4 => tile_of::<T, V, true, 4>(a, b, alpha, beta, c, csc),
            5 if V::TILE_COLS > 5 => tile_of::<T, V, true, 5>(a, b, alpha, beta, c, csc),
            6 if V::TILE_COLS > 6 => tile_of::<T, V, true, 6>(a, b, alpha, beta, c, csc),
            7 if V::TILE_COLS > 7 => tile_of::<T, V, true, 7>(a, b, alpha, beta, c, csc),
            _ => tile_of::<T, V, true, 0>(a, b, alpha, beta, c, csc),
        }
    }
}

/// [`tile`], with `FULL` tiles (`2 * LANES` rows) loaded and stored whole
/// and the others through masks, over `COLS` columns of `B` (0: all
/// [`Vector::TILE_COLS`]).
///
/// # Safety
/// As [`tile`].
#[inline(always)]
unsafe fn tile_of<T: Float, V: Vector<Elem = T>, const FULL: bool, const COLS: usize>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    alpha: T,
    beta: T,
    c: *mut T,
    csc: usize,
) {
    let (l, regs) = (V::LANES, V::TILE_REGS);
    debug_assert!(a.rs == 1 && a.rows <= regs * l && b.cols <= V::TILE_COLS && b.rows == a.cols);
    let (kc, mr, nr) = (a.cols, a.rows, b.cols);
    let cols = if COLS == 0 { V::TILE_COLS } else { COLS };
    debug_assert!(nr <= cols);
    // Columns past `nr` repeat column 0; their sums are computed and dropped.
    let off: [usize; MAX_TILE_COLS] = std::array::from_fn(|j| if j < nr { j * b.cs } else { 0 });
    let mut ap = a.data.as_ptr();
    let mut bp = b.data.as_ptr();
    // SAFETY: the caller vouches for `V`'s instructions. `ap` is column `p` of
    // A (`p < kc`): its first `mr` elements lie inside A's slice, and mask `r`
    // (the lanes of rows `r l..min(mr, (r + 1) l)`) reads no others; a `FULL`
    // tile has `mr == regs l`. `bp + off[j]` is element `(p, j)` of B with
    // `j < nr` (or `(p, 0)`). The pointers step with wrapping arithmetic: after
    // the last column they may point past the slices, but are not read there.
    // The stores write column `j < nr` of the tile, rows masked to `mr` (the
    // caller's block).
    unsafe {
        let mut masks = [V::mask(0); MAX_TILE_REGS];
        for (r, mask) in masks.iter_mut().enumerate().take(regs) {
            *mask = V::mask(mr.saturating_sub(r * l).min(l));
        }
        let mut acc = [[V::zero(); MAX_TILE_REGS]; MAX_TILE_COLS];
        for _ in 0..kc {
            let mut av = [V::zero(); MAX_TILE_REGS];
            for r in 0..regs {
                av[r] = load::<V, FULL>(ap.wrapping_add(r * l), masks[r]);
            }
            for j in 0..cols {
                let bj = V::splat(*bp.add(off[j]));
                for r in 0..regs {
                    acc[j][r] = V::fmadd(av[r], bj, acc[j][r]);
                }
            }
            ap = ap.wrapping_add(a.cs);
            bp = bp.wrapping_add(b.rs);
        }
        let (alpha, beta_v) = (V::splat(alpha), V::splat(beta));
        for (j, acc) in acc.iter().enumerate().take(nr) {
            let cp = c.add(j * csc);
            for r in 0..regs {
                let p = cp.wrapping_add(r * l);
                let mut v = V::mul(alpha, acc[r]);
                if beta != T::zero() {
                    v = V::fmadd(beta_v, load::<V, FULL>(p, masks[r]), v);
                }
                store::<V, FULL>(p, masks[r], v);
            }
        }
    }
}

/// A whole register, or the lanes of `mask`.
///
/// # Safety
/// As [`Vector::load`] or [`Vector::load_masked`].
#[inline(always)]
unsafe fn load<V: Vector, const FULL: bool>(p: *const V::Elem, mask: V::Mask) -> V {
    // SAFETY: the caller's contract.
    unsafe {
        if FULL {
            V::load(p)
        } else {
            V::load_masked(p, mask)
        }
    }
}

/// A whole register, or the lanes of `mask`.
///
/// # Safety
/// As [`Vector::store`] or [`Vector::store_masked`].
#[inline(always)]
unsafe fn store<V: Vector, const FULL: bool>(p: *mut V::Elem, mask: V::Mask, v: V) {
    // SAFETY: the caller's contract.
    unsafe {
        if FULL {
            V::store(p, v)
        } else {
            V::store_masked(p, mask, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{f64_element, gemm, with_isa, with_threads, Isa, MatMut};
    use std::cell::Cell;

    thread_local! {
        /// Products this thread has split over threads, by rows or by columns.
        pub(super) static SPLITS: Cell<usize> = const { Cell::new(0) };
    }

    /// An operand's layout: column-major, row-major, or strided both ways with
    /// gaps (a sub-matrix of a larger one, transposed or not).
    #[derive(Clone, Copy, Debug)]
    enum Layout {
        Cols,
        Rows,
        Gaps,
    }

    impl Layout {
        /// (row stride, column stride, slice length) of a `rows x cols` matrix.
        fn strides(self, rows: usize, cols: usize) -> (usize, usize, usize) {
            match self {
                Layout::Cols => (1, rows, rows * cols),
                Layout::Rows => (cols, 1, rows * cols),
                Layout::Gaps => (2, 2 * rows + 1, 2 * rows * cols + cols),
            }
        }
    }

    /// Values in [-1, 1) from a hash of the index.
    fn values<T: Float>(len: usize, seed: u32) -> Vec<T> {
        (0..len)
            .map(|i| T::of(((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f64 / 500.0 - 1.0))
            .collect()
    }

    /// The instruction sets this CPU runs.
    fn isas() -> impl Iterator<Item = Isa> {
        Isa::ALL.iter().copied().filter(|i| i.available())
    }

    /// Runs one product on `isa` with `threads` threads and, with `verify`,
    /// checks every element against the product in f64 of the same inputs,
    /// within the rounding bound of any summation order in `T`, and that
    /// `c`'s slice is untouched outside its elements. Returns `c`'s slice.
    #[allow(clippy::too_many_arguments)]
    fn check<T: Float>(
        isa: Isa,
        threads: usize,
        (m, k, n): (usize, usize, usize),
        layouts: [Layout; 2],
        alpha: f64,
        beta: f64,
        c_layout: (usize, usize, usize),
        verify: bool,
    ) -> Vec<T> {
        let (rsa, csa, len_a) = layouts[0].strides(m, k);
        let (rsb, csb, len_b) = layouts[1].strides(k, n);
        let (rsc, csc, len_c) = c_layout;
        let (a, b) = (values::<T>(len_a, 1), values::<T>(len_b, 2));
        let mut c = values::<T>(len_c, 3);
        if beta == 0.0 {
            // beta == 0 ignores C, NaN included (BLAS); the gaps keep their NaN.
            c.iter_mut().for_each(|v| *v = T::of(f64::NAN));
        }
        let c0 = c.clone();
        let (am, bm) = (MatRef::strided(&a[..], m, k, rsa, csa), MatRef::strided(&b[..], k, n, rsb, csb));
        let cm = MatMut::strided(&mut c[..], m, n, rsc, csc);
        with_isa(isa, || with_threads(threads, || gemm(T::of(alpha), am, bm, T::of(beta), cm)));
        if !verify {
            return c;
        }
        let at = |i: usize, j: usize| i * rsc + j * csc;
        let mut inside = vec![false; len_c];
        for i in 0..m {
            for j in 0..n {
                let (want, tol) = f64_element(am, bm, (i, j), alpha, beta, c0[at(i, j)]);
                let got = c[at(i, j)].as_f64();
                assert!(
                    (got - want).abs() <= tol,
                    "{} {isa:?} {threads} threads {m}x{k}x{n} {layouts:?} c strides ({rsc}, {csc}) alpha {alpha} beta {beta} ({i}, {j}): {got} vs {want}",
                    T::DTYPE
                );
                inside[at(i, j)] = true;
            }
        }
        for (idx, _) in inside.iter().enumerate().filter(|(_, inside)| !**inside) {
            assert!(
                c[idx].as_f64().to_bits() == c0[idx].as_f64().to_bits(),
                "{isa:?} {m}x{k}x{n}: wrote outside C at {idx}"
            );
        }
        c
    }

    /// C column-major, row-major, a block of a larger column-major matrix
    /// (gaps between columns), and with no unit stride (plain loops).
    fn c_layouts(m: usize, n: usize) -> [(usize, usize, usize); 4] {
        [(1, m, m * n), (n, 1, m * n), (1, m + 3, (m + 3) * n), (2, 2 * m + 1, (2 * m + 1) * n)]
    }

    const LAYOUTS: [Layout; 3] = [Layout::Cols, Layout::Rows, Layout::Gaps];

    /// Every remainder of the tiles' rows (2 registers: up to 32 rows) and
    /// columns (up to 8), depths across the 256-deep passes, every layout of
    /// every operand, and (alpha, beta) with and without reading C.
    fn tile_edges<T: Float>() {
        let mut shapes: Vec<(usize, usize, usize)> = (1..=65).map(|m| (m, 19, 11)).collect();
        shapes.extend((1..=25).map(|n| (37, 23, n)));
        shapes.extend([1, 2, 255, 256, 257, 600].map(|k| (35, k, 9)));
        let mut checked = 0;
        for isa in isas() {
            for &shape in &shapes {
                let (m, _, n) = shape;
                for la in LAYOUTS {
                    for lb in LAYOUTS {
                        for (ci, c_layout) in c_layouts(m, n).into_iter().enumerate() {
                            // Every layout with one (alpha, beta); the others on column-major C.
                            let scalars: &[(f64, f64)] =
                                if ci == 0 { &[(1.0, 0.0), (0.5, 1.0), (-1.0, 0.25)] } else { &[(-1.0, 0.25)] };
                            for &(alpha, beta) in scalars {
                                check::<T>(isa, 1, shape, [la, lb], alpha, beta, c_layout, true);
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked >= shapes.len() * 9 * 6, "every shape and layout on at least one instruction set");
    }

    #[test]
    fn every_tile_edge_and_layout_matches_the_f64_product_on_every_isa_f32() {
        tile_edges::<f32>();
    }

    #[test]
    fn every_tile_edge_and_layout_matches_the_f64_product_on_every_isa_f64() {
        tile_edges::<f64>();
    }

    /// Products large enough to be split, by rows (many rows) and by columns
    /// (few rows, A laid out once and shared), give the same bits with 1, 2,
    /// 3, 4 and 8 threads, on every instruction set. (Without the `threads`
    /// feature nothing is split.)
    #[cfg(feature = "threads")]
    fn split<T: Float>() {
        let mut checked = 0;
        for isa in isas() {
            for shape in [(256, 300, 40), (40, 300, 256), (33, 1024, 70), (130, 513, 64)] {
                let (m, _, n) = shape;
                for la in [Layout::Rows, Layout::Cols] {
                    for c_layout in [c_layouts(m, n)[0], c_layouts(m, n)[1]] {
                        let one = check::<T>(isa, 1, shape, [la, Layout::Cols], 0.5, 1.0, c_layout, true);
                        for threads in [2, 3, 4, 8] {
                            let splits = SPLITS.get();
                            let many = check::<T>(isa, threads, shape, [la, Layout::Cols], 0.5, 1.0, c_layout, false);
                            assert!(SPLITS.get() > splits, "{shape:?} was not split");
                            let same = one.iter().zip(&many).all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits());
                            assert!(same, "{isa:?} {shape:?} {la:?}: {threads} threads differ from one");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked >= 4 * 2 * 2 * 4);
    }

    #[cfg(feature = "threads")]
    #[test]
    fn split_products_give_the_same_bits_with_any_thread_count_f32() {
        split::<f32>();
    }

    #[cfg(feature = "threads")]
    #[test]
    fn split_products_give_the_same_bits_with_any_thread_count_f64() {
        split::<f64>();
    }

    /// A panic in one part of a job on four threads reaches the caller (the
    /// call returns, it does not hang), and the pool's later products are
    /// still right and still the bits of one thread (issue 19).
    #[test]
    fn after_a_panicking_part_later_products_are_still_right() {
        let panicked = std::panic::catch_unwind(|| {
            with_threads(4, || {
                pool::run(4, &|part| {
                    if part == 3 {
                        panic!("part 3 panicked");
                    }
                })
            })
        });
        let message = panicked.err().and_then(|p| p.downcast_ref::<&str>().copied());
        assert_eq!(message, Some("part 3 panicked"));
        let (shape, c_layout) = ((256, 300, 40), c_layouts(256, 40)[0]);
        for isa in isas() {
            let one = check::<f32>(isa, 1, shape, [Layout::Rows, Layout::Cols], 0.5, 1.0, c_layout, true);
            let four = check::<f32>(isa, 4, shape, [Layout::Rows, Layout::Cols], 0.5, 1.0, c_layout, true);
            assert!(
                one.iter().zip(&four).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{isa:?}: 4 threads differ from one"
            );
        }
    }
}
