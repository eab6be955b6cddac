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
/// Sealed: the kernels rely on exactly these two having a tuned matrix product
/// (their side of the type, `Scalar`, lives in `kernels` and cannot be named
/// outside `nn`).
pub trait Float:
    RealField + Copy + Default + std::fmt::Debug + std::fmt::Display + Send + Sync + crate::kernels::Scalar + 'static
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
