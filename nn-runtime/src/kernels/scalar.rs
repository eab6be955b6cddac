//! The scalar types `nn` computes in: [`Float`], what networks are generic
//! over, and [`Scalar`], what the kernels do differently for `f32` and `f64`,
//! in one table per type; and the logistic function in either.

#[cfg(target_arch = "aarch64")]
use std::arch::aarch64::{float32x4_t, float64x2_t};
#[cfg(target_arch = "x86")]
use std::arch::x86::{__m256, __m256d, __m512, __m512d};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m256, __m256d, __m512, __m512d};
use std::cell::RefCell;

use nalgebra::RealField;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::isa::level;
use super::isa::Vector;
use super::simd::Lanes;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::{simd, transpose, MatRef};

/// The floating-point types a network can be built for: `f32` and `f64`.
///
/// Sealed: the kernels rely on exactly these two having a tuned matrix product
/// (their side of the type, `Scalar`, lives beside it and cannot be named
/// outside `nn`).
pub trait Float:
    RealField + Copy + Default + std::fmt::Debug + std::fmt::Display + Send + Sync + Scalar + 'static
{
    /// The safetensors dtype name (`"F32"` or `"F64"`).
    const DTYPE: &'static str;
    /// Size in bytes.
    const BYTES: usize;

    /// Converts an `f64` literal or statistic into this type.
    fn of(v: f64) -> Self;
    /// Widens to `f64` (exact for both types).
    fn as_f64(self) -> f64;
    /// The IEEE little-endian bytes, as safetensors stores them.
    fn to_le_bytes_vec(self, out: &mut Vec<u8>);
    /// Reads one value from little-endian bytes (`bytes.len() == Self::BYTES`).
    fn from_le_slice(bytes: &[u8]) -> Self;
}

macro_rules! impl_float {
    ($t:ty, $name:literal) => {
        impl Float for $t {
            const DTYPE: &'static str = $name;
            const BYTES: usize = std::mem::size_of::<$t>();

            #[inline(always)]
            fn of(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn as_f64(self) -> f64 {
                self as f64
            }
            fn to_le_bytes_vec(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn from_le_slice(bytes: &[u8]) -> Self {
                let mut b = [0u8; std::mem::size_of::<$t>()];
                b.copy_from_slice(bytes);
                <$t>::from_le_bytes(b)
            }
        }
    };
}

impl_float!(f32, "F32");
impl_float!(f64, "F64");

/// The logistic function; e^x is only taken of a non-positive number, so it never overflows.
#[inline]
pub fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// The kernels' side of [`Float`], implemented for `f32` and
/// `f64` only. It is public in a private module, so nothing outside `nn` can
/// name it: this seals `Float`.
pub trait Scalar: Copy + Send + Sync + 'static {
    /// This type's vector registers with AVX2.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx2: Vector<Elem = Self, Token = level::Avx2Fma>;
    /// This type's vector registers with AVX-512F.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx512: Vector<Elem = Self, Token = level::Avx512>;
    /// This type's vector registers with NEON.
    #[cfg(target_arch = "aarch64")]
    type Neon: Vector<Elem = Self, Token = super::isa::level::Neon>;
    /// This type's "registers" of the portable level: one 128-bit register's worth.
    type Portable: Vector<Elem = Self, Token = super::isa::level::Portable>;

    /// Four dot products with the same `x`, where this type has a kernel for
    /// them ([`simd::dot4`]).
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn dot4(_level: level::Avx512, _rows: [&[Self]; 4], _x: &[Self]) -> Option<[Self; 4]> {
        None
    }

    /// `dst = src` laid out column-major (column stride `ld`), where this
    /// type has an AVX-512 register kernel for it; `false`, with `dst`
    /// untouched, where not.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn transpose_avx512(_level: level::Avx512, _src: MatRef<'_, Self>, _dst: &mut [Self], _ld: usize) -> bool {
        false
    }

    /// As [`Scalar::transpose_avx512`], with AVX2.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn transpose_avx2(_level: level::Avx2Fma, _src: MatRef<'_, Self>, _dst: &mut [Self], _ld: usize) -> bool {
        false
    }

    /// Runs `f` on this thread's buffer for the matrix product's `A` laid
    /// out column-major, kept between products so that it grows to the
    /// largest and then allocates no more. Panics if this thread is already
    /// inside `f`.
    fn with_buf<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R;

    /// Replaces every `x` by `e^x`: vectorized for `f32` (within 2 ulp), the
    /// exact scalar function for `f64`.
    fn exp_in_place(xs: &mut [Self]);
    /// Replaces every `x` by `1 / (1 + e^-x)`, as [`Scalar::exp_in_place`].
    fn sigmoid_in_place(xs: &mut [Self]);
    /// Replaces every `x` by `tanh(x)`, as [`Scalar::sigmoid_in_place`].
    fn tanh_in_place(xs: &mut [Self]);
    /// `y = sigmoid(x)` element by element, as [`Scalar::sigmoid_in_place`].
    fn sigmoid_into(x: &[Self], y: &mut [Self]);
    /// `y = tanh(x)` element by element, as [`Scalar::sigmoid_in_place`].
    fn tanh_into(x: &[Self], y: &mut [Self]);
}

