//! [`Mat`], the one matrix descriptor of the kernels: operands of products,
//! vectors (one column), blocks of a product's tiles.

use std::ops::Deref;

/// A `rows x cols` matrix in borrowed storage `D` (`&[T]`, or `&mut [T]` for
/// a result): element `(i, j)` is `data[i * rs + j * cs]`. Transposing is
/// swapping the strides, so `W^T x` needs no copy; a vector is one column.
///
/// Every constructor checks that the last element lies inside `data`, so the
/// kernels may index it without checks (`unsafe` code relies on this).
#[derive(Clone, Copy, Debug)]
pub struct Mat<D> {
    pub(super) data: D,
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) rs: usize,
    pub(super) cs: usize,
}

/// A borrowed matrix.
pub type MatRef<'a, T> = Mat<&'a [T]>;
/// A mutable matrix, the result of a product.
pub type MatMut<'a, T> = Mat<&'a mut [T]>;

/// Elements from the first to one past the last, or 0 for an empty matrix.
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

impl<T, D: Deref<Target = [T]>> Mat<D> {
    /// A column-major `rows x cols` matrix (nalgebra's layout).
    pub fn col_major(data: D, rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, 1, rows)
    }

    /// A row-major `rows x cols` matrix (PyTorch's layout).
    pub fn row_major(data: D, rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// Element `(i, j)` at `data[i * rs + j * cs]`: any layout, such as a
    /// block of a larger matrix. Panics if an element lies outside `data`.
    pub fn strided(data: D, rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        assert!(extent(rows, cols, rs, cs) <= data.len(), "matrix data too short");
        Self { data, rows, cols, rs, cs }
    }

    /// The transpose, without copying.
    pub fn t(self) -> Self {
        Self { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
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

impl<T> Mat<&[T]> {
    /// The `rows x cols` block whose first element is `(i, j)` (for the product's tiles).
    pub(super) fn block(self, i: usize, j: usize, rows: usize, cols: usize) -> Self {
        assert!(i + rows <= self.rows && j + cols <= self.cols, "block outside the matrix");
        // A nonempty block starts at an element of the matrix, so inside `data`,
        // and ends where the matrix does at the latest.
        let start = if rows == 0 || cols == 0 { 0 } else { i * self.rs + j * self.cs };
        Self { data: &self.data[start..], rows, cols, ..self }
    }
}

/// `c = alpha a b + beta c`: the arguments of a product, with shapes that
/// agree (checked when built).
pub struct Product<'a, T> {
    pub(super) alpha: T,
    pub(super) a: MatRef<'a, T>,
    pub(super) b: MatRef<'a, T>,
    pub(super) beta: T,
    pub(super) c: MatMut<'a, T>,
}

impl<'a, T> Product<'a, T> {
    /// Panics if the shapes disagree.
    pub(super) fn new(alpha: T, a: MatRef<'a, T>, b: MatRef<'a, T>, beta: T, c: MatMut<'a, T>) -> Self {
        assert!(b.rows == a.cols && c.rows == a.rows && c.cols == b.cols, "product shape mismatch");
        Self { alpha, a, b, beta, c }
    }

    /// The same product transposed, `c^T = alpha b^T a^T + beta c^T`.
    pub(super) fn t(self) -> Self {
        Self { a: self.b.t(), b: self.a.t(), c: self.c.t(), ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::catch_unwind;

    #[test]
    fn a_descriptor_reaching_past_its_slice_is_refused() {
        let data = [0.0f32; 12];
        // 3 x 4 with row stride 4: the last element is data[11], the slice's last.
        assert_eq!(MatRef::strided(&data[..], 3, 4, 4, 1).at(2, 3), 0.0);
        assert!(catch_unwind(|| MatRef::strided(&data[..11], 3, 4, 4, 1)).is_err());
        assert!(catch_unwind(|| MatRef::strided(&data[..], 3, 4, 5, 1)).is_err());
        assert!(catch_unwind(|| MatRef::col_major(&data[..], 4, 4)).is_err());
        // Empty matrices need no data.
        assert_eq!(MatRef::<f32>::row_major(&[], 0, 7).rows(), 0);
    }

    #[test]
    fn blocks_see_the_elements_of_their_matrix_and_of_its_transpose() {
        let data: Vec<f64> = (0..20).map(f64::from).collect();
        let m = MatRef::row_major(&data[..], 4, 5);
        let t = m.t();
        assert_eq!((t.rows(), t.cols()), (5, 4));
        let b = m.block(1, 2, 3, 2);
        for i in 0..3 {
            for j in 0..2 {
                assert_eq!(b.at(i, j), m.at(1 + i, 2 + j));
                assert_eq!(b.at(i, j), t.at(2 + j, 1 + i));
            }
        }
        assert_eq!(m.block(4, 5, 0, 0).rows(), 0);
        assert!(catch_unwind(|| m.block(2, 0, 3, 1)).is_err());
        assert!(catch_unwind(|| m.block(0, 4, 1, 2)).is_err());
    }

    #[test]
    fn a_product_of_disagreeing_shapes_is_refused() {
        let (a, b) = ([1.0f32; 6], [1.0f32; 8]);
        let mut c = [0.0f32; 12];
        let (am, bm) = (MatRef::col_major(&a[..], 3, 2), MatRef::col_major(&b[..], 2, 4));
        let t = Product::new(1.0, am, bm, 0.0, MatMut::col_major(&mut c[..], 3, 4)).t();
        // c^T = b^T a^T: 4 x 3 = (4 x 2)(2 x 3).
        assert_eq!((t.a.rows, t.a.cols, t.b.rows, t.b.cols, t.c.rows, t.c.cols), (4, 2, 2, 3, 4, 3));
        assert!(catch_unwind(|| {
            let mut c = [0.0f32; 12];
            Product::new(1.0, bm, am, 0.0, MatMut::col_major(&mut c[..], 3, 4));
        })
        .is_err());
    }
}
