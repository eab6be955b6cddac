//! `nn`'s own `f32` matrix product for AVX-512 CPUs, for the shapes layers
//! produce: `C = alpha A B + beta C` with `C` or `C^T` column-major.
//!
//! matrixmultiply packs both operands on every call into a buffer it
//! allocates. For the products of a small network (a 128x64 weight times a
//! batch of 32) the packing costs as much as the arithmetic, and the
//! allocation breaks the promise that a training step allocates nothing.
//! Here the vector lanes run down the columns of `C`, so the operand
//! multiplied along them (`A`) is read in place whenever its columns are
//! contiguous: `W^T g` and `x g^T` in backward, a recurrent layer's cached
//! `W_hh^T`. Only a row-major `A` (a weight in forward) is transposed, into a
//! per-thread buffer that grows and is then reused. `B` is never copied: its
//! elements are broadcast from where they are.
//!
//! The microkernel keeps a 32x8 tile of `C` in 16 registers (two 16-lane
//! vectors per column); edges in `m` use masked loads and stores.

#[cfg(target_arch = "x86")]
use std::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::cell::RefCell;

use super::isa::level::Avx512;
use super::mat::Product;
use super::MatRef;

const MR: usize = 32;
const NR: usize = 8;
/// Depth of one pass: a 32xKC panel of `A` (32 KiB) stays in L1 while it
/// meets every column block of `B`.
const KC: usize = 256;

thread_local! {
    /// `A` transposed to column-major, when it arrives row-major.
    static A_BUF: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `C = alpha A B + beta C` for `C` with a unit row stride (column-major) or
/// a unit column stride (row-major, computed as `C^T = B^T A^T`). With
/// `split`, a large product is shared with a second thread ([`super::pair`]).
pub(super) fn sgemm(level: Avx512, product: Product<'_, f32>, split: bool) {
    if product.c.rs == 1 {
        col_major_c(level, Tiles::new(product), split)
    } else {
        assert!(product.c.cs == 1, "the own product writes along unit-stride columns or rows of C");
        col_major_c(level, Tiles::new(product.t()), split)
    }
}

/// Runs `whole`: halves on multiples of the tile, by rows of C when there
/// are enough, else by columns; a product with neither is not split.
fn col_major_c(level: Avx512, whole: Tiles<'_>, split: bool) {
    let (m, k, n) = (whole.a.rows, whole.a.cols, whole.b.cols);
    let by_rows = m >= 2 * MR;
    if !split || m * k * n < SPLIT_AT || !(by_rows || n >= 2 * NR) {
        return whole.run(level);
    }
    if by_rows {
        // Each half lays out its own rows of A, on its own thread.
        let top = (m / 2).div_ceil(MR) * MR;
        let halves = [whole.rows(0, top), whole.rows(top, m)];
        return super::pair::both(&|h| halves[h].run(level));
    }
    // Both halves read all of A (fewer than 64 rows): lay it out once, here.
    A_BUF.with_borrow_mut(|a_buf| {
        let whole = if whole.a.rs == 1 { whole } else { Tiles { a: transpose_to_buf(level, whole.a, a_buf), ..whole } };
        let left = (n / 2).div_ceil(NR) * NR;
        let halves = [whole.cols(0, left), whole.cols(left, n)];
        // Neither half borrows this thread's A_BUF again: A is column-major now.
        super::pair::both(&|h| halves[h].run(level));
    })
}

/// Products at least this large (`m k n`) are split over two threads when allowed.
const SPLIT_AT: usize = 1 << 20;

/// `C = alpha A B + beta C` with `C` column-major, or a block of it: `C`'s
/// element `(i, j)` at `c + i + j * csc`, where `A` has `a.rows` rows and `B`
/// has `b.cols` columns. `C` is the unique borrow [`sgemm`] was given, alive
/// until it returns; its blocks ([`Tiles::rows`], [`Tiles::cols`]) do not
/// overlap, so each thread writes only its own.
#[derive(Clone, Copy)]
struct Tiles<'a> {
    alpha: f32,
    a: MatRef<'a, f32>,
    b: MatRef<'a, f32>,
    beta: f32,
    c: *mut f32,
    csc: usize,
}

// SAFETY: a `Tiles` is shared with the helper thread only by `col_major_c`,
// which waits for the helper before it returns, while `C`'s borrow lasts; the
// two halves write disjoint elements of `C`, and `A` and `B` are shared reads.
unsafe impl Sync for Tiles<'_> {}

