//! [`Scalar`]: what the kernels do differently for `f32` and `f64`, in one
//! table per type.

#[cfg(target_arch = "x86")]
use std::arch::x86::{__m256, __m256d, __m512, __m512d};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m256, __m256d, __m512, __m512d};

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::isa::level;
use super::isa::Level;
use super::mat::Product;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::simd::{self, Vector};
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::MatRef;

/// The kernels' side of [`Float`](crate::Float), implemented for `f32` and
/// `f64` only. It is public in a private module, so nothing outside `nn` can
/// name it: this seals `Float`.
pub trait Scalar: Copy + Send + Sync + 'static {
    /// This type's vector registers with AVX2.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx2: Vector<Elem = Self, Token = level::Avx2Fma>;
    /// This type's vector registers with AVX-512F.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx512: Vector<Elem = Self, Token = level::Avx512>;

    /// A product with more than one row and column, on `level`.
    fn product<L: Level>(level: L, product: Product<'_, Self>);

    /// Four dot products with the same `x`, where this type has a kernel for
    /// them ([`simd::dot4`]).
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn dot4(_level: level::Avx512, _rows: [&[Self]; 4], _x: &[Self]) -> Option<[Self; 4]> {
        None
    }

    /// `dst = src` laid out column-major, where this type has a register
    /// kernel for it; `false`, with `dst` untouched, where not.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn transpose(_level: level::Avx512, _src: MatRef<'_, Self>, _dst: &mut [Self]) -> bool {
        false
    }

    /// Replaces every `x` by `1 / (1 + e^-x)`: vectorized for `f32` (within
    /// 2 ulp), the exact scalar formula for `f64`.
    fn sigmoid_in_place(xs: &mut [Self]);
    /// Replaces every `x` by `tanh(x)`, as [`Scalar::sigmoid_in_place`].
    fn tanh_in_place(xs: &mut [Self]);
}

/// `f32`: the type networks train in, with the own kernels.
impl Scalar for f32 {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx2 = __m256;
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx512 = __m512;

    /// The own kernel on AVX-512 when `C` has a unit stride (it writes along
    /// `C`'s columns, or along its rows as `C^T`), else matrixmultiply.
    #[cfg_attr(not(any(target_arch = "x86", target_arch = "x86_64")), allow(unused_variables))]
    fn product<L: Level>(level: L, product: Product<'_, f32>) {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if let Some(avx512) = level.avx512() {
            if product.c.rs == 1 || product.c.cs == 1 {
                return super::sgemm::sgemm(avx512, product, super::pair::threads() > 1);
            }
        }
        matrixmultiply(matrixmultiply::sgemm, product)
    }

    #[inline]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn dot4(level: level::Avx512, rows: [&[f32]; 4], x: &[f32]) -> Option<[f32; 4]> {
        Some(simd::dot4(level, rows, x))
    }

    #[inline]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn transpose(level: level::Avx512, src: MatRef<'_, f32>, dst: &mut [f32]) -> bool {
        super::sgemm::transpose_into(level, src, dst);
        true
    }

    #[inline]
    fn sigmoid_in_place(xs: &mut [f32]) {
        super::elementwise::sigmoid_in_place(xs)
    }

    #[inline]
    fn tanh_in_place(xs: &mut [f32]) {
        super::elementwise::tanh_in_place(xs)
    }
}

/// `f64`: for checking gradients; matrixmultiply and the exact scalar functions.
impl Scalar for f64 {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx2 = __m256d;
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx512 = __m512d;

    fn product<L: Level>(_: L, product: Product<'_, f64>) {
        matrixmultiply(matrixmultiply::dgemm, product)
    }

    fn sigmoid_in_place(xs: &mut [f64]) {
        xs.iter_mut().for_each(|x| *x = crate::layers::sigmoid(*x))
    }

    fn tanh_in_place(xs: &mut [f64]) {
        xs.iter_mut().for_each(|x| *x = x.tanh())
    }
}

/// matrixmultiply's product for one scalar type (`sgemm` or `dgemm`): sizes
/// `m, k, n`, then `alpha`, `A` with its row and column stride, `B` with its,
/// `beta`, `C` with its.
type MatrixMultiply<T> =
    unsafe fn(usize, usize, usize, T, *const T, isize, isize, *const T, isize, isize, T, *mut T, isize, isize);

/// `c = alpha a b + beta c` through matrixmultiply, which packs both operands
/// (allocating a buffer per call) and may use several threads.
fn matrixmultiply<T>(gemm: MatrixMultiply<T>, product: Product<'_, T>) {
    let Product { alpha, a, b, beta, c } = product;
    let s = |stride: usize| stride as isize;
    // SAFETY: each descriptor's elements lie inside its slice (checked when it
    // was built) and the shapes agree (checked when the product was built), so
    // matrixmultiply reads and writes only inside `a`, `b` and `c`; `c` is a
    // unique borrow, so it aliases neither operand.
    unsafe {
        gemm(
            a.rows,
            a.cols,
            b.cols,
            alpha,
            a.data.as_ptr(),
            s(a.rs),
            s(a.cs),
            b.data.as_ptr(),
            s(b.rs),
            s(b.cs),
            beta,
            c.data.as_mut_ptr(),
            s(c.rs),
            s(c.cs),
        )
    }
}
