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

#![cfg(any(target_arch = "x86", target_arch = "x86_64"))]

use std::cell::RefCell;

#[cfg(target_arch = "x86")]
use std::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

const MR: usize = 32;
const NR: usize = 8;
/// Depth of one pass: a 32xKC panel of `A` (32 KiB) stays in L1 while it
/// meets every column block of `B`.
const KC: usize = 256;

thread_local! {
    /// `A` transposed to column-major, when it arrives row-major.
    static A_BUF: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A strided operand: element `(i, j)` at `ptr + i * rs + j * cs`.
#[derive(Clone, Copy)]
pub(crate) struct Strided {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

/// `C = alpha A B + beta C` for `A: m x k`, `B: k x n`, `C` with `rsc == 1`
/// (column-major, column stride `csc`) or `csc == 1` (row-major). Returns
/// `false`, having done nothing, when `C` has neither unit stride. With
/// `split`, a large product is shared with a second thread ([`super::pair`]).
///
/// # Safety
/// AVX-512F must be available; the operands must lie inside their
/// allocations for the given sizes and strides; `c` must not alias `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: Strided,
    b: Strided,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    split: bool,
) -> bool {
    if rsc == 1 {
        // SAFETY: forwarded.
        unsafe { col_major_c(m, k, n, alpha, a, b, beta, c, csc, split) };
        true
    } else if csc == 1 {
        // C^T = B^T A^T, and C^T is column-major.
        let (at, bt) = (Strided { ptr: b.ptr, rs: b.cs, cs: b.rs }, Strided { ptr: a.ptr, rs: a.cs, cs: a.rs });
        // SAFETY: forwarded, the transposes describe the same elements.
        unsafe { col_major_c(n, k, m, alpha, at, bt, beta, c, rsc, split) };
        true
    } else {
        false
    }
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn col_major_c(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: Strided,
    b: Strided,
    beta: f32,
    c: *mut f32,
    csc: isize,
    split: bool,
) {
    let whole = Tiles { m, k, n, alpha, a, b, beta, c, csc };
    // Halves on multiples of the tile, by rows of C when there are enough,
    // else by columns; a product with neither is not split.
    let by_rows = m >= 2 * MR;
    if !split || m * k * n < SPLIT_AT || !(by_rows || n >= 2 * NR) {
        // SAFETY: forwarded.
        return unsafe { whole.run() };
    }
    if by_rows {
        // Each half lays out its own rows of A, on its own thread.
        let top = (m / 2).div_ceil(MR) * MR;
        let halves = [whole.rows(0, top), whole.rows(top, m)];
        // SAFETY: the halves write disjoint parts of C; both finish before `both` returns.
        return super::pair::both(&|h| unsafe { halves[h].run() });
    }
    // Both halves read all of A (fewer than 64 rows): lay it out once, here.
    A_BUF.with_borrow_mut(|a_buf| {
        let whole = if a.rs == 1 {
            whole
        } else {
            // SAFETY: `a` covers m x k with its strides (caller).
            unsafe { transpose_into(a_buf, m, k, a) };
            Tiles { a: Strided { ptr: a_buf.as_ptr(), rs: 1, cs: m as isize }, ..whole }
        };
        let left = (n / 2).div_ceil(NR) * NR;
        let halves = [whole.cols(0, left), whole.cols(left, n)];
        // SAFETY: as above; neither half borrows this thread's A_BUF (A is column-major now).
        super::pair::both(&|h| unsafe { halves[h].run() });
    })
}

/// Products at least this large (`m k n`) are split over two threads when allowed.
const SPLIT_AT: usize = 1 << 20;

/// `C = alpha A B + beta C` with `C` column-major (`csc`).
#[derive(Clone, Copy)]
struct Tiles {
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: Strided,
    b: Strided,
    beta: f32,
    c: *mut f32,
    csc: isize,
}

// SAFETY: a `Tiles` is handed to the helper thread only by `col_major_c`,
// which waits for it; the halves write disjoint parts of C.
unsafe impl Sync for Tiles {}

impl Tiles {
    /// Rows `from..to` of C.
    fn rows(self, from: usize, to: usize) -> Self {
        let a = Strided { ptr: self.a.ptr.wrapping_offset(from as isize * self.a.rs), ..self.a };
        Self { m: to - from, a, c: self.c.wrapping_add(from), ..self }
    }

    /// Columns `from..to` of C.
    fn cols(self, from: usize, to: usize) -> Self {
        let b = Strided { ptr: self.b.ptr.wrapping_offset(from as isize * self.b.cs), ..self.b };
        Self { n: to - from, b, c: self.c.wrapping_offset(from as isize * self.csc), ..self }
    }

    /// The product on the calling thread; an `A` without unit row stride is
    /// first transposed into this thread's buffer.
    ///
    /// # Safety
    /// AVX-512F; the operands cover the sizes with their strides; this
    /// thread's `A_BUF` is not borrowed when `A` needs transposing.
    #[target_feature(enable = "avx512f")]
    unsafe fn run(&self) {
        if self.a.rs == 1 {
            // SAFETY: forwarded.
            return unsafe { self.tiles(self.a.ptr, self.a.cs) };
        }
        A_BUF.with_borrow_mut(|buf| {
            // SAFETY: `a` covers m x k (caller).
            unsafe { transpose_into(buf, self.m, self.k, self.a) };
            // SAFETY: forwarded, A now column-major in `buf`.
            unsafe { self.tiles(buf.as_ptr(), self.m as isize) }
        })
    }

    /// # Safety
    /// As `run`, with `A` column-major at `a` (column stride `lda`).
    #[target_feature(enable = "avx512f")]
    unsafe fn tiles(&self, a: *const f32, lda: isize) {
        let Self { m, k, n, alpha, b, beta, c, csc, .. } = *self;
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
                    // SAFETY: the tile lies inside A, B and C by the loop bounds (caller's extents).
                    unsafe {
                        kernel(
                            kc,
                            a.offset(ib as isize + kb as isize * lda),
                            lda,
                            Strided { ptr: b.ptr.offset(kb as isize * b.rs + jb as isize * b.cs), ..b },
                            alpha,
                            beta,
                            c.offset(ib as isize + jb as isize * csc),
                            csc,
                            mr,
                            nr,
                        )
                    };
                    jb += NR;
                }
                ib += MR;
            }
            kb += KC;
        }
    }
}

