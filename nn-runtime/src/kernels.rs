//! Non-generic-in-shape numerics. Layer types fix shapes and own buffers;
//! the arithmetic lives here, generic only over the scalar type, so a deep
//! network does not compile one copy of each kernel per layer width.
//!
//! # Layout
//!
//! - [`Mat`] (`kernels/mat.rs`): the one matrix descriptor, for operands,
//!   results, vectors and tiles.
//! - `kernels/isa.rs`: which instruction set runs ([`isa`], [`with_isa`]) and
//!   the one dispatcher. A kernel is written once, generic over the
//!   instruction set, and the dispatcher compiles it for each.
//! - `kernels/scalar.rs`: what differs between `f32` and `f64` (which vector
//!   registers, which sigmoid, which buffer).
//! - `kernels/simd.rs`: vector registers as one trait, for AVX-512, AVX2,
//!   NEON and plain arrays, and the dot product written once for all.
//! - `kernels/gemm.rs` (the matrix product), `kernels/dot.rs` (products
//!   of contiguous rows by contiguous columns, [`gemm_dots`]), `kernels/gemv.rs`
//!   (matrix-vector loops), `kernels/transpose.rs` (column-major copies),
//!   `kernels/pool.rs` (threads for large products, [`threads`],
//!   [`with_threads`]), `kernels/elementwise.rs` (`f32` sigmoid and tanh),
//!   `kernels/pooling.rs` (max and average pooling), `kernels/im2col.rs`
//!   (a convolution's patch matrix and its adjoint), `kernels/batch_norm.rs`
//!   (the per-channel passes of batch normalization).
//!
//! # Products and threads
//!
//! Every product, `f32` and `f64`, on every instruction set, goes to `nn`'s
//! own kernels: matrix-vector loops for one column or row, else the tiled
//! product of `kernels/gemm.rs`, which packs nothing it can read in place and
//! keeps its one buffer per thread, so a training step allocates nothing after
//! the first. The thread count is [`threads`]: `MATMUL_NUM_THREADS` (read
//! once, at the first product of the process), default the number of cores;
//! `MATMUL_NUM_THREADS=1` keeps `nn` on one core. With more, products of at
//! least 2^20 multiply-adds are split into parts of at least 2^19 over that
//! many threads (`kernels/pool.rs`); the result does not depend on the count.
//! Without the `threads` feature (on by default) products run on the calling
//! thread and `MATMUL_NUM_THREADS` is ignored.
//! Matrix-vector products ([`gemv`]) always run on the calling thread.

use std::cell::Cell;
use std::thread::LocalKey;

mod aligned;
mod batch_norm;
mod dot;
mod elementwise;
mod f32x16;
mod gemm;
mod gemv;
mod im2col;
mod isa;
mod mat;
mod pool;
mod pooling;
mod scalar;
mod simd;
mod transpose;
mod window;

pub(crate) use aligned::Aligned;
pub(crate) use batch_norm::{batch_norm_train, grad_sums};
pub(crate) use gemv::gemv_nonzero_cols;
pub(crate) use im2col::{col2im, col2im_wide, im2col, spread_wide, Wide};
pub(crate) use isa::{dispatch, Kernel, Level};
pub use isa::{isa, with_isa, Isa};
use mat::Product;
pub use mat::{Mat, MatMut, MatRef};
pub(crate) use pool::{over_samples, sample_parts, Pieces};
pub use pool::{threads, with_threads, MAX_THREADS};
pub(crate) use pooling::{avg_pool, avg_pool_backward, max_pool, max_pool_backward, Argmax};
pub use scalar::{sigmoid, Float};
pub use window::Window2d;

/// `c = alpha * a * b + beta * c`. With `beta == 0`, `c`'s old contents are ignored
/// (NaN included), as BLAS specifies.
///
/// A product with one column (or one row) goes to the matrix-vector loops of
/// [`gemv`]; everything else to the tiled product (see the module docs).
///
/// Panics if the shapes disagree: callers are the layer types, whose shapes are
/// fixed at compile time, so a mismatch here is a bug in `nn`, not in user input.
pub fn gemm<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: MatMut<'_, T>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let product = Product::new(alpha, a, b, beta, c);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // BLAS semantics: c = beta * c, and beta == 0 clears NaN.
        scale_mat(beta, product.c);
        return;
    }
    dispatch(product)
}

/// As [`gemm`], for `a` whose rows and `b` whose columns are contiguous
/// (unit column and row stride, checked): each element of `c` is one dot
/// product, summed in registers along the inner dimension and read in place,
/// which suits a long inner dimension and a small `c` (a convolution's weight
/// gradient). `c` may have any strides. Each element is summed in one order
/// whatever the thread count, but not in [`gemm`]'s.
pub fn gemm_dots<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: MatMut<'_, T>) {
    gemm_dots_sum(alpha, a, b, (1, 0, 0), beta, c)
}

