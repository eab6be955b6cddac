//! Non-generic-in-shape numerics. Layer types fix shapes and own buffers;
//! the arithmetic lives here, generic only over the scalar type, so a deep
//! network does not compile one copy of each kernel per layer width.
//!
//! # Products and threads
//!
//! `f32` products with more than one column and row go to `nn`'s own kernel
//! on CPUs with AVX-512F (`kernels/sgemm.rs`: no packing of the operands that
//! are already laid out for it, per-thread buffers that are reused, so a
//! training step allocates nothing); `f64` products, and `f32` on other CPUs,
//! go to `matrixmultiply`, built with its `threading` feature. The thread
//! count is the environment variable `MATMUL_NUM_THREADS` (read once, at the
//! first product of the process), default the number of cores;
//! `MATMUL_NUM_THREADS=1` keeps `nn` on one core. With two or more, the own
//! kernel shares products of at least 2^20 multiply-adds with one helper
//! thread (`kernels/pair.rs`), and matrixmultiply splits products with
//! `m k + k n` of at least 2 * 16384. Matrix-vector products ([`gemv`])
//! always run on the calling thread.

use crate::Float;

mod elementwise;
mod gemv;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod pair;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod sgemm;

pub(crate) use elementwise::{sigmoid_in_place, tanh_in_place};
pub(crate) use gemv::gemv_nonzero_cols;
pub use gemv::{isa, Isa};

/// A borrowed matrix with explicit strides (row stride, column stride).
///
/// Transposing is swapping strides, so `W^T x` needs no copy.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// A mutable matrix with explicit strides.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

impl<'a, T> MatRef<'a, T> {
    /// A column-major `rows x cols` matrix (nalgebra's layout).
    pub fn col_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix data too short");
        Self { data, rows, cols, rs: 1, cs: rows }
    }
    /// A row-major `rows x cols` matrix (PyTorch's layout).
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix data too short");
        Self { data, rows, cols, rs: cols, cs: 1 }
    }
    /// The transpose, without copying.
    pub fn t(self) -> Self {
        Self { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Element `(i, j)`.
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> T
    where
        T: Copy,
    {
        self.data[i * self.rs + j * self.cs]
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A column-major `rows x cols` matrix (nalgebra's layout).
    pub fn col_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix data too short");
        Self { data, rows, cols, rs: 1, cs: rows }
    }
    /// A row-major `rows x cols` matrix (PyTorch's layout).
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix data too short");
        Self { data, rows, cols, rs: cols, cs: 1 }
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
}

/// `c = alpha * a * b + beta * c`. With `beta == 0`, `c`'s old contents are ignored
/// (NaN included), as BLAS specifies.
///
/// A product with one column (or one row) goes to the matrix-vector loops of
/// [`gemv`]; everything else to [`Float::gemm_raw`] (see the module docs).
///
/// Panics if the shapes disagree: callers are the layer types, whose shapes are
/// fixed at compile time, so a mismatch here is a bug in `nn`, not in user input.
pub fn gemm<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: MatMut<'_, T>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && c.rows == m && c.cols == n, "gemm shape mismatch");
    assert!(extent(a.rows, a.cols, a.rs, a.cs) <= a.data.len());
    assert!(extent(b.rows, b.cols, b.rs, b.cs) <= b.data.len());
    assert!(extent(c.rows, c.cols, c.rs, c.cs) <= c.data.len());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // matrixmultiply handles k == 0, but BLAS semantics for beta == 0 must clear NaN.
        scale_mat(beta, c);
        return;
    }
    if n == 1 {
        let a = gemv::Mat { data: a.data, m, k, rs: a.rs, cs: a.cs };
        let x = gemv::Strided { data: b.data, inc: b.rs };
        return gemv::gemv(alpha, a, x, beta, c.data, c.rs);
    }
    if m == 1 {
        // c^T = b^T a^T: a matrix-vector product with b transposed.
        let bt = gemv::Mat { data: b.data, m: n, k, rs: b.cs, cs: b.rs };
        let x = gemv::Strided { data: a.data, inc: a.cs };
        return gemv::gemv(alpha, bt, x, beta, c.data, c.cs);
    }
    let (a_ptr, b_ptr, c_ptr) = (a.data.as_ptr(), b.data.as_ptr(), c.data.as_mut_ptr());
    let (rsa, csa, rsb, csb, rsc, csc) =
        (a.rs as isize, a.cs as isize, b.rs as isize, b.cs as isize, c.rs as isize, c.cs as isize);
    // SAFETY: extents checked above; `c` is a unique borrow so it aliases nothing.
    unsafe { T::gemm_raw(m, k, n, alpha, a_ptr, rsa, csa, b_ptr, rsb, csb, beta, c_ptr, rsc, csc) }
}