/// Copies `a` (m x k, any strides) into `buf` column-major. A row-major `a`
/// goes 16x16 blocks at a time through registers; edges and other strides
/// element by element.
///
/// # Safety
/// AVX-512F must be available; `a` must cover `m x k` with its strides.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn transpose_into(buf: &mut Vec<f32>, m: usize, k: usize, a: Strided) {
    if buf.len() < m * k {
        buf.resize(m * k, 0.0);
    }
    let out = buf.as_mut_ptr();
    let (m16, k16) = if a.cs == 1 { (m / 16 * 16, k / 16 * 16) } else { (0, 0) };
    for i0 in (0..m16).step_by(16) {
        for p0 in (0..k16).step_by(16) {
            // SAFETY: the block lies inside `a` (caller) and inside `buf` (its length).
            unsafe {
                let rows: [__m512; 16] =
                    std::array::from_fn(|i| _mm512_loadu_ps(a.ptr.offset((i0 + i) as isize * a.rs + p0 as isize)));
                for (p, col) in transpose16(rows).into_iter().enumerate() {
                    _mm512_storeu_ps(out.add(i0 + (p0 + p) * m), col);
                }
            }
        }
    }
    let element = |i: usize, p: usize| {
        // SAFETY: (i, p) inside `a` (caller) and `buf`.
        unsafe { *out.add(i + p * m) = *a.ptr.offset(i as isize * a.rs + p as isize * a.cs) };
    };
    for i in 0..m {
        let from = if i < m16 { k16 } else { 0 };
        (from..k).for_each(|p| element(i, p));
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

/// `C[0..mr, 0..nr] = alpha * A[0..mr, 0..kc] * B[0..kc, 0..nr] + beta * C`, with
/// `beta == 0` ignoring `C`'s contents. `B` is read in place: each element is
/// broadcast from wherever its strides put it.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn kernel(
    kc: usize,
    a: *const f32,
    lda: isize,
    b: Strided,
    alpha: f32,
    beta: f32,
    c: *mut f32,
    csc: isize,
    mr: usize,
    nr: usize,
) {
    let (m0, m1) = masks(mr);
    // Columns past `nr` repeat column 0; their sums are computed and dropped.
    let off: [isize; NR] = std::array::from_fn(|j| if j < nr { j as isize * b.cs } else { 0 });
    let mut acc0 = [_mm512_setzero_ps(); NR];
    let mut acc1 = [_mm512_setzero_ps(); NR];
    let mut ap = a;
    let mut bp = b.ptr;
    for _ in 0..kc {
        // SAFETY: masked lanes are not read; the rest lie inside A; bp inside the block.
        unsafe {
            let a0 = _mm512_maskz_loadu_ps(m0, ap);
            let a1 = _mm512_maskz_loadu_ps(m1, ap.add(16));
            for j in 0..NR {
                let bj = _mm512_set1_ps(*bp.offset(off[j]));
                acc0[j] = _mm512_fmadd_ps(a0, bj, acc0[j]);
                acc1[j] = _mm512_fmadd_ps(a1, bj, acc1[j]);
            }
            ap = ap.offset(lda);
            bp = bp.offset(b.rs);
        }
    }
    let alpha = _mm512_set1_ps(alpha);
    let beta_v = _mm512_set1_ps(beta);
    for j in 0..nr {
        // SAFETY: column j < nr of the tile, rows masked to mr.
        unsafe {
            let cp = c.offset(j as isize * csc);
            let mut v0 = _mm512_mul_ps(alpha, acc0[j]);
            let mut v1 = _mm512_mul_ps(alpha, acc1[j]);
            if beta != 0.0 {
                v0 = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(m0, cp), v0);
                v1 = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(m1, cp.add(16)), v1);
            }
            _mm512_mask_storeu_ps(cp, m0, v0);
            _mm512_mask_storeu_ps(cp.add(16), m1, v1);
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

    /// The three layouts an operand can have here: column-major, row-major, and
    /// strided in both directions (a sub-matrix of a larger one).
    fn strides(rows: usize, cols: usize, layout: usize) -> (isize, isize, usize) {
        match layout {
            0 => (1, rows as isize, rows * cols),
            1 => (cols as isize, 1, rows * cols),
            _ => (2, 2 * rows as isize + 1, 2 * rows * cols + cols),
        }
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn every_layout_and_edge_matches_a_naive_product_in_f64() {
        if !is_x86_feature_detected!("avx512f") {
            return;
        }
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
                            let at = |i: usize, j: usize| a[(i as isize * rsa + j as isize * csa) as usize];
                            let bt = |i: usize, j: usize| b[(i as isize * rsb + j as isize * csb) as usize];
                            let ci = |i: usize, j: usize| (i as isize * rsc + j as isize * csc) as usize;
                            // SAFETY: AVX-512F checked; operands sized by `strides`.
                            let done = unsafe {
                                sgemm(
                                    m,
                                    k,
                                    n,
                                    alpha,
                                    Strided { ptr: a.as_ptr(), rs: rsa, cs: csa },
                                    Strided { ptr: b.as_ptr(), rs: rsb, cs: csb },
                                    beta,
                                    c.as_mut_ptr(),
                                    rsc,
                                    csc,
                                    split,
                                )
                            };
                            assert!(done);
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