/// `c = alpha sum_s a_s b_s + beta c` for `s` in `0..count`, where `a_s` and
/// `b_s` are `a` and `b` moved `s * a_step` and `s * b_step` elements on in
/// their slices, which must hold them (checked), as [`gemm_dots`]: a 1x1
/// convolution's weight gradient, `sum_s g_s x_s^T` over the samples.
pub fn gemm_dots_sum<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    (count, a_step, b_step): (usize, usize, usize),
    beta: T,
    c: MatMut<'_, T>,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(a.cs == 1 && b.rs == 1 || k <= 1, "gemm_dots reads rows of a and columns of b as contiguous vectors");
    if count > 1 && m > 0 && k > 0 && n > 0 {
        let last =
            |mat: MatRef<'_, T>, step: usize| (count - 1) * step + (mat.rows - 1) * mat.rs + (mat.cols - 1) * mat.cs;
        assert!(last(a, a_step) < a.data.len() && last(b, b_step) < b.data.len(), "gemm_dots_sum: data too short");
    }
    let product = Product::new(alpha, a, b, beta, c);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || count == 0 {
        scale_mat(beta, product.c);
        return;
    }
    dispatch(Dots(product, dot::Segments { count, a_step, b_step }))
}

/// The arguments of [`gemm_dots_sum`], as a kernel.
struct Dots<'a, T>(Product<'a, T>, dot::Segments);

impl<T: Float> Kernel for Dots<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, level: L) {
        dot::dots(level, self.0, self.1)
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
    let (x, y) = (MatRef::col_major(x, a.cols, 1), MatMut::col_major(y, a.rows, 1));
    dispatch(Product::new(alpha, a, x, beta, y))
}

/// A product goes to the matrix-vector loops when it has one column or one
/// row, else to the tiled product when `c` has a unit stride.
impl<T: Float> Kernel for Product<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, level: L) {
        if self.c.cols == 1 {
            gemv::gemv(level, self)
        } else if self.c.rows == 1 {
            // c^T = b^T a^T: a matrix-vector product with b^T.
            gemv::gemv(level, self.t())
        } else if self.c.rs == 1 || self.c.cs == 1 {
            gemm::gemm(level, self)
        } else {
            strided(self)
        }
    }
}

/// A product into a `c` with no unit stride (no layer makes one): plain loops.
fn strided<T: Float>(product: Product<'_, T>) {
    let Product { alpha, a, b, beta, c } = product;
    for j in 0..c.cols {
        for i in 0..c.rows {
            let dot = (0..a.cols).fold(T::zero(), |s, p| s + a.at(i, p) * b.at(p, j));
            let v = &mut c.data[i * c.rs + j * c.cs];
            *v = if beta == T::zero() { alpha * dot } else { alpha * dot + beta * *v };
        }
    }
}

/// `dst` (resized to `rows * cols`) = the row-major `rows x cols` matrix `src`,
/// laid out column-major (`kernels/transpose.rs`).
pub(crate) fn transpose_row_major<T: Float>(src: &[T], rows: usize, cols: usize, dst: &mut Vec<T>) {
    let src = MatRef::row_major(src, rows, cols);
    dst.resize(rows * cols, T::zero());
    dispatch(Transpose { src, dst })
}

/// The arguments of [`transpose_row_major`], as a kernel.
struct Transpose<'a, T> {
    src: MatRef<'a, T>,
    dst: &'a mut [T],
}

impl<T: Float> Kernel for Transpose<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, level: L) {
        transpose::transpose_into(level, self.src, self.dst, self.src.rows)
    }
}

/// Runs `f` with the thread-local `cell` set to `value`, then puts the
/// previous value back, also when `f` panics: [`with_isa`] and [`with_threads`].
fn scoped<V: Copy + 'static, R>(cell: &'static LocalKey<Cell<V>>, value: V, f: impl FnOnce() -> R) -> R {
    /// Puts the previous value back when dropped.
    struct Restore<V: Copy + 'static>(&'static LocalKey<Cell<V>>, V);
    impl<V: Copy + 'static> Drop for Restore<V> {
        fn drop(&mut self) {
            self.0.set(self.1);
        }
    }
    let _restore = Restore(cell, cell.replace(value));
    f()
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
    if !bias.is_empty() {
        dispatch(AddBiasRows { y, bias })
    }
}

/// `acc[i] += sum_j g[i, j]` for the column-major `rows x cols` matrix `g`.
pub fn add_row_sums<T: Float>(acc: &mut [T], g: &[T]) {
    if !acc.is_empty() {
        dispatch(AddRowSums { acc, g })
    }
}

// The two loops above run through `dispatch` so that they use the CPU's
// widest vectors rather than the baseline's four lanes (a W1 step with AVX2
// spent 2 % in them). Each element gets the same single addition, in the
// same order, on every level.

/// The arguments of [`add_bias_rows`], as a kernel.
struct AddBiasRows<'a, T> {
    y: &'a mut [T],
    bias: &'a [T],
}

