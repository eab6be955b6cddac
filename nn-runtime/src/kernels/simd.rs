//! The vector registers of every level, each an implementation of
//! [`Vector`], and the kernels written once for every register width with it: the dot product of the matrix-vector
//! loops here, the tile of the matrix product in `kernels/gemm.rs`. (The
//! compiler does not vectorize a floating-point reduction: it may not
//! reorder the sum. Element-wise loops it vectorizes by itself, inside
//! [`dispatch`](super::isa::dispatch)'s wrappers.)
//!
//! The registers: `__m512`/`__m512d` (AVX-512F), `__m256`/`__m256d` (AVX2 and
//! FMA), `float32x4_t`/`float64x2_t` (NEON), and [`Lanes`], plain arrays for
//! the portable level.

#[cfg(target_arch = "aarch64")]
use std::arch::aarch64::*;
#[cfg(target_arch = "x86")]
use std::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::isa::{level, Vector};
use crate::kernels::Float;

/// `sum a[i] x[i]` (`a.len() == x.len()`). Four accumulators in flight hide
/// the FMA latency; the order of the sum is fixed, so results are repeatable.
#[inline(always)]
pub fn dot<V: Vector>(token: V::Token, a: &[V::Elem], x: &[V::Elem]) -> V::Elem {
    dot_prefetching::<V>(token, a, x, 0)
}

/// [`dot`], asking for the memory `ahead` bytes past each block of `a` as it
/// goes (`0`: no such requests), with the same arithmetic: the bits of [`dot`].
/// For the rows of a matrix too large for L2, whose next rows follow in
/// memory (see [`prefetch_streaming`]); addresses past the matrix's end are
/// only hints, never read.
#[inline(always)]
pub fn dot_prefetching<V: Vector>(_: V::Token, a: &[V::Elem], x: &[V::Elem], ahead: usize) -> V::Elem {
    assert_eq!(a.len(), x.len());
    let n = a.len();
    let (pa, px) = (a.as_ptr(), x.as_ptr());
    let lanes = V::LANES;
    let block_bytes = 4 * lanes * std::mem::size_of::<V::Elem>();
    // SAFETY: the token shows that this CPU has V's instructions. Every full
    // load starts at `i + lanes * l` with `i + lanes * (l + 1) <= n`, and the
    // masked load reads the `n - i < lanes` elements from `i`: all inside `a`
    // and `x`, which have `n` elements each.
    unsafe {
        let mut acc = [V::zero(); 4];
        let mut i = 0;
        while i + 4 * lanes <= n {
            if ahead > 0 {
                let next = pa.add(i).cast::<u8>().wrapping_add(ahead);
                for line in (0..block_bytes).step_by(64) {
                    prefetch_streaming(next.wrapping_add(line));
                }
            }
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
            let m = V::mask(n - i);
            acc[1] = V::fmadd(V::load_masked(pa.add(i), m), V::load_masked(px.add(i), m), acc[1]);
        }
        V::add(V::add(acc[0], acc[1]), V::add(acc[2], acc[3])).sum()
    }
}

/// Asks the CPU to bring the cache line at `p` towards L1 ahead of its use,
/// as data read once (x86's `prefetchnta`); elsewhere nothing. A hint: it
/// reads no memory the program sees and never faults, whatever the address.
///
/// Why: data that streams from L3 in every call, as the weights of a
/// one-sample product larger than L2 do, arrives faster with these requests
/// in flight than with the hardware prefetcher alone. On W6 (Zen 5, one
/// thread, `f32`) the 784x512 layer's rows took about 1.6 us less of a 21 us
/// call with AVX2 and with AVX-512, and the 512x512 layer's nonzero columns
/// about 0.3 us less; `prefetcht0` at the same distance gained less.
#[inline(always)]
pub(crate) fn prefetch_streaming(p: *const u8) {
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse"))]
    // SAFETY: `prefetchnta` is an SSE instruction, and the build targets SSE
    // (`cfg` above); as a hint it dereferences nothing.
    unsafe {
        _mm_prefetch::<_MM_HINT_NTA>(p.cast())
    };
    #[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse")))]
    let _ = p;
}