impl<'a> Tiles<'a> {
    /// The whole product, into a column-major `c` (`c.rs == 1`).
    fn new(product: Product<'a, f32>) -> Self {
        let Product { alpha, a, b, beta, c } = product;
        assert_eq!(c.rs, 1);
        Self { alpha, a, b, beta, c: c.data.as_mut_ptr(), csc: c.cs }
    }

    /// Rows `from..to` of C.
    fn rows(self, from: usize, to: usize) -> Self {
        Self { a: self.a.block(from, 0, to - from, self.a.cols), c: self.c.wrapping_add(from), ..self }
    }

    /// Columns `from..to` of C.
    fn cols(self, from: usize, to: usize) -> Self {
        Self { b: self.b.block(0, from, self.b.rows, to - from), c: self.c.wrapping_add(from * self.csc), ..self }
    }

    /// The product on the calling thread; an `A` without unit row stride is
    /// first transposed into this thread's buffer, which must not be borrowed.
    fn run(&self, level: Avx512) {
        if self.a.rs == 1 {
            // SAFETY: the token shows AVX-512F is present.
            return unsafe { self.tiles(level, self.a) };
        }
        // SAFETY: as above.
        A_BUF.with_borrow_mut(|buf| unsafe { self.tiles(level, transpose_to_buf(level, self.a, buf)) })
    }

    /// The product with `a` (the same values as `self.a`) column-major.
    #[target_feature(enable = "avx512f")]
    fn tiles(&self, level: Avx512, a: MatRef<'_, f32>) {
        let Self { alpha, b, beta, c, csc, .. } = *self;
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let mut kb = 0;
        while kb < k {
            let kc = KC.min(k - kb);
            // The first pass applies beta; later passes add to what it left.
            let beta = if kb == 0 { beta } else { 1.0 };
            let mut ib = 0;
            while ib < m {
                let mr = MR.min(m - ib);
                let mut jb = 0;
                while jb < n {
                    let nr = NR.min(n - jb);
                    let c = c.wrapping_add(ib + jb * csc);
                    // SAFETY: the token shows AVX-512F is present; `c` is the
                    // tile's first element, and the tile's `mr x nr` elements
                    // (column stride `csc`) lie inside this `Tiles`' part of C,
                    // which only this thread touches (see `Tiles`).
                    unsafe {
                        kernel(level, a.block(ib, kb, mr, kc), b.block(kb, jb, kc, nr), alpha, beta, c, csc);
                    }
                    jb += NR;
                }
                ib += MR;
            }
            kb += KC;
        }
    }
}

/// `a` laid out column-major in `buf` (grown if short), as a view of `buf`.
fn transpose_to_buf<'b>(level: Avx512, a: MatRef<'_, f32>, buf: &'b mut Vec<f32>) -> MatRef<'b, f32> {
    let len = a.rows * a.cols;
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    transpose_into(level, a, &mut buf[..len]);
    MatRef::col_major(&buf[..len], a.rows, a.cols)
}

/// Copies `a` (any strides) into `out` column-major (`out.len() == a.rows *
/// a.cols`). A row-major `a` goes 16x16 blocks at a time through registers;
/// edges and other strides element by element.
pub(super) fn transpose_into(level: Avx512, a: MatRef<'_, f32>, out: &mut [f32]) {
    let (m, k) = (a.rows, a.cols);
    assert_eq!(out.len(), m * k, "transpose into a buffer of another size");
    // SAFETY: the token shows AVX-512F is present; the slices are checked.
    unsafe { transpose_avx512(level, a, out) }
}

#[target_feature(enable = "avx512f")]
fn transpose_avx512(_: Avx512, a: MatRef<'_, f32>, out: &mut [f32]) {
    let (m, k) = (a.rows, a.cols);
    let (src, dst) = (a.data.as_ptr(), out.as_mut_ptr());
    let (m16, k16) = if a.cs == 1 { (m / 16 * 16, k / 16 * 16) } else { (0, 0) };
    for i0 in (0..m16).step_by(16) {
        for p0 in (0..k16).step_by(16) {
            // SAFETY: rows `i0..i0 + 16` and columns `p0..p0 + 16` lie inside
            // `a` (`m16 <= m`, `k16 <= k`), whose elements lie inside its slice
            // (a descriptor); with `cs == 1`, row `i0 + i` of the block is 16
            // contiguous elements. The block's columns, each 16 contiguous
            // elements at `i0 + (p0 + p) * m`, lie inside `out` (`m * k` long).
            unsafe {
                let rows: [__m512; 16] = std::array::from_fn(|i| _mm512_loadu_ps(src.add((i0 + i) * a.rs + p0)));
                for (p, col) in transpose16(rows).into_iter().enumerate() {
                    _mm512_storeu_ps(dst.add(i0 + (p0 + p) * m), col);
                }
            }
        }
    }
    for i in 0..m {
        let from = if i < m16 { k16 } else { 0 };
        for p in from..k {
            // SAFETY: `(i, p)` is an element of `a` (inside its slice) and
            // `i + p * m < m * k`, the length of `out`.
            unsafe { *dst.add(i + p * m) = *src.add(i * a.rs + p * a.cs) };
        }
    }
}

