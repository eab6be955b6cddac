//! The scalar types `nn` computes in, and the batch type every layer speaks.

use nalgebra::{Const, Dyn, OMatrix, RealField};

/// A batch of samples with `N` features each: one column per sample, the
/// feature count fixed at compile time and the batch size chosen at run time.
///
/// The `Dyn` column dimension is what sends products to `matrixmultiply`
/// rather than nalgebra's baseline loops (see DESIGN.md, performance model).
pub type Batch<T, const N: usize> = OMatrix<T, Const<N>, Dyn>;

/// The floating-point types a network can be built for: `f32` and `f64`.
///
/// Sealed: the kernels rely on exactly these two having a tuned matrix product.
pub trait Float:
    RealField + Copy + Default + std::fmt::Debug + std::fmt::Display + Send + Sync + sealed::Sealed + 'static
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

    /// Replaces every `x` by `1 / (1 + e^-x)`: vectorized for `f32` (within
    /// 2 ulp), the exact scalar formula for `f64`.
    #[doc(hidden)]
    fn sigmoid_in_place(xs: &mut [Self]);
    /// Replaces every `x` by `tanh(x)`, as [`Float::sigmoid_in_place`].
    #[doc(hidden)]
    fn tanh_in_place(xs: &mut [Self]);

    /// `C = alpha * A * B + beta * C` with arbitrary strides: `nn`'s own kernel
    /// for `f32` on AVX-512 CPUs when `C` has a unit stride, else `matrixmultiply`.
    ///
    /// # Safety
    /// The pointers and strides must describe matrices of the given sizes that lie
    /// inside their allocations; `c` must not alias `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    #[doc(hidden)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

macro_rules! impl_float {
    ($t:ty, $name:literal, $gemm:path, $sigmoid:expr, $tanh:expr) => {
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
            fn sigmoid_in_place(xs: &mut [Self]) {
                $sigmoid(xs)
            }
            fn tanh_in_place(xs: &mut [Self]) {
                $tanh(xs)
            }
            unsafe fn gemm_raw(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                // SAFETY: forwarded; the caller upholds the layout contract.
                unsafe { $gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
            }
        }
    };
}

impl_float!(f32, "F32", crate::kernels::sgemm, crate::kernels::sigmoid_in_place, crate::kernels::tanh_in_place);
impl_float!(
    f64,
    "F64",
    matrixmultiply::dgemm,
    |xs: &mut [f64]| xs.iter_mut().for_each(|x| *x = crate::layers::sigmoid(*x)),
    |xs: &mut [f64]| xs.iter_mut().for_each(|x| *x = x.tanh())
);
