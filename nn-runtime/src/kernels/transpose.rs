//! Laying a matrix out column-major: the matrix product's row-major
//! operands (a weight in forward), a recurrent layer's `W_hh` once per
//! sequence. A row-major matrix goes through registers in squares where the
//! level has a register transpose for the type (`f32` with AVX-512 and
//! AVX2), everything else through 16x16 blocks of plain copies (element by
//! element, every write would go to another cache line).

#[cfg(target_arch = "x86")]
use std::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::isa::level;
use super::isa::Level;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::isa::Vector;
use std::ops::Range;

use super::MatRef;
use crate::kernels::Float;

/// `out = a` (any strides) laid out column-major with column stride `ld`
/// (at least `a.rows`), on `level`. Panics if `out` is too short.
#[inline(always)]
pub(super) fn transpose_into<T: Float, L: Level>(level: L, a: MatRef<'_, T>, out: &mut [T], ld: usize) {
    check(a, out, ld);
    if !level.transpose(a, out, ld) {
        blocks(a, out, ld, 0, 0);
    }
}

/// Panics unless `out` holds `a` column-major with column stride `ld`.
#[inline(always)]
fn check<T>(a: MatRef<'_, T>, out: &[T], ld: usize) {
    assert!(ld >= a.rows && out.len() >= ld * a.cols, "transpose into a buffer too short");
}

/// Copies the elements of `a` outside its first `rows_done x cols_done`
/// block into `out` (column-major), 16x16 blocks at a time: the columns
/// right of that block in its rows, then every column of the rows below it.
#[inline(always)]
fn blocks<T: Copy>(a: MatRef<'_, T>, out: &mut [T], ld: usize, rows_done: usize, cols_done: usize) {
    let (rows, cols) = (a.rows, a.cols);
    copy_region(a, out, ld, 0..rows_done, cols_done..cols);
    copy_region(a, out, ld, rows_done..rows, 0..cols);
}

/// Copies `a`'s elements in `rows x cols` into `out` (column-major), 16x16
/// blocks at a time.
#[inline(always)]
fn copy_region<T: Copy>(a: MatRef<'_, T>, out: &mut [T], ld: usize, rows: Range<usize>, cols: Range<usize>) {
    for i0 in rows.clone().step_by(16) {
        for j0 in cols.clone().step_by(16) {
            for i in i0..(i0 + 16).min(rows.end) {
                for j in j0..(j0 + 16).min(cols.end) {
                    out[i + j * ld] = a.at(i, j);
                }
            }
        }
    }
}

/// `out = a` column-major with `B x B` squares in registers `V` (`B` lanes
/// each) where `a` is row-major; the ragged edges, and any other layout,
/// through [`blocks`].
///
/// # Safety
/// The CPU must have `V`'s instructions; `square` must return the transpose
/// of its `B` rows.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline(always)]
unsafe fn squares<V: Vector, const B: usize>(
    a: MatRef<'_, V::Elem>,
    out: &mut [V::Elem],
    ld: usize,
    square: unsafe fn([V; B]) -> [V; B],
) {
    debug_assert_eq!(V::LANES, B);
    let (m, k) = (a.rows, a.cols);
    check(a, out, ld);
    let (mb, kb) = if a.cs == 1 { (m / B * B, k / B * B) } else { (0, 0) };
    let (src, dst) = (a.data.as_ptr(), out.as_mut_ptr());
    for i0 in (0..mb).step_by(B) {
        for p0 in (0..kb).step_by(B) {
            // SAFETY: rows `i0..i0 + B` and columns `p0..p0 + B` lie inside
            // `a` (`mb <= m`, `kb <= k`), whose elements lie inside its slice
            // (a descriptor); with `cs == 1`, row `i0 + i` of the square is `B`
            // contiguous elements. The square's columns, each `B` contiguous
            // elements at `i0 + (p0 + p) * ld`, lie inside `out` (checked).
            unsafe {
                let rows: [V; B] = std::array::from_fn(|i| V::load(src.add((i0 + i) * a.rs + p0)));
                for (p, col) in square(rows).into_iter().enumerate() {
                    V::store(dst.add(i0 + (p0 + p) * ld), col);
                }
            }
        }
    }
    blocks(a, out, ld, mb, kb);
}

/// [`squares`] of 16x16 `f32` with AVX-512F.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub(super) fn squares_avx512(_: level::Avx512, a: MatRef<'_, f32>, out: &mut [f32], ld: usize) {
    #[target_feature(enable = "avx512f")]
    fn run(a: MatRef<'_, f32>, out: &mut [f32], ld: usize) {
        // SAFETY: this function runs only with AVX-512F (its caller holds the
        // token); `transpose16` transposes its 16 rows.
        unsafe { squares::<__m512, 16>(a, out, ld, |r| transpose16(r)) }
    }
    // SAFETY: the token shows AVX-512F is present.
    unsafe { run(a, out, ld) }
}