/// The portable level's "register": `N` elements in a plain array, whose
/// element-wise loops the compiler turns into the build target's vector
/// instructions (SSE2 on x86-64, NEON on aarch64, simd128 on wasm where
/// enabled). Multiply and add stay two roundings: without FMA in the build,
/// `mul_add` is a slow library call.
#[derive(Clone, Copy, Debug)]
pub struct Lanes<T, const N: usize>([T; N]);

impl<T: Float, const N: usize> Vector for Lanes<T, N> {
    type Elem = T;
    type Token = level::Portable;
    const LANES: usize = N;
    /// 16 registers of 128 bits on SSE2: 8 accumulators, two of `A`, one of `B`.
    const TILE_REGS: usize = 2;
    const TILE_COLS: usize = 4;
    type Mask = usize;
    #[inline(always)]
    unsafe fn mask(len: usize) -> usize {
        len
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        Self([T::zero(); N])
    }
    #[inline(always)]
    unsafe fn splat(x: T) -> Self {
        Self([x; N])
    }
    #[inline(always)]
    unsafe fn load(p: *const T) -> Self {
        // SAFETY: the caller vouches for `N` elements at `p`.
        Self(unsafe { p.cast::<[T; N]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const T, len: usize) -> Self {
        let mut v = [T::zero(); N];
        // SAFETY: the caller vouches for `len <= N` elements at `p`.
        unsafe { std::ptr::copy_nonoverlapping(p, v.as_mut_ptr(), len) };
        Self(v)
    }
    #[inline(always)]
    unsafe fn store(p: *mut T, v: Self) {
        // SAFETY: the caller vouches for `N` writable elements at `p`.
        unsafe { p.cast::<[T; N]>().write_unaligned(v.0) }
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut T, len: usize, v: Self) {
        // SAFETY: the caller vouches for `len <= N` writable elements at `p`.
        unsafe { std::ptr::copy_nonoverlapping(v.0.as_ptr(), p, len) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, acc: Self) -> Self {
        Self(std::array::from_fn(|l| a.0[l] * b.0[l] + acc.0[l]))
    }
    #[inline(always)]
    unsafe fn mul(a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|l| a.0[l] * b.0[l]))
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|l| a.0[l] + b.0[l]))
    }
    #[inline(always)]
    unsafe fn sum(self) -> T {
        self.0.into_iter().fold(T::zero(), |s, v| s + v)
    }
}