/// The 16x16 transpose of `r` (16 rows): three rounds of interleaving (32-bit,
/// 64-bit, 128-bit lanes) and a last 128-bit shuffle leave column `o` in output `o`.
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    let lo_pd = |x: __m512, y: __m512| _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)));
    let hi_pd = |x: __m512, y: __m512| _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)));
    let t: [__m512; 16] = std::array::from_fn(|o| {
        let (x, y) = (r[o & !1], r[o | 1]);
        if o % 2 == 0 {
            _mm512_unpacklo_ps(x, y)
        } else {
            _mm512_unpackhi_ps(x, y)
        }
    });
    // u[4g + c]: in 128-bit lane L, column 4L + c of rows 4g..4g+4.
    let u: [__m512; 16] = std::array::from_fn(|o| {
        let (g, c) = (o / 4, o % 4);
        let (x, y) = (t[4 * g + c / 2], t[4 * g + 2 + c / 2]);
        if c % 2 == 0 {
            lo_pd(x, y)
        } else {
            hi_pd(x, y)
        }
    });
    let v: [__m512; 16] = std::array::from_fn(|o| {
        let (h, j) = (o / 8, o % 8);
        let (x, y) = (u[8 * h + j % 4], u[8 * h + 4 + j % 4]);
        if j < 4 {
            _mm512_shuffle_f32x4::<0x88>(x, y)
        } else {
            _mm512_shuffle_f32x4::<0xdd>(x, y)
        }
    });
    std::array::from_fn(|o| {
        let (x, y) = (v[o % 8], v[8 + o % 8]);
        if o < 8 {
            _mm512_shuffle_f32x4::<0x88>(x, y)
        } else {
            _mm512_shuffle_f32x4::<0xdd>(x, y)
        }
    })
}

/// `C[0..mr, 0..nr] = alpha * A * B + beta * C` for `A: mr x kc` (column-major,
/// `mr <= MR`) and `B: kc x nr` (`nr <= NR`, any strides), with `beta == 0`
/// ignoring `C`'s contents. `B` is read in place: each element is broadcast
/// from wherever its strides put it.
///
/// # Safety
/// AVX-512F must be present (the token); `c` must point to an `mr x nr` block
/// (column stride `csc`) that this thread may write and no one else reads.
#[target_feature(enable = "avx512f")]
unsafe fn kernel(_: Avx512, a: MatRef<'_, f32>, b: MatRef<'_, f32>, alpha: f32, beta: f32, c: *mut f32, csc: usize) {
    debug_assert!(a.rs == 1 && a.rows <= MR && b.cols <= NR && b.rows == a.cols);
    let (kc, mr, nr) = (a.cols, a.rows, b.cols);
    let (m0, m1) = masks(mr);
    // Columns past `nr` repeat column 0; their sums are computed and dropped.
    let off: [usize; NR] = std::array::from_fn(|j| if j < nr { j * b.cs } else { 0 });
    let mut acc0 = [_mm512_setzero_ps(); NR];
    let mut acc1 = [_mm512_setzero_ps(); NR];
    let mut ap = a.data.as_ptr();
    let mut bp = b.data.as_ptr();
    for _ in 0..kc {
        // SAFETY: `ap` is column `p` of A (`p < kc`): its first `mr` elements
        // lie inside A's slice, and the masks (`m0` the first `min(mr, 16)`
        // lanes, `m1` the rest) read no others, as masked-off lanes read nothing.
        // `bp + off[j]` is element `(p, j)` of B with `j < nr` (or `(p, 0)`).
        // The pointers step with wrapping arithmetic: after the last column they
        // may point past the slices, but are not read there.
        unsafe {
            let a0 = _mm512_maskz_loadu_ps(m0, ap);
            let a1 = _mm512_maskz_loadu_ps(m1, ap.wrapping_add(16));
            for j in 0..NR {
                let bj = _mm512_set1_ps(*bp.add(off[j]));
                acc0[j] = _mm512_fmadd_ps(a0, bj, acc0[j]);
                acc1[j] = _mm512_fmadd_ps(a1, bj, acc1[j]);
            }
        }
        ap = ap.wrapping_add(a.cs);
        bp = bp.wrapping_add(b.rs);
    }
    let alpha = _mm512_set1_ps(alpha);
    let beta_v = _mm512_set1_ps(beta);
    for j in 0..nr {
        // SAFETY: column `j < nr` of the tile, rows masked to `mr` (the caller's block).
        unsafe {
            let cp = c.add(j * csc);
            let mut v0 = _mm512_mul_ps(alpha, acc0[j]);
            let mut v1 = _mm512_mul_ps(alpha, acc1[j]);
            if beta != 0.0 {
                v0 = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(m0, cp), v0);
                v1 = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(m1, cp.wrapping_add(16)), v1);
            }
            _mm512_mask_storeu_ps(cp, m0, v0);
            _mm512_mask_storeu_ps(cp.wrapping_add(16), m1, v1);
        }
    }
}