/// [`squares`] of 8x8 `f32` with AVX2.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub(super) fn squares_avx2(_: level::Avx2Fma, a: MatRef<'_, f32>, out: &mut [f32], ld: usize) {
    #[target_feature(enable = "avx2,fma")]
    fn run(a: MatRef<'_, f32>, out: &mut [f32], ld: usize) {
        // SAFETY: this function runs only with AVX2 (its caller holds the
        // token); `transpose8` transposes its 8 rows.
        unsafe { squares::<__m256, 8>(a, out, ld, |r| transpose8(r)) }
    }
    // SAFETY: the token shows AVX2 and FMA are present.
    unsafe { run(a, out, ld) }
}

/// The 16x16 transpose of `r` (16 rows): three rounds of interleaving (32-bit,
/// 64-bit, 128-bit lanes) and a last 128-bit shuffle leave column `o` in output `o`.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
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

/// The 8x8 transpose of `r` (8 rows): interleaving 32-bit lanes, then
/// 64-bit pairs, then swapping 128-bit halves leaves column `o` in output `o`.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline]
#[target_feature(enable = "avx2,fma")]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    let t: [__m256; 8] = std::array::from_fn(|o| {
        let (x, y) = (r[o & !1], r[o | 1]);
        if o % 2 == 0 {
            _mm256_unpacklo_ps(x, y)
        } else {
            _mm256_unpackhi_ps(x, y)
        }
    });
    // u[4g + c]: in each 128-bit half, column c (of 4) of rows 4g..4g+4.
    let u: [__m256; 8] = std::array::from_fn(|o| {
        let (g, c) = (o / 4, o % 4);
        let (x, y) = (t[4 * g + c / 2], t[4 * g + 2 + c / 2]);
        if c % 2 == 0 {
            _mm256_shuffle_ps::<0x44>(x, y)
        } else {
            _mm256_shuffle_ps::<0xee>(x, y)
        }
    });
    std::array::from_fn(|o| {
        let (x, y) = (u[o % 4], u[4 + o % 4]);
        if o < 4 {
            _mm256_permute2f128_ps::<0x20>(x, y)
        } else {
            _mm256_permute2f128_ps::<0x31>(x, y)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{dispatch, with_isa, Isa, Kernel};

    struct Into<'a, T>(MatRef<'a, T>, &'a mut [T], usize);

    impl<T: Float> Kernel for Into<'_, T> {
        type Output = ();
        fn run<L: Level>(self, level: L) {
            transpose_into(level, self.0, self.1, self.2)
        }
    }

    /// Every layout (row-major, column-major, strided) and every remainder of
    /// the 8x8 and 16x16 squares, on every instruction set, both types.
    fn check<T: Float>() {
        let mut checked = 0;
        for &isa in Isa::ALL.iter().filter(|i| i.available()) {
            for (rows, cols) in [(1, 1), (3, 5), (8, 8), (9, 17), (16, 16), (23, 40), (37, 20), (512, 128)] {
                let data: Vec<T> = (0..3 * rows * cols + 7).map(|v| T::of(v as f64 * 0.5 - 3.0)).collect();
                for (rs, cs) in [(cols, 1), (1, rows), (2 * cols + 1, 2)] {
                    let a = MatRef::strided(&data[..], rows, cols, rs, cs);
                    // Columns packed, and with a gap after each that stays untouched.
                    for ld in [rows, rows + 3] {
                        let mut out = vec![T::of(f64::NAN); ld * cols];
                        with_isa(isa, || dispatch(Into(a, &mut out, ld)));
                        for (idx, v) in out.iter().enumerate() {
                            let (i, j) = (idx % ld, idx / ld);
                            let want = if i < rows { a.at(i, j).as_f64() } else { f64::NAN };
                            let what = format!("{isa:?} {rows}x{cols} strides ({rs}, {cs}) ld {ld} ({i}, {j})");
                            assert_eq!(v.as_f64().to_bits(), want.to_bits(), "{what}");
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 8 * 3 * 2);
    }

    #[test]
    fn every_layout_and_edge_lays_out_column_major_on_every_isa_f32() {
        check::<f32>();
    }

    #[test]
    fn every_layout_and_edge_lays_out_column_major_on_every_isa_f64() {
        check::<f64>();
    }
}