thread_local! {
    static F32_BUF: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static F64_BUF: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// `f32`: the type networks train in, with the vectorized sigmoid and tanh.
impl Scalar for f32 {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx2 = __m256;
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx512 = __m512;
    #[cfg(target_arch = "aarch64")]
    type Neon = float32x4_t;
    type Portable = Lanes<f32, 4>;

    #[inline]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn dot4(level: level::Avx512, rows: [&[f32]; 4], x: &[f32]) -> Option<[f32; 4]> {
        Some(simd::dot4(level, rows, x))
    }

    #[inline]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn transpose_avx512(level: level::Avx512, src: MatRef<'_, f32>, dst: &mut [f32], ld: usize) -> bool {
        transpose::squares_avx512(level, src, dst, ld);
        true
    }

    #[inline]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn transpose_avx2(level: level::Avx2Fma, src: MatRef<'_, f32>, dst: &mut [f32], ld: usize) -> bool {
        transpose::squares_avx2(level, src, dst, ld);
        true
    }

    fn with_buf<R>(f: impl FnOnce(&mut Vec<f32>) -> R) -> R {
        F32_BUF.with_borrow_mut(f)
    }

    #[inline]
    fn exp_in_place(xs: &mut [f32]) {
        super::elementwise::exp_in_place(xs)
    }

    #[inline]
    fn sigmoid_in_place(xs: &mut [f32]) {
        super::elementwise::sigmoid_in_place(xs)
    }

    #[inline]
    fn tanh_in_place(xs: &mut [f32]) {
        super::elementwise::tanh_in_place(xs)
    }

    #[inline]
    fn sigmoid_into(x: &[f32], y: &mut [f32]) {
        super::elementwise::sigmoid_into(x, y)
    }

    #[inline]
    fn tanh_into(x: &[f32], y: &mut [f32]) {
        super::elementwise::tanh_into(x, y)
    }
}

/// `f64`: for checking gradients; the exact scalar functions.
impl Scalar for f64 {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx2 = __m256d;
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx512 = __m512d;
    #[cfg(target_arch = "aarch64")]
    type Neon = float64x2_t;
    type Portable = Lanes<f64, 2>;

    fn with_buf<R>(f: impl FnOnce(&mut Vec<f64>) -> R) -> R {
        F64_BUF.with_borrow_mut(f)
    }

    fn exp_in_place(xs: &mut [f64]) {
        xs.iter_mut().for_each(|x| *x = x.exp())
    }

    fn sigmoid_in_place(xs: &mut [f64]) {
        xs.iter_mut().for_each(|x| *x = sigmoid(*x))
    }

    fn tanh_in_place(xs: &mut [f64]) {
        xs.iter_mut().for_each(|x| *x = x.tanh())
    }

    fn sigmoid_into(x: &[f64], y: &mut [f64]) {
        y.iter_mut().zip(x).for_each(|(y, x)| *y = sigmoid(*x))
    }

    fn tanh_into(x: &[f64], y: &mut [f64]) {
        y.iter_mut().zip(x).for_each(|(y, x)| *y = x.tanh())
    }
}