/// The threads products may use: `MATMUL_NUM_THREADS` (read once; it also
/// sets matrixmultiply's), else the number of cores. One without the
/// `threads` feature.
#[cfg(feature = "threads")]
fn threads() -> usize {
    use std::sync::OnceLock;
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("MATMUL_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

#[cfg(not(feature = "threads"))]
fn threads() -> usize {
    1
}

/// [`Float::gemm_raw`] for `f32`: the own AVX-512 kernel when the CPU has it
/// and `C` has a unit stride, else matrixmultiply.
///
/// # Safety
/// As [`Float::gemm_raw`].
#[allow(clippy::too_many_arguments)]
#[doc(hidden)]
pub unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if isa() == Isa::Avx512 {
        let (sa, sb) = (sgemm::Strided { ptr: a, rs: rsa, cs: csa }, sgemm::Strided { ptr: b, rs: rsb, cs: csb });
        // SAFETY: AVX-512F present (`isa`); the rest is the caller's contract.
        if unsafe { sgemm::sgemm(m, k, n, alpha, sa, sb, beta, c, rsc, csc, threads() > 1) } {
            return;
        }
    }
    // SAFETY: the caller's contract.
    unsafe { matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
}

/// `dst` (resized to `rows * cols`) = the row-major `rows x cols` matrix `src`,
/// laid out column-major. The one blocked transpose of the crate: `f32` on
/// AVX-512 goes 16x16 blocks at a time through registers (the own product's
/// routine for its row-major operands), everything else through 16x16 blocks of
/// plain copies (element by element, every write would go to another cache line).
pub(crate) fn transpose_row_major<T: Float>(src: &[T], rows: usize, cols: usize, dst: &mut Vec<T>) {
    assert!(src.len() >= rows * cols, "transpose of a matrix larger than its slice");
    dst.resize(rows * cols, T::zero());
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if isa() == Isa::Avx512 && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        // SAFETY: T is f32 (checked), so the casts are identities; AVX-512F is present
        // (`isa`); `src` covers rows x cols row-major (asserted).
        unsafe {
            let dst = &mut *(dst as *mut Vec<T>).cast::<Vec<f32>>();
            let a = sgemm::Strided { ptr: src.as_ptr().cast::<f32>(), rs: cols as isize, cs: 1 };
            sgemm::transpose_into(dst, rows, cols, a);
        }
        return;
    }
    for i0 in (0..rows).step_by(16) {
        for j0 in (0..cols).step_by(16) {
            for i in i0..(i0 + 16).min(rows) {
                for j in j0..(j0 + 16).min(cols) {
                    dst[i + j * rows] = src[i * cols + j];
                }
            }
        }
    }
}

/// `y = alpha * a x + beta * y` for contiguous vectors `x` (length `a.cols()`) and
/// `y` (length `a.rows()`). With `beta == 0`, `y`'s old contents are ignored (NaN
/// included), as BLAS specifies.
///
/// Reads `a` once in its storage order (dot products for a row-major `a`, column
/// updates for a column-major one) with the widest vector instructions this CPU
/// has ([`isa`]). Panics if the lengths disagree (a bug in `nn`, as for [`gemm`]).
pub fn gemv<T: Float>(alpha: T, a: MatRef<'_, T>, x: &[T], beta: T, y: &mut [T]) {
    assert!(x.len() == a.cols && y.len() == a.rows, "gemv length mismatch");
    assert!(extent(a.rows, a.cols, a.rs, a.cs) <= a.data.len());
    let a = gemv::Mat { data: a.data, m: a.rows, k: a.cols, rs: a.rs, cs: a.cs };
    gemv::gemv(alpha, a, gemv::Strided { data: x, inc: 1 }, beta, y, 1);
}

fn scale_mat<T: Float>(beta: T, c: MatMut<'_, T>) {
    for j in 0..c.cols {
        for i in 0..c.rows {
            let v = &mut c.data[i * c.rs + j * c.cs];
            *v = if beta == T::zero() { T::zero() } else { *v * beta };
        }
    }
}

/// Adds `bias[i]` to every element of row `i` of the column-major `rows x cols` matrix `y`.
pub fn add_bias_rows<T: Float>(y: &mut [T], bias: &[T]) {
    let rows = bias.len();
    if rows == 0 {
        return;
    }
    for col in y.chunks_exact_mut(rows) {
        for (v, b) in col.iter_mut().zip(bias) {
            *v += *b;
        }
    }
}

/// `acc[i] += sum_j g[i, j]` for the column-major `rows x cols` matrix `g`.
pub fn add_row_sums<T: Float>(acc: &mut [T], g: &[T]) {
    let rows = acc.len();
    if rows == 0 {
        return;
    }
    for col in g.chunks_exact(rows) {
        for (a, v) in acc.iter_mut().zip(col) {
            *a += *v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_row_major_lays_out_columns_for_both_scalar_types() {
        // 16x16 blocks and ragged edges; f32 takes the register path on AVX-512 CPUs.
        for (rows, cols) in [(1, 1), (3, 5), (16, 16), (37, 20), (512, 128)] {
            let src: Vec<f64> = (0..rows * cols).map(|v| v as f64 * 0.5 - 3.0).collect();
            let want: Vec<f64> = (0..rows * cols).map(|p| src[(p % rows) * cols + p / rows]).collect();
            let mut dst = vec![f64::NAN; 3];
            transpose_row_major(&src, rows, cols, &mut dst);
            assert_eq!(dst, want, "f64 {rows}x{cols}");
            let src32: Vec<f32> = src.iter().map(|v| *v as f32).collect();
            let mut dst32 = Vec::new();
            transpose_row_major(&src32, rows, cols, &mut dst32);
            assert!(dst32.iter().zip(&want).all(|(a, b)| f64::from(*a) == *b), "f32 {rows}x{cols}");
        }
    }

    #[test]
    fn gemm_transposed_operands_match_naive_product() {
        // a: 2x3 row-major, b: 3x2 column-major, c = a^T^T b
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut c = [f64::NAN; 4];
        gemm(1.0, MatRef::row_major(&a, 2, 3), MatRef::col_major(&b, 3, 2), 0.0, MatMut::col_major(&mut c, 2, 2));
        // row 0 of a = [1,2,3]; col 0 of b = [7,8,9] -> 50; col 1 = [10,11,12] -> 68
        // row 1 = [4,5,6] -> 122, 167
        assert_eq!(c, [50.0, 122.0, 68.0, 167.0]);
        // transpose view: a^T is 3x2; a^T^T == a
        let mut d = [0.0; 4];
        gemm(
            1.0,
            MatRef::row_major(&a, 2, 3).t().t(),
            MatRef::col_major(&b, 3, 2),
            0.0,
            MatMut::col_major(&mut d, 2, 2),
        );
        assert_eq!(c, d);
    }

    #[test]
    fn gemm_with_empty_inner_dimension_clears_nan_when_beta_is_zero() {
        let mut c = [f32::NAN; 4];
        gemm(1.0, MatRef::col_major(&[], 2, 0), MatRef::col_major(&[], 0, 2), 0.0, MatMut::col_major(&mut c, 2, 2));
        assert_eq!(c, [0.0; 4]);
    }

    /// Naive `alpha * a b + beta * c` in f64.
    fn naive(
        alpha: f64,
        a: MatRef<'_, f64>,
        b: MatRef<'_, f64>,
        beta: f64,
        c0: &[f64],
        c_rs: usize,
        c_cs: usize,
    ) -> Vec<f64> {
        let (m, n) = (a.rows(), b.cols());
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let d: f64 = (0..a.cols()).map(|l| a.at(i, l) * b.at(l, j)).sum();
                let old = if beta == 0.0 { 0.0 } else { beta * c0[i * c_rs + j * c_cs] };
                out[i + j * m] = alpha * d + old;
            }
        }
        out
    }

    #[test]
    fn gemm_with_one_column_or_one_row_matches_naive_product_in_every_layout() {
        let mut checked = 0;
        for (m, k, n) in [(37, 19, 1), (1, 19, 37), (64, 128, 1), (1, 128, 64), (1, 5, 1)] {
            let a: Vec<f64> = (0..m * k).map(|v| ((v * 7 % 13) as f64 - 6.0) / 8.0).collect();
            let b: Vec<f64> = (0..k * n).map(|v| ((v * 5 % 11) as f64 - 5.0) / 4.0).collect();
            for a_rows in [true, false] {
                for b_rows in [true, false] {
                    for c_rows in [true, false] {
                        let ar = if a_rows { MatRef::row_major(&a, m, k) } else { MatRef::col_major(&a, m, k) };
                        let br = if b_rows { MatRef::row_major(&b, k, n) } else { MatRef::col_major(&b, k, n) };
                        let (c_rs, c_cs) = if c_rows { (n, 1) } else { (1, m) };
                        for (alpha, beta) in [(1.0, 0.0), (0.5, 2.0)] {
                            let c0: Vec<f64> = (0..m * n).map(|v| v as f64 * 0.25).collect();
                            let mut c = if beta == 0.0 { vec![f64::NAN; m * n] } else { c0.clone() };
                            let cm =
                                if c_rows { MatMut::row_major(&mut c, m, n) } else { MatMut::col_major(&mut c, m, n) };
                            gemm(alpha, ar, br, beta, cm);
                            let want = naive(alpha, ar, br, beta, &c0, c_rs, c_cs);
                            for i in 0..m {
                                for j in 0..n {
                                    let got = c[i * c_rs + j * c_cs];
                                    // Inputs are multiples of 1/8 and 1/4: every path is exact.
                                    assert_eq!(
                                        got,
                                        want[i + j * m],
                                        "{m}x{k}x{n} a_rows {a_rows} b_rows {b_rows} c_rows {c_rows} ({i}, {j})"
                                    );
                                }
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 8 * 2);
    }

    #[test]
    fn public_gemv_matches_gemm_through_matrixmultiply() {
        let (m, k) = (23, 41);
        let a: Vec<f32> = (0..m * k).map(|v| ((v * 3 % 17) as f32 - 8.0) / 16.0).collect();
        let x: Vec<f32> = (0..k).map(|v| ((v % 7) as f32 - 3.0) / 2.0).collect();
        // Two columns [x, x] go through matrixmultiply; its first column is the reference.
        let xx: Vec<f32> = x.iter().chain(&x).copied().collect();
        let mut c = vec![0.0f32; m * 2];
        gemm(1.0, MatRef::row_major(&a, m, k), MatRef::col_major(&xx, k, 2), 0.0, MatMut::col_major(&mut c, m, 2));
        let mut y = vec![f32::NAN; m];
        gemv(1.0, MatRef::row_major(&a, m, k), &x, 0.0, &mut y);
        assert_eq!(y, c[..m]);
    }
}
