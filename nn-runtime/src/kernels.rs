//! Non-generic-in-shape numerics. Layer types fix shapes and own buffers;
//! the arithmetic lives here, generic only over the scalar type, so a deep
//! network does not compile one copy of each kernel per layer width.

use crate::Float;

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
    // SAFETY: extents checked above; `c` is a unique borrow so it aliases nothing.
    unsafe {
        T::gemm_raw(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.data.as_mut_ptr(),
            c.rs as isize,
            c.cs as isize,
        )
    }
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
}
