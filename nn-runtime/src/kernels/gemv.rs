//! Matrix-vector products, `y = alpha * A x + beta * y`.
//!
//! matrixmultiply packs the whole of `A` before it multiplies, which for a
//! single column costs more than the product itself (about 10x a plain loop:
//! DESIGN.md, performance model). These loops read `A` once, in its storage
//! order: dot products when `A` is row-major, column updates (axpy) when it is
//! column-major. The library cannot assume `target-cpu=native`, so the same
//! loops are compiled three times (AVX-512F, AVX2 + FMA, baseline) and the best
//! one the CPU supports is picked once, at the first call.

use std::sync::OnceLock;

use crate::Float;

/// The instruction sets the loops are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F (with FMA): 16 `f32` per register.
    Avx512,
    /// AVX2 with FMA: 8 `f32` per register.
    Avx2Fma,
    /// Whatever the build targets (SSE2 on a default x86-64 build), no FMA.
    Portable,
}

/// The instruction set `nn`'s vector loops use on this CPU, detected once: the
/// matrix-vector products, the `f32` sigmoid and tanh, the recurrent cells'
/// element-wise steps, and (with `Avx512`) the own `f32` matrix product.
///
/// `NN_GEMV_ISA=avx512|avx2|portable` caps the choice (for benchmarks and for
/// testing every path on one machine; below `avx512`, `f32` products go to
/// matrixmultiply); a value the CPU cannot run is ignored.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let best = detect();
        match std::env::var("NN_GEMV_ISA").as_deref() {
            Ok("portable") => Isa::Portable,
            Ok("avx2") if available(Isa::Avx2Fma) => Isa::Avx2Fma,
            _ => best,
        }
    })
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn detect() -> Isa {
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
        Isa::Avx512
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Isa::Avx2Fma
    } else {
        Isa::Portable
    }
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn detect() -> Isa {
    Isa::Portable
}

/// A strided vector: element `i` is `data[i * inc]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strided<'a, T> {
    pub data: &'a [T],
    pub inc: usize,
}

/// `A` as the loops see it: `m x k`, element `(i, j)` at `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mat<'a, T> {
    pub data: &'a [T],
    pub m: usize,
    pub k: usize,
    pub rs: usize,
    pub cs: usize,
}

/// `y = alpha * A x + beta * y` on the instruction set of [`isa`]. With
/// `beta == 0`, `y`'s old contents are ignored (NaN included), as BLAS specifies.
///
/// The caller has checked that every index the strides reach is in bounds.
pub(crate) fn gemv<T: Float>(alpha: T, a: Mat<'_, T>, x: Strided<'_, T>, beta: T, y: &mut [T], incy: usize) {
    gemv_on(isa(), alpha, a, x, beta, y, incy)
}

/// Whether this CPU can run the loops compiled for `isa`.
pub(crate) fn available(isa: Isa) -> bool {
    match (isa, detect()) {
        (Isa::Portable, _) | (Isa::Avx2Fma, Isa::Avx2Fma | Isa::Avx512) => true,
        (best, detected) => best == detected,
    }
}