/// Implements [`Vector`] for one register type with its intrinsics.
#[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
macro_rules! vector {
    (
        $v:ty, $elem:ty, $token:ty, $lanes:literal, tile $regs:literal x $cols:literal, $mask:ty,
        mask $mask_fn:expr, $zero:expr, $splat:expr, $load:expr, $load_masked:expr, $store:expr,
        $store_masked:expr, $fmadd:expr, $mul:expr, $add:expr, $sum:expr
    ) => {
        impl Vector for $v {
            type Elem = $elem;
            type Token = $token;
            const LANES: usize = $lanes;
            const TILE_REGS: usize = $regs;
            const TILE_COLS: usize = $cols;
            type Mask = $mask;
            #[inline(always)]
            #[allow(unused_unsafe)] // AVX2's masks are built by intrinsics, AVX-512's by plain code
            unsafe fn mask(len: usize) -> $mask {
                // SAFETY: the caller holds the token (the trait's contract).
                unsafe { $mask_fn(len) }
            }
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: the caller holds the token.
                unsafe { $zero() }
            }
            #[inline(always)]
            unsafe fn splat(x: $elem) -> Self {
                // SAFETY: the caller holds the token.
                unsafe { $splat(x) }
            }
            #[inline(always)]
            unsafe fn load(p: *const $elem) -> Self {
                // SAFETY: the caller holds the token and `p` points to `LANES` elements.
                unsafe { $load(p) }
            }
            #[inline(always)]
            unsafe fn load_masked(p: *const $elem, mask: $mask) -> Self {
                // SAFETY: the caller holds the token and `p` points to the elements of `mask`.
                unsafe { $load_masked(p, mask) }
            }
            #[inline(always)]
            unsafe fn store(p: *mut $elem, v: Self) {
                // SAFETY: the caller holds the token and `p` points to `LANES` writable elements.
                unsafe { $store(p, v) }
            }
            #[inline(always)]
            unsafe fn store_masked(p: *mut $elem, mask: $mask, v: Self) {
                // SAFETY: the caller holds the token and `p` points to the writable elements of `mask`.
                unsafe { $store_masked(p, mask, v) }
            }
            #[inline(always)]
            unsafe fn fmadd(a: Self, b: Self, acc: Self) -> Self {
                // SAFETY: the caller holds the token.
                unsafe { $fmadd(a, b, acc) }
            }
            #[inline(always)]
            unsafe fn mul(a: Self, b: Self) -> Self {
                // SAFETY: the caller holds the token.
                unsafe { $mul(a, b) }
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

/// The mask of the first `len` of 16 lanes (all of them from 16 on); also
/// for the `f32` kernels written in AVX-512 intrinsics (`pooling.rs`,
/// `im2col.rs`).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline(always)]
pub(super) fn first_16(len: usize) -> __mmask16 {
    if len >= 16 {
        0xffff
    } else {
        ((1u32 << len) - 1) as u16
    }
}

/// The mask of the first `len` of 8 lanes.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline(always)]
fn first_8(len: usize) -> __mmask8 {
    first_16(len) as u8
}

/// AVX2's masks are vectors: lane `l` all ones where `l < len`.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline]
#[target_feature(enable = "avx2,fma")]
fn first_8_epi32(len: usize) -> __m256i {
    _mm256_cmpgt_epi32(_mm256_set1_epi32(len as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

/// As [`first_8_epi32`], for 4 lanes of 64 bits.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline]
#[target_feature(enable = "avx2,fma")]
fn first_4_epi64(len: usize) -> __m256i {
    _mm256_cmpgt_epi64(_mm256_set1_epi64x(len as i64), _mm256_setr_epi64x(0, 1, 2, 3))
}

/// The sum of 8 lanes: halves added three times.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum256_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
    _mm_cvtss_f32(s)
}

/// The sum of 4 lanes: halves added twice.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum256_pd(v: __m256d) -> f64 {
    let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
    let s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    _mm_cvtsd_f64(s)
}

/// The intrinsics that take the mask first or the accumulator first, in the
/// argument order of [`Vector`].
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod x86_order {
    #[cfg(target_arch = "x86")]
    use std::arch::x86::*;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn load_ps512(p: *const f32, m: __mmask16) -> __m512 {
        // SAFETY: masked-off lanes read nothing; the caller vouches for the others.
        unsafe { _mm512_maskz_loadu_ps(m, p) }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn load_pd512(p: *const f64, m: __mmask8) -> __m512d {
        // SAFETY: as `load_ps512`.
        unsafe { _mm512_maskz_loadu_pd(m, p) }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn store_ps512(p: *mut f32, m: __mmask16, v: __m512) {
        // SAFETY: masked-off lanes write nothing; the caller vouches for the others.
        unsafe { _mm512_mask_storeu_ps(p, m, v) }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn store_pd512(p: *mut f64, m: __mmask8, v: __m512d) {
        // SAFETY: as `store_ps512`.
        unsafe { _mm512_mask_storeu_pd(p, m, v) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn load_ps256(p: *const f32, m: __m256i) -> __m256 {
        // SAFETY: masked-off lanes read nothing (and do not fault); the caller vouches for the others.
        unsafe { _mm256_maskload_ps(p, m) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn load_pd256(p: *const f64, m: __m256i) -> __m256d {
        // SAFETY: as `load_ps256`.
        unsafe { _mm256_maskload_pd(p, m) }
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
vector!(
    __m256, f32, level::Avx2Fma, 8, tile 2 x 6, __m256i,
    mask first_8_epi32, _mm256_setzero_ps, _mm256_set1_ps, _mm256_loadu_ps, x86_order::load_ps256,
    _mm256_storeu_ps, _mm256_maskstore_ps, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, hsum256_ps
);
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
vector!(
    __m256d, f64, level::Avx2Fma, 4, tile 2 x 6, __m256i,
    mask first_4_epi64, _mm256_setzero_pd, _mm256_set1_pd, _mm256_loadu_pd, x86_order::load_pd256,
    _mm256_storeu_pd, _mm256_maskstore_pd, _mm256_fmadd_pd, _mm256_mul_pd, _mm256_add_pd, hsum256_pd
);
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
vector!(
    __m512, f32, level::Avx512, 16, tile 2 x 8, __mmask16,
    mask first_16, _mm512_setzero_ps, _mm512_set1_ps, _mm512_loadu_ps, x86_order::load_ps512,
    _mm512_storeu_ps, x86_order::store_ps512, _mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps, _mm512_reduce_add_ps
);
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
vector!(
    __m512d, f64, level::Avx512, 8, tile 2 x 8, __mmask8,
    mask first_8, _mm512_setzero_pd, _mm512_set1_pd, _mm512_loadu_pd, x86_order::load_pd512,
    _mm512_storeu_pd, x86_order::store_pd512, _mm512_fmadd_pd, _mm512_mul_pd, _mm512_add_pd, _mm512_reduce_add_pd
);

/// NEON has no masked loads: the lanes go through an array on the stack.
#[cfg(target_arch = "aarch64")]
mod neon {
    use std::arch::aarch64::*;

    macro_rules! partial {
        ($load:ident, $store:ident, $v:ty, $elem:ty, $lanes:literal, $vld:ident, $vst:ident) => {
            #[inline]
            #[target_feature(enable = "neon")]
            pub(super) unsafe fn $load(p: *const $elem, len: usize) -> $v {
                let mut t = [0.0; $lanes];
                // SAFETY: the caller vouches for `len <= LANES` elements at `p`.
                unsafe {
                    std::ptr::copy_nonoverlapping(p, t.as_mut_ptr(), len);
                    $vld(t.as_ptr())
                }
            }
            #[inline]
            #[target_feature(enable = "neon")]
            pub(super) unsafe fn $store(p: *mut $elem, len: usize, v: $v) {
                let mut t = [0.0; $lanes];
                // SAFETY: the caller vouches for `len <= LANES` writable elements at `p`.
                unsafe {
                    $vst(t.as_mut_ptr(), v);
                    std::ptr::copy_nonoverlapping(t.as_ptr(), p, len);
                }
            }
        };
    }
    partial!(load_f32, store_f32, float32x4_t, f32, 4, vld1q_f32, vst1q_f32);
    partial!(load_f64, store_f64, float64x2_t, f64, 2, vld1q_f64, vst1q_f64);

    /// `a * b + acc` in [`Vector`](super::Vector)'s order (NEON's takes the accumulator first).
    #[inline]
    #[target_feature(enable = "neon")]
    pub(super) fn fma_f32(a: float32x4_t, b: float32x4_t, acc: float32x4_t) -> float32x4_t {
        vfmaq_f32(acc, a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub(super) fn fma_f64(a: float64x2_t, b: float64x2_t, acc: float64x2_t) -> float64x2_t {
        vfmaq_f64(acc, a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub(super) fn zero_f32() -> float32x4_t {
        vdupq_n_f32(0.0)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub(super) fn zero_f64() -> float64x2_t {
        vdupq_n_f64(0.0)
    }
    /// The mask is the number of lanes.
    #[inline(always)]
    pub(super) fn len(len: usize) -> usize {
        len
    }
}

// 32 registers: 16 accumulators, two of `A`, one of `B`.
#[cfg(target_arch = "aarch64")]
vector!(
    float32x4_t, f32, level::Neon, 4, tile 2 x 8, usize,
    mask neon::len, neon::zero_f32, vdupq_n_f32, vld1q_f32, neon::load_f32,
    vst1q_f32, neon::store_f32, neon::fma_f32, vmulq_f32, vaddq_f32, vaddvq_f32
);
#[cfg(target_arch = "aarch64")]
vector!(
    float64x2_t, f64, level::Neon, 2, tile 2 x 8, usize,
    mask neon::len, neon::zero_f64, vdupq_n_f64, vld1q_f64, neon::load_f64,
    vst1q_f64, neon::store_f64, neon::fma_f64, vmulq_f64, vaddq_f64, vaddvq_f64
);

/// Four dot products with the same `x`, each row as long as `x`: four
/// streams from memory in flight instead of one, and each load of `x` feeds
/// four products. `f32` on AVX-512 only (`f64` is for checking gradients,
/// where the one-row loop does).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline(always)]
pub fn dot4(level: level::Avx512, rows: [&[f32]; 4], x: &[f32]) -> [f32; 4] {
    assert!(rows.iter().all(|r| r.len() == x.len()));
    // SAFETY: the token shows AVX-512F is present; the rows are as long as `x`.
    unsafe { dot4_avx512(level, rows, x) }
}

/// # Safety
/// AVX-512F must be present (the token); every row as long as `x`.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
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