/// Lane masks for the first and second 16 rows of a tile of `mr` rows.
#[inline(always)]
fn masks(mr: usize) -> (__mmask16, __mmask16) {
    let bits = |r: usize| if r >= 16 { 0xffff } else { ((1u32 << r) - 1) as u16 };
    (bits(mr), bits(mr.saturating_sub(16)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::MatMut;

    /// The three layouts an operand can have here: column-major, row-major, and
    /// strided in both directions (a sub-matrix of a larger one).
    fn strides(rows: usize, cols: usize, layout: usize) -> (usize, usize, usize) {
        match layout {
            0 => (1, rows, rows * cols),
            1 => (cols, 1, rows * cols),
            _ => (2, 2 * rows + 1, 2 * rows * cols + cols),
        }
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn every_layout_and_edge_matches_a_naive_product_in_f64() {
        let Some(level) = Avx512::detected() else {
            return;
        };
        // The last two are large enough to be split over two threads, by rows and by columns.
        let shapes = [
            (1, 1, 1),
            (5, 3, 2),
            (32, 8, 8),
            (33, 17, 9),
            (70, 300, 13),
            (10, 128, 32),
            (128, 513, 40),
            (33, 1024, 40),
        ];
        for &(m, k, n) in &shapes {
            for la in 0..3 {
                for lb in 0..3 {
                    for (lc, split) in [(0, false), (1, false), (0, true), (1, true)] {
                        for &(alpha, beta) in &[(1.0f32, 0.0f32), (0.5, 1.0), (-1.0, 0.25)] {
                            let (rsa, csa, la_len) = strides(m, k, la);
                            let (rsb, csb, lb_len) = strides(k, n, lb);
                            let (rsc, csc, lc_len) = strides(m, n, lc);
                            let a = values(la_len, 1);
                            let b = values(lb_len, 2);
                            let mut c = values(lc_len, 3);
                            if beta == 0.0 {
                                c.iter_mut().for_each(|v| *v = f32::NAN);
                            }
                            let c0 = c.clone();
                            let (am, bm) = (MatRef::strided(&a, m, k, rsa, csa), MatRef::strided(&b, k, n, rsb, csb));
                            let cm = MatMut::strided(&mut c, m, n, rsc, csc);
                            sgemm(level, Product::new(alpha, am, bm, beta, cm), split);
                            let (at, bt) = (|i, j| am.at(i, j), |i, j| bm.at(i, j));
                            let ci = |i: usize, j: usize| i * rsc + j * csc;
                            for i in 0..m {
                                for j in 0..n {
                                    let dot: f64 = (0..k).map(|p| f64::from(at(i, p)) * f64::from(bt(p, j))).sum();
                                    let old = if beta == 0.0 { 0.0 } else { f64::from(c0[ci(i, j)]) };
                                    let want = f64::from(alpha) * dot + f64::from(beta) * old;
                                    let got = f64::from(c[ci(i, j)]);
                                    let tol = 1e-5 * (k as f64).sqrt() * (1.0 + want.abs());
                                    assert!(
                                        (got - want).abs() < tol,
                                        "{m}x{k}x{n} layouts {la}{lb}{lc}: {got} vs {want}"
                                    );
                                }
                            }
                            // Nothing outside C's elements is touched.
                            for idx in 0..lc_len {
                                let inside = (0..m).any(|i| (0..n).any(|j| ci(i, j) == idx));
                                if !inside {
                                    assert!(c[idx].to_bits() == c0[idx].to_bits(), "wrote outside C at {idx}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