/// [`gemv`] on a chosen instruction set, which must be [`available`].
pub(crate) fn gemv_on<T: Float>(
    isa: Isa,
    alpha: T,
    a: Mat<'_, T>,
    x: Strided<'_, T>,
    beta: T,
    y: &mut [T],
    incy: usize,
) {
    assert!(available(isa), "{isa:?} loops requested on a CPU without them");
    match isa {
        // SAFETY: checked just above that the CPU has the features.
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Avx512 => unsafe { gemv_avx512(alpha, a, x, beta, y, incy) },
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Avx2Fma => unsafe { gemv_avx2(alpha, a, x, beta, y, incy) },
        _ => gemv_body::<T, PORTABLE>(alpha, a, x, beta, y, incy),
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn gemv_avx512<T: Float>(alpha: T, a: Mat<'_, T>, x: Strided<'_, T>, beta: T, y: &mut [T], incy: usize) {
    gemv_body::<T, AVX512>(alpha, a, x, beta, y, incy)
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemv_avx2<T: Float>(alpha: T, a: Mat<'_, T>, x: Strided<'_, T>, beta: T, y: &mut [T], incy: usize) {
    gemv_body::<T, AVX2>(alpha, a, x, beta, y, incy)
}

/// The loops' instruction set, as a const parameter so each wrapper inlines its own copy.
const PORTABLE: u8 = 0;
const AVX2: u8 = 1;
const AVX512: u8 = 2;

/// `a * b + c`, fused only where the CPU has FMA: without it `mul_add` is a
/// slow library call.
#[inline(always)]
fn madd<T: Float, const V: u8>(a: T, b: T, c: T) -> T {
    if V != PORTABLE {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The loops, inlined into each instruction-set wrapper above so that the
/// compiler vectorizes them for that set.
#[inline(always)]
fn gemv_body<T: Float, const V: u8>(alpha: T, a: Mat<'_, T>, x: Strided<'_, T>, beta: T, y: &mut [T], incy: usize) {
    if a.cs == 1 && x.inc == 1 {
        rows_dot::<T, V>(alpha, a, &x.data[..a.k], beta, y, incy);
    } else if a.rs == 1 && incy == 1 {
        cols_axpy::<T, V>(alpha, a, x, beta, &mut y[..a.m]);
    } else {
        strided::<T>(alpha, a, x, beta, y, incy);
    }
}

/// `y[i] = alpha * beta_free_dot + beta * y[i]`, the BLAS rule for `beta == 0`.
#[inline(always)]
fn combine<T: Float>(alpha: T, dot: T, beta: T, y: T) -> T {
    if beta == T::zero() {
        alpha * dot
    } else {
        alpha * dot + beta * y
    }
}

/// Row-major `A`: one dot product per row.
#[inline(always)]
fn rows_dot<T: Float, const V: u8>(alpha: T, a: Mat<'_, T>, x: &[T], beta: T, y: &mut [T], incy: usize) {
    let row = |i: usize| &a.data[i * a.rs..i * a.rs + a.k];
    let mut first = 0;
    #[cfg(target_arch = "x86_64")]
    if V == AVX512 && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        // Four rows at a time: four streams from memory in flight instead of one,
        // and each load of `x` feeds four products.
        while first + 4 <= a.m {
            let dots = simd::dot4(std::array::from_fn(|r| row(first + r)), x);
            for (r, d) in dots.into_iter().enumerate() {
                let yi = &mut y[(first + r) * incy];
                *yi = combine(alpha, d, beta, *yi);
            }
            first += 4;
        }
    }
    for i in first..a.m {
        let yi = &mut y[i * incy];
        *yi = combine(alpha, dot::<T, V>(row(i), x), beta, *yi);
    }
}

/// A dot product. The compiler does not vectorize a floating-point reduction
/// (it may not reorder the sum), so the two vector instruction sets have
/// explicit kernels in [`simd`]; the portable path keeps the plain loop.
#[inline(always)]
fn dot<T: Float, const V: u8>(a: &[T], x: &[T]) -> T {
    #[cfg(target_arch = "x86_64")]
    if V != PORTABLE {
        return simd::dot(V == AVX512, a, x);
    }
    // Eight independent sums keep the adder busy (the plain loop waits on each add).
    let mut acc = [T::zero(); 8];
    let (mut ac, mut xc) = (a.chunks_exact(8), x.chunks_exact(8));
    for (ca, cx) in (&mut ac).zip(&mut xc) {
        for l in 0..8 {
            acc[l] += ca[l] * cx[l];
        }
    }
    for (l, (va, vx)) in ac.remainder().iter().zip(xc.remainder()).enumerate() {
        acc[l] += *va * *vx;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// Column-major `A`: `y = beta * y`, then `y += (alpha * x[j]) * A[:, j]`, four
/// columns per pass so that `y` is loaded and stored a quarter as often.
#[inline(always)]
fn cols_axpy<T: Float, const V: u8>(alpha: T, a: Mat<'_, T>, x: Strided<'_, T>, beta: T, y: &mut [T]) {
    let m = a.m;
    if beta == T::zero() {
        y.fill(T::zero());
    } else if beta != T::one() {
        for v in y.iter_mut() {
            *v *= beta;
        }
    }
    let col = |j: usize| &a.data[j * a.cs..j * a.cs + m];
    let s = |j: usize| alpha * x.data[j * x.inc];
    let mut j = 0;
    while j + 4 <= a.k {
        axpy4::<T, V>([s(j), s(j + 1), s(j + 2), s(j + 3)], [col(j), col(j + 1), col(j + 2), col(j + 3)], y);
        j += 4;
    }
    while j < a.k {
        axpy1::<T, V>(s(j), col(j), y);
        j += 1;
    }
}

/// `y += s[0] c[0] + s[1] c[1] + s[2] c[2] + s[3] c[3]`, each column as long as `y`.
#[inline(always)]
fn axpy4<T: Float, const V: u8>(s: [T; 4], c: [&[T]; 4], y: &mut [T]) {
    let m = y.len();
    let (c0, c1, c2, c3) = (&c[0][..m], &c[1][..m], &c[2][..m], &c[3][..m]);
    for i in 0..m {
        let v = madd::<T, V>(s[0], c0[i], y[i]);
        let v = madd::<T, V>(s[1], c1[i], v);
        let v = madd::<T, V>(s[2], c2[i], v);
        y[i] = madd::<T, V>(s[3], c3[i], v);
    }
}

/// `y += s c`, `c` as long as `y`.
#[inline(always)]
fn axpy1<T: Float, const V: u8>(s: T, c: &[T], y: &mut [T]) {
    let c = &c[..y.len()];
    for (yi, ci) in y.iter_mut().zip(c) {
        *yi = madd::<T, V>(s, *ci, *yi);
    }
}

/// `y += A x` for a column-major `A` (`y.len()` rows, `x.len()` columns, column
/// `j` at `a[j * y.len()..]`), reading only the columns whose `x[j]` is not
/// zero: after a ReLU about half of them are, and a one-sample product is bound
/// by the bytes of `A` it reads. A NaN in `x` is not zero, so it reaches `y`;
/// a non-finite entry of `A` in a skipped column does not (the caller decides
/// whether that is acceptable).
pub(crate) fn gemv_nonzero_cols<T: Float>(a: &[T], x: &[T], y: &mut [T]) {
    gemv_nonzero_cols_on(isa(), a, x, y)
}

/// [`gemv_nonzero_cols`] on a chosen instruction set, which must be [`available`].
pub(crate) fn gemv_nonzero_cols_on<T: Float>(isa: Isa, a: &[T], x: &[T], y: &mut [T]) {
    assert!(available(isa), "{isa:?} loops requested on a CPU without them");
    assert!(a.len() >= x.len() * y.len(), "matrix data too short");
    match isa {
        // SAFETY: checked just above that the CPU has the features.
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Avx512 => unsafe { nonzero_cols_avx512(a, x, y) },
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Avx2Fma => unsafe { nonzero_cols_avx2(a, x, y) },
        _ => nonzero_cols::<T, PORTABLE>(a, x, y),
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn nonzero_cols_avx512<T: Float>(a: &[T], x: &[T], y: &mut [T]) {
    nonzero_cols::<T, AVX512>(a, x, y)
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
unsafe fn nonzero_cols_avx2<T: Float>(a: &[T], x: &[T], y: &mut [T]) {
    nonzero_cols::<T, AVX2>(a, x, y)
}

/// The indices of the nonzero `x[j]` are gathered 64 inputs at a time (a
/// bit mask built without branches, then its set bits), so that zeros and
/// nonzeros in any pattern cost no mispredicted branch; the columns then go
/// four per pass over `y`, which stays in L1, as in [`cols_axpy`].
#[inline(always)]
fn nonzero_cols<T: Float, const V: u8>(a: &[T], x: &[T], y: &mut [T]) {
    const CHUNK: usize = 64;
    let m = y.len();
    let col = |j: usize| &a[j * m..j * m + m];
    // Up to three indices wait for the next chunk to fill a group of four.
    let mut pending = [0usize; CHUNK + 3];
    let mut n = 0;
    for (c, xs) in x.chunks(CHUNK).enumerate() {
        let mut mask = 0u64;
        for (l, v) in xs.iter().enumerate() {
            mask |= u64::from(*v != T::zero()) << l;
        }
        while mask != 0 {
            pending[n] = c * CHUNK + mask.trailing_zeros() as usize;
            n += 1;
            mask &= mask - 1;
        }
        let full = n / 4 * 4;
        for g in pending[..full].chunks_exact(4) {
            axpy4::<T, V>([x[g[0]], x[g[1]], x[g[2]], x[g[3]]], [col(g[0]), col(g[1]), col(g[2]), col(g[3])], y);
        }
        pending.copy_within(full..n, 0);
        n -= full;
    }
    for &j in &pending[..n] {
        axpy1::<T, V>(x[j], col(j), y);
    }
}

/// Dot products with `core::arch` intrinsics, reached only through the
/// `#[target_feature]` wrappers above, so the features they use are present.
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::any::TypeId;
    use std::arch::x86_64::*;

    use crate::Float;

    /// `sum a[i] x[i]`; `a.len() == x.len()`. Four accumulators in flight hide
    /// the FMA latency; the order of the sum is fixed, so results are repeatable.
    #[inline(always)]
    pub(super) fn dot<T: Float>(wide: bool, a: &[T], x: &[T]) -> T {
        assert_eq!(a.len(), x.len());
        // SAFETY: T is f32 or f64 (Float is sealed), checked by TypeId; the
        // caller runs on a CPU with AVX2 + FMA, and AVX-512F when `wide`.
        unsafe {
            if TypeId::of::<T>() == TypeId::of::<f32>() {
                let (a, x) = (cast::<T, f32>(a), cast::<T, f32>(x));
                T::of(f64::from(if wide { dot_f32_avx512(a, x) } else { dot_f32_avx2(a, x) }))
            } else {
                let (a, x) = (cast::<T, f64>(a), cast::<T, f64>(x));
                T::of(if wide { dot_f64_avx512(a, x) } else { dot_f64_avx2(a, x) })
            }
        }
    }

    /// Four dot products with the same `x`, for `f32` on AVX-512F (`f64` is for
    /// checking gradients, where the one-row loop does); each row as long as `x`.
    #[inline(always)]
    pub(super) fn dot4<T: Float>(rows: [&[T]; 4], x: &[T]) -> [T; 4] {
        assert!(TypeId::of::<T>() == TypeId::of::<f32>() && rows.iter().all(|r| r.len() == x.len()));
        // SAFETY: T is f32 (checked); the caller is the AVX-512 wrapper.
        unsafe {
            let rows = rows.map(|r| cast::<T, f32>(r));
            dot4_f32_avx512(rows, cast::<T, f32>(x)).map(|d| T::of(f64::from(d)))
        }
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn dot4_f32_avx512(rows: [&[f32]; 4], x: &[f32]) -> [f32; 4] {
        let n = x.len();
        let p = rows.map(|r| r.as_ptr());
        let px = x.as_ptr();
        let mut acc = [[_mm512_setzero_ps(); 2]; 4];
        // A first partial block up to a 64-byte boundary of the first row, so
        // that the full loads below do not straddle cache lines (a large
        // allocation starts 16 bytes past a page; rows of 784 or 512 floats
        // keep every row at the first row's offset).
        let mut i = ((64 - p[0] as usize % 64) % 64 / 4).min(n);
        unsafe {
            if i > 0 {
                let k: __mmask16 = ((1u32 << i) - 1) as u16;
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
                let k: __mmask16 = if n - i >= 16 { 0xffff } else { ((1u32 << (n - i)) - 1) as u16 };
                let xv = _mm512_maskz_loadu_ps(k, px.add(i));
                for r in 0..4 {
                    acc[r][0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, p[r].add(i)), xv, acc[r][0]);
                }
                i += 16;
            }
            acc.map(|[a, b]| _mm512_reduce_add_ps(_mm512_add_ps(a, b)))
        }
    }

    unsafe fn cast<T, U>(s: &[T]) -> &[U] {
        unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<U>(), s.len()) }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum256_ps(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum256_pd(v: __m256d) -> f64 {
        let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
        let s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
        _mm_cvtsd_f64(s)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_f32_avx2(a: &[f32], x: &[f32]) -> f32 {
        let n = a.len();
        let (pa, px) = (a.as_ptr(), x.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        unsafe {
            while i + 32 <= n {
                for (l, acc) in acc.iter_mut().enumerate() {
                    let o = i + 8 * l;
                    *acc = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(o)), _mm256_loadu_ps(px.add(o)), *acc);
                }
                i += 32;
            }
            while i + 8 <= n {
                acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(px.add(i)), acc[0]);
                i += 8;
            }
            let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
            let mut s = hsum256_ps(v);
            for j in i..n {
                s = a[j].mul_add(x[j], s);
            }
            s
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_f64_avx2(a: &[f64], x: &[f64]) -> f64 {
        let n = a.len();
        let (pa, px) = (a.as_ptr(), x.as_ptr());
        let mut acc = [_mm256_setzero_pd(); 4];
        let mut i = 0;
        unsafe {
            while i + 16 <= n {
                for (l, acc) in acc.iter_mut().enumerate() {
                    let o = i + 4 * l;
                    *acc = _mm256_fmadd_pd(_mm256_loadu_pd(pa.add(o)), _mm256_loadu_pd(px.add(o)), *acc);
                }
                i += 16;
            }
            while i + 4 <= n {
                acc[0] = _mm256_fmadd_pd(_mm256_loadu_pd(pa.add(i)), _mm256_loadu_pd(px.add(i)), acc[0]);
                i += 4;
            }
            let v = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
            let mut s = hsum256_pd(v);
            for j in i..n {
                s = a[j].mul_add(x[j], s);
            }
            s
        }
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn dot_f32_avx512(a: &[f32], x: &[f32]) -> f32 {
        let n = a.len();
        let (pa, px) = (a.as_ptr(), x.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        unsafe {
            while i + 64 <= n {
                for (l, acc) in acc.iter_mut().enumerate() {
                    let o = i + 16 * l;
                    *acc = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(o)), _mm512_loadu_ps(px.add(o)), *acc);
                }
                i += 64;
            }
            while i + 16 <= n {
                acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(px.add(i)), acc[0]);
                i += 16;
            }
            if i < n {
                // The last 1-15 elements through a masked load (masked-off lanes read nothing).
                let k: __mmask16 = (1u32 << (n - i)) as u16 - 1;
                let va = _mm512_maskz_loadu_ps(k, pa.add(i));
                let vx = _mm512_maskz_loadu_ps(k, px.add(i));
                acc[1] = _mm512_fmadd_ps(va, vx, acc[1]);
            }
            _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
        }
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn dot_f64_avx512(a: &[f64], x: &[f64]) -> f64 {
        let n = a.len();
        let (pa, px) = (a.as_ptr(), x.as_ptr());
        let mut acc = [_mm512_setzero_pd(); 4];
        let mut i = 0;
        unsafe {
            while i + 32 <= n {
                for (l, acc) in acc.iter_mut().enumerate() {
                    let o = i + 8 * l;
                    *acc = _mm512_fmadd_pd(_mm512_loadu_pd(pa.add(o)), _mm512_loadu_pd(px.add(o)), *acc);
                }
                i += 32;
            }
            while i + 8 <= n {
                acc[0] = _mm512_fmadd_pd(_mm512_loadu_pd(pa.add(i)), _mm512_loadu_pd(px.add(i)), acc[0]);
                i += 8;
            }
            if i < n {
                let k: __mmask8 = ((1u32 << (n - i)) - 1) as u8;
                let va = _mm512_maskz_loadu_pd(k, pa.add(i));
                let vx = _mm512_maskz_loadu_pd(k, px.add(i));
                acc[1] = _mm512_fmadd_pd(va, vx, acc[1]);
            }
            _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3])))
        }
    }
}

/// Any other layout (neither `A` nor the vector it would stream is contiguous):
/// plain loops; no layer produces this.
fn strided<T: Float>(alpha: T, a: Mat<'_, T>, x: Strided<'_, T>, beta: T, y: &mut [T], incy: usize) {
    for i in 0..a.m {
        let mut d = T::zero();
        for j in 0..a.k {
            d += a.data[i * a.rs + j * a.cs] * x.data[j * x.inc];
        }
        let yi = &mut y[i * incy];
        *yi = combine(alpha, d, beta, *yi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    const ISAS: [Isa; 3] = [Isa::Avx512, Isa::Avx2Fma, Isa::Portable];

    /// Shapes around the vector widths (8, 16, 32 lanes) and the 4-column blocks,
    /// plus the sizes of the benchmark networks.
    const SHAPES: [(usize, usize); 14] = [
        (1, 1),
        (1, 7),
        (3, 1),
        (5, 31),
        (7, 32),
        (9, 33),
        (16, 63),
        (17, 64),
        (31, 65),
        (33, 100),
        (64, 129),
        (10, 512),
        (128, 64),
        (512, 784),
    ];

    /// The product in f64 from the same (rounded) inputs, and a bound on the
    /// rounding error of any summation order in `T`.
    fn reference<T: Float>(alpha: T, a: &Mat<'_, T>, x: &Strided<'_, T>, beta: T, y0: &[T]) -> (Vec<f64>, Vec<f64>) {
        let eps = if T::BYTES == 4 { f32::EPSILON as f64 } else { f64::EPSILON };
        (0..a.m)
            .map(|i| {
                let (mut d, mut mag) = (0.0, 0.0);
                for j in 0..a.k {
                    let p = a.data[i * a.rs + j * a.cs].as_f64() * x.data[j * x.inc].as_f64();
                    d += p;
                    mag += p.abs();
                }
                let b = if beta == T::zero() { 0.0 } else { beta.as_f64() * y0[i].as_f64() };
                let tol = 2.0 * (a.k as f64 + 2.0) * eps * (alpha.as_f64().abs() * mag + b.abs()) + 1e-30;
                (alpha.as_f64() * d + b, tol)
            })
            .unzip()
    }

    fn check_all<T: Float>() {
        let mut rng = crate::seeded_rng(9);
        let mut checked = 0;
        for &(m, k) in &SHAPES {
            let a: Vec<T> = (0..m * k).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
            let x: Vec<T> = (0..k).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
            let y0: Vec<T> = (0..m).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
            let layouts = [
                ("row-major", Mat { data: &a[..], m, k, rs: k, cs: 1 }),
                ("column-major", Mat { data: &a[..], m, k, rs: 1, cs: m }),
            ];
            for (layout, mat) in layouts {
                for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
                    let (alpha, beta) = (T::of(alpha), T::of(beta));
                    let xs = Strided { data: &x[..], inc: 1 };
                    let (want, tol) = reference(alpha, &mat, &xs, beta, &y0);
                    for isa in ISAS.into_iter().filter(|i| available(*i)) {
                        // beta == 0 must ignore NaN in y (BLAS).
                        let mut y: Vec<T> = if beta == T::zero() { vec![T::of(f64::NAN); m] } else { y0.clone() };
                        gemv_on(isa, alpha, mat, xs, beta, &mut y, 1);
                        for i in 0..m {
                            let err = (y[i].as_f64() - want[i]).abs();
                            assert!(
                                err <= tol[i],
                                "{} {isa:?} {layout} {m}x{k} alpha {alpha} beta {beta} row {i}: {} vs {} (tol {})",
                                T::DTYPE,
                                y[i],
                                want[i],
                                tol[i]
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= SHAPES.len() * 2 * 3, "every shape, layout and (alpha, beta) ran at least once");
    }

    #[test]
    fn gemv_matches_f64_reference_for_every_shape_layout_and_isa_f32() {
        check_all::<f32>();
    }

    #[test]
    fn gemv_matches_f64_reference_for_every_shape_layout_and_isa_f64() {
        check_all::<f64>();
    }

    #[test]
    fn strided_vectors_take_the_general_path_and_agree() {
        // x with stride 2 under a row-major A, y with stride 3 under a column-major A.
        let (m, k) = (5, 9);
        let a: Vec<f64> = (0..m * k).map(|v| (v as f64 * 0.37).sin()).collect();
        let x: Vec<f64> = (0..2 * k).map(|v| (v as f64 * 0.11).cos()).collect();
        let xs = Strided { data: &x[..], inc: 2 };
        for mat in [Mat { data: &a[..], m, k, rs: k, cs: 1 }, Mat { data: &a[..], m, k, rs: 1, cs: m }] {
            let (want, tol) = reference(1.5, &mat, &xs, 0.0, &[0.0; 5]);
            for isa in ISAS.into_iter().filter(|i| available(*i)) {
                let mut y = vec![f64::NAN; 3 * m];
                gemv_on(isa, 1.5, mat, xs, 0.0, &mut y, 3);
                for i in 0..m {
                    assert!((y[3 * i] - want[i]).abs() <= tol[i], "{isa:?} row {i}: {} vs {}", y[3 * i], want[i]);
                    if i + 1 < m {
                        assert!(y[3 * i + 1].is_nan() && y[3 * i + 2].is_nan(), "gaps between strided y untouched");
                    }
                }
            }
        }
    }

    /// `y += A x` reading only the columns of nonzero `x[j]`, against the f64
    /// product of every column, for inputs from no zeros to all zeros.
    fn check_nonzero_cols<T: Float>() {
        use rand::seq::SliceRandom;
        let mut rng = crate::seeded_rng(10);
        let mut checked = 0;
        for (m, k) in [(1, 1), (13, 37), (5, 64), (7, 65), (16, 129), (33, 200), (10, 512), (512, 512)] {
            let a: Vec<T> = (0..m * k).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
            let y0: Vec<T> = (0..m).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
            let mat = Mat { data: &a[..], m, k, rs: 1, cs: m };
            for percent in [0, 30, 50, 90, 100] {
                let mut x: Vec<T> = (0..k).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
                let mut order: Vec<usize> = (0..k).collect();
                order.shuffle(&mut rng);
                order[..k * percent / 100].iter().for_each(|&j| x[j] = T::zero());
                let (want, tol) = reference(T::one(), &mat, &Strided { data: &x[..], inc: 1 }, T::one(), &y0);
                for isa in ISAS.into_iter().filter(|i| available(*i)) {
                    let mut y = y0.clone();
                    gemv_nonzero_cols_on(isa, &a, &x, &mut y);
                    for i in 0..m {
                        assert!(
                            (y[i].as_f64() - want[i]).abs() <= tol[i],
                            "{} {isa:?} {m}x{k} {percent} % zeros, row {i}: {} vs {}",
                            T::DTYPE,
                            y[i],
                            want[i]
                        );
                    }
                    if percent == 100 {
                        assert_eq!(y, y0, "all-zero input leaves y as it was");
                    }
                    // A NaN is not zero: it reaches every row.
                    let mut xn = x.clone();
                    xn[k / 2] = T::of(f64::NAN);
                    gemv_nonzero_cols_on(isa, &a, &xn, &mut y);
                    assert!(y.iter().all(|v| v.as_f64().is_nan()), "{isa:?} {m}x{k}: NaN input lost");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 8 * 5, "every shape and share of zeros ran at least once");
    }

    #[test]
    fn nonzero_column_products_match_f64_reference_for_every_isa_f32() {
        check_nonzero_cols::<f32>();
    }

    #[test]
    fn nonzero_column_products_match_f64_reference_for_every_isa_f64() {
        check_nonzero_cols::<f64>();
    }

    #[test]
    fn the_detected_isa_is_available() {
        assert!(available(isa()));
        assert!(available(Isa::Portable));
    }
}
