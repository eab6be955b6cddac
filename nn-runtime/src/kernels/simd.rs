//! Vector registers as one trait, [`Vector`], and the kernels written once
//! for every register width with it: the dot product of the matrix-vector
//! loops. (The compiler does not vectorize a floating-point reduction: it may
//! not reorder the sum. Element-wise loops it vectorizes by itself, inside
//! [`dispatch`](super::isa::dispatch)'s wrappers.)

#[cfg(target_arch = "x86")]
use std::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use nalgebra::ComplexField;

use super::isa::{level, Level};
use crate::Float;

/// A vector register of [`Vector::LANES`] `Elem`s and the operations the
/// kernels use on it.
///
/// Every method is `unsafe`: it needs the CPU features that a value of
/// [`Vector::Token`] proves present, and callers hold one.
pub trait Vector: Copy {
    type Elem: Float;
    /// The level whose instructions these are.
    type Token: Level;
    const LANES: usize;
    /// All lanes zero.
    unsafe fn zero() -> Self;
    /// `LANES` elements from `p`.
    unsafe fn load(p: *const Self::Elem) -> Self;
    /// The first `len` (less than `LANES`) elements from `p`, zeros in the
    /// other lanes, reading no memory past them; `None` where the kernels
    /// sum remainders one element at a time instead (AVX2, whose masked loads
    /// need a vector of lane masks rather than a mask register).
    unsafe fn load_first(p: *const Self::Elem, len: usize) -> Option<Self>;
    /// `a * b + acc`, rounded once.
    unsafe fn fmadd(a: Self, b: Self, acc: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
    /// The sum of the lanes.
    unsafe fn sum(self) -> Self::Elem;
}

/// `sum a[i] x[i]` (`a.len() == x.len()`). Four accumulators in flight hide
/// the FMA latency; the order of the sum is fixed, so results are repeatable.
#[inline(always)]
pub fn dot<V: Vector>(_: V::Token, a: &[V::Elem], x: &[V::Elem]) -> V::Elem {
    assert_eq!(a.len(), x.len());
    let n = a.len();
    let (pa, px) = (a.as_ptr(), x.as_ptr());
    let lanes = V::LANES;
    // SAFETY: the token shows that this CPU has V's instructions. Every full
    // load starts at `i + lanes * l` with `i + lanes * (l + 1) <= n`, and
    // `load_first` reads the `n - i < lanes` elements from `i`: all inside `a`
    // and `x`, which have `n` elements each.
    unsafe {
        let mut acc = [V::zero(); 4];
        let mut i = 0;
        while i + 4 * lanes <= n {
            for (l, acc) in acc.iter_mut().enumerate() {
                let o = i + lanes * l;
                *acc = V::fmadd(V::load(pa.add(o)), V::load(px.add(o)), *acc);
            }
            i += 4 * lanes;
        }
        while i + lanes <= n {
            acc[0] = V::fmadd(V::load(pa.add(i)), V::load(px.add(i)), acc[0]);
            i += lanes;
        }
        if i < n {
            if let (Some(va), Some(vx)) = (V::load_first(pa.add(i), n - i), V::load_first(px.add(i), n - i)) {
                acc[1] = V::fmadd(va, vx, acc[1]);
                i = n;
            }
        }
        let mut s = V::add(V::add(acc[0], acc[1]), V::add(acc[2], acc[3])).sum();
        for j in i..n {
            s = ComplexField::mul_add(a[j], x[j], s);
        }
        s
    }
}

/// Implements [`Vector`] for one register type with its intrinsics.
macro_rules! vector {
    (
        $v:ty, $elem:ty, $token:ty, $lanes:literal,
        $zero:ident, $load:ident, $load_first:expr, $fmadd:ident, $add:ident, $sum:ident
    ) => {
        impl Vector for $v {
            type Elem = $elem;
            type Token = $token;
            const LANES: usize = $lanes;
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: the caller holds the token (the trait's contract).
                unsafe { $zero() }
            }
            #[inline(always)]
            unsafe fn load(p: *const $elem) -> Self {
                // SAFETY: the caller holds the token and `p` points to `LANES` elements.
                unsafe { $load(p) }
            }
            #[inline(always)]
            unsafe fn load_first(p: *const $elem, len: usize) -> Option<Self> {
                // SAFETY: the caller holds the token and `p` points to `len` elements.
                unsafe { $load_first(p, len) }
            }
            #[inline(always)]
            unsafe fn fmadd(a: Self, b: Self, acc: Self) -> Self {
                // SAFETY: the caller holds the token.
                unsafe { $fmadd(a, b, acc) }
            }
            #[inline(always)]
            unsafe fn add(a: Self, b: Self) -> Self {
                // SAFETY: the caller holds the token.
                unsafe { $add(a, b) }
            }
            #[inline(always)]
            unsafe fn sum(self) -> $elem {
                // SAFETY: the caller holds the token.
                unsafe { $sum(self) }
            }
        }
    };
}

/// AVX2's remainders are summed one element at a time (see [`Vector::load_first`]).
#[inline(always)]
unsafe fn no_masked_load<E, V>(_: *const E, _: usize) -> Option<V> {
    None
}

/// The mask of the first `len` of 16 lanes.
#[inline(always)]
fn first_16(len: usize) -> __mmask16 {
    if len >= 16 {
        0xffff
    } else {
        ((1u32 << len) - 1) as u16
    }
}

#[inline(always)]
unsafe fn first_ps(p: *const f32, len: usize) -> Option<__m512> {
    // SAFETY: masked-off lanes read nothing; the caller vouches for `len` elements and AVX-512F.
    Some(unsafe { _mm512_maskz_loadu_ps(first_16(len), p) })
}

#[inline(always)]
unsafe fn first_pd(p: *const f64, len: usize) -> Option<__m512d> {
    // SAFETY: as `first_ps`; `len < 8`, so the mask fits 8 lanes.
    Some(unsafe { _mm512_maskz_loadu_pd(first_16(len) as u8, p) })
}

/// The sum of 8 lanes: halves added three times.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum256_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
    _mm_cvtss_f32(s)
}