impl<T: Float> Kernel for AddBiasRows<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        for col in self.y.chunks_exact_mut(self.bias.len()) {
            for (v, b) in col.iter_mut().zip(self.bias) {
                *v += *b;
            }
        }
    }
}

/// The arguments of [`add_row_sums`], as a kernel.
struct AddRowSums<'a, T> {
    acc: &'a mut [T],
    g: &'a [T],
}

impl<T: Float> Kernel for AddRowSums<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        // Rows in blocks of 32, each block's sums kept in registers across
        // the columns (one load and one store per block, not per column);
        // every sum still starts at `acc[i]` and adds the columns in order.
        const BLOCK: usize = 32;
        let rows = self.acc.len();
        let mut blocks = self.acc.chunks_exact_mut(BLOCK);
        for (b, acc) in blocks.by_ref().enumerate() {
            let mut sums: [T; BLOCK] = acc.try_into().expect("a whole block");
            for col in self.g.chunks_exact(rows) {
                for (s, v) in sums.iter_mut().zip(&col[b * BLOCK..(b + 1) * BLOCK]) {
                    *s += *v;
                }
            }
            acc.copy_from_slice(&sums);
        }
        let (rest, done) = (blocks.into_remainder(), rows / BLOCK * BLOCK);
        for col in self.g.chunks_exact(rows) {
            for (a, v) in rest.iter_mut().zip(&col[done..]) {
                *a += *v;
            }
        }
    }
}

/// Element `(i, j)` of `alpha A B + beta C` in f64 from the same inputs
/// (`c` is `C`'s old element, ignored with `beta == 0`), and the rounding
/// bound of any summation order in `T`: what the tests of every product
/// kernel hold their results to.
#[cfg(test)]
pub(crate) fn f64_element<T: Float>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    (i, j): (usize, usize),
    alpha: f64,
    beta: f64,
    c: T,
) -> (f64, f64) {
    let eps = if T::BYTES == 4 { f64::from(f32::EPSILON) } else { f64::EPSILON };
    let (mut dot, mut mag) = (0.0, 0.0);
    for p in 0..a.cols() {
        let v = a.at(i, p).as_f64() * b.at(p, j).as_f64();
        dot += v;
        mag += v.abs();
    }
    let old = if beta == 0.0 { 0.0 } else { beta * c.as_f64() };
    let k = a.cols() as f64;
    (alpha * dot + old, 2.0 * (k + 2.0) * eps * (alpha.abs() * mag + old.abs()) + 1e-30)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bias rows and row sums on every level, for row counts below, at and
    /// past the row sums' 32-row blocks, against plain loops, bit for bit.
    #[test]
    fn bias_rows_and_row_sums_give_the_bits_of_plain_loops_on_every_isa() {
        let mut checked = 0;
        for &isa in Isa::ALL.iter().filter(|i| i.available()) {
            for rows in [1, 10, 32, 45, 128] {
                for cols in [0, 1, 3] {
                    let value = |i: usize, seed: usize| ((i * 7 + seed) % 13) as f32 * 0.37 - 2.1;
                    let bias: Vec<f32> = (0..rows).map(|i| value(i, 1)).collect();
                    let g: Vec<f32> = (0..rows * cols).map(|i| value(i, 5) * 1e-3).collect();
                    let mut y = g.clone();
                    with_isa(isa, || add_bias_rows(&mut y, &bias));
                    let want: Vec<f32> = g.iter().enumerate().map(|(i, v)| v + bias[i % rows]).collect();
                    assert_eq!(y, want, "{isa:?} bias rows {rows}x{cols}");
                    let mut acc = bias.clone();
                    with_isa(isa, || add_row_sums(&mut acc, &g));
                    let mut want = bias.clone();
                    for (i, v) in g.iter().enumerate() {
                        want[i % rows] += v;
                    }
                    assert_eq!(
                        acc.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        "{isa:?} row sums {rows}x{cols}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 15);
    }

    #[test]
    fn transpose_row_major_lays_out_columns_for_both_scalar_types() {
        // 16x16 blocks and ragged edges; f32 takes the register path on x86 CPUs with AVX2.
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
    fn public_gemv_matches_the_tiled_product() {
        let (m, k) = (23, 41);
        let a: Vec<f32> = (0..m * k).map(|v| ((v * 3 % 17) as f32 - 8.0) / 16.0).collect();
        let x: Vec<f32> = (0..k).map(|v| ((v % 7) as f32 - 3.0) / 2.0).collect();
        // Two columns [x, x] go through the tiled product; its first column is the reference.
        let xx: Vec<f32> = x.iter().chain(&x).copied().collect();
        let mut c = vec![0.0f32; m * 2];
        gemm(1.0, MatRef::row_major(&a, m, k), MatRef::col_major(&xx, k, 2), 0.0, MatMut::col_major(&mut c, m, 2));
        let mut y = vec![f32::NAN; m];
        gemv(1.0, MatRef::row_major(&a, m, k), &x, 0.0, &mut y);
        assert_eq!(y, c[..m]);
    }
}