/// The sum of 4 lanes: halves added twice.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum256_pd(v: __m256d) -> f64 {
    let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
    let s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    _mm_cvtsd_f64(s)
}

vector!(
    __m256,
    f32,
    level::Avx2Fma,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    no_masked_load,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    hsum256_ps
);
vector!(
    __m256d,
    f64,
    level::Avx2Fma,
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    no_masked_load,
    _mm256_fmadd_pd,
    _mm256_add_pd,
    hsum256_pd
);
vector!(
    __m512,
    f32,
    level::Avx512,
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    first_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_reduce_add_ps
);
vector!(
    __m512d,
    f64,
    level::Avx512,
    8,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    first_pd,
    _mm512_fmadd_pd,
    _mm512_add_pd,
    _mm512_reduce_add_pd
);

/// Four dot products with the same `x`, each row as long as `x`: four
/// streams from memory in flight instead of one, and each load of `x` feeds
/// four products. `f32` on AVX-512 only (`f64` is for checking gradients,
/// where the one-row loop does).
#[inline(always)]
pub fn dot4(level: level::Avx512, rows: [&[f32]; 4], x: &[f32]) -> [f32; 4] {
    assert!(rows.iter().all(|r| r.len() == x.len()));
    // SAFETY: the token shows AVX-512F is present; the rows are as long as `x`.
    unsafe { dot4_avx512(level, rows, x) }
}

/// # Safety
/// AVX-512F must be present (the token); every row as long as `x`.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn dot4_avx512(_: level::Avx512, rows: [&[f32]; 4], x: &[f32]) -> [f32; 4] {
    let n = x.len();
    let p = rows.map(|r| r.as_ptr());
    let px = x.as_ptr();
    let mut acc = [[_mm512_setzero_ps(); 2]; 4];
    // A first partial block up to a 64-byte boundary of the first row, so
    // that the full loads below do not straddle cache lines (a large
    // allocation starts 16 bytes past a page; rows of 784 or 512 floats
    // keep every row at the first row's offset).
    let mut i = ((64 - p[0] as usize % 64) % 64 / 4).min(n);
    // SAFETY: every load reads elements `i..i + 16` (or `i..i + 32`) below `n`,
    // or is masked to those below `n` (masked-off lanes read nothing); each
    // row and `x` have `n` elements.
    unsafe {
        if i > 0 {
            let k = first_16(i);
            let xv = _mm512_maskz_loadu_ps(k, px);
            for r in 0..4 {
                acc[r][0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, p[r]), xv, acc[r][0]);
            }
        }
        while i + 32 <= n {
            let (x0, x1) = (_mm512_loadu_ps(px.add(i)), _mm512_loadu_ps(px.add(i + 16)));
            for r in 0..4 {
                acc[r][0] = _mm512_fmadd_ps(_mm512_loadu_ps(p[r].add(i)), x0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(_mm512_loadu_ps(p[r].add(i + 16)), x1, acc[r][1]);
            }
            i += 32;
        }
        while i < n {
            // The last 1-31 elements, 16 at a time, through masked loads.
            let k = first_16(n - i);
            let xv = _mm512_maskz_loadu_ps(k, px.add(i));
            for r in 0..4 {
                acc[r][0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, p[r].add(i)), xv, acc[r][0]);
            }
            i += 16;
        }
        acc.map(|[a, b]| _mm512_reduce_add_ps(_mm512_add_ps(a, b)))
    }
}
