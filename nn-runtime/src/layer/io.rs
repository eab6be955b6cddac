//! The buffers layers keep between calls, and the resize-then-write pattern
//! that keeps a training step allocation-free.

use crate::{Batch, Float};

/// The two buffers every layer and block keeps: the output of its last
/// training forward and dL/dx of its last backward. They are handed on by
/// reference (the next layer reads the output in place), shown by the
/// diagnostics hooks [`Layer::output`](crate::Layer::output) and
/// [`Layer::input_grad`](crate::Layer::input_grad), and resized only when the
/// batch size changes.
///
/// A layer states its math as a closure that writes a whole batch:
///
/// ```
/// use nn_runtime::{Batch, Io};
///
/// let mut io = Io::<f64, 2, 2>::default();
/// let x = Batch::<f64, 2>::from_column_slice(&[1.0, -2.0, 3.0, -4.0]);
/// let y = io.write_output(x.ncols(), |y| {
///     for (y, x) in y.iter_mut().zip(x.as_slice()) {
///         *y = x.max(0.0);
///     }
/// });
/// assert_eq!(y.as_slice(), &[1.0, 0.0, 3.0, 0.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Io<T: Float, const I: usize, const O: usize> {
    output: Batch<T, O>,
    input_grad: Batch<T, I>,
}

impl<T: Float, const I: usize, const O: usize> Default for Io<T, I, O> {
    /// Both buffers empty (zero columns).
    fn default() -> Self {
        Self { output: empty(), input_grad: empty() }
    }
}

impl<T: Float, const I: usize, const O: usize> Io<T, I, O> {
    /// Resizes the output to `cols` samples, lets `write` fill it (column-major,
    /// `O` rows; it holds the last batch's values, so `write` sets every one)
    /// and returns it.
    #[inline]
    pub fn write_output(&mut self, cols: usize, write: impl FnOnce(&mut [T])) -> &Batch<T, O> {
        ensure_cols(&mut self.output, cols);
        write(self.output.as_mut_slice());
        &self.output
    }

    /// As [`Io::write_output`], for dL/dx (`I` rows).
    #[inline]
    pub fn write_input_grad(&mut self, cols: usize, write: impl FnOnce(&mut [T])) -> &Batch<T, I> {
        ensure_cols(&mut self.input_grad, cols);
        write(self.input_grad.as_mut_slice());
        &self.input_grad
    }

    /// The output of the last training forward.
    pub fn output(&self) -> &Batch<T, O> {
        &self.output
    }

    /// dL/dx of the last backward.
    pub fn input_grad(&self) -> &Batch<T, I> {
        &self.input_grad
    }
}

/// Resizes `buf` to `cols` columns if needed, keeping its allocation: only a
/// batch larger than any before allocates, so steps whose batches vary in
/// size (sequences of different lengths, packed) allocate nothing once the
/// buffers have grown to the largest. After a resize the values are stale:
/// callers write every one.
#[inline]
pub fn ensure_cols<T: Float, const N: usize>(buf: &mut Batch<T, N>, cols: usize) {
    if buf.ncols() != cols {
        let mut data: Vec<T> = std::mem::replace(buf, empty()).data.into();
        data.resize(N * cols, T::zero());
        *buf = Batch::<T, N>::from_vec_generic(nalgebra::Const::<N>, nalgebra::Dyn(cols), data);
    }
}

/// Copies `x` into `buf`, resizing it if needed.
#[inline]
pub fn copy_batch<T: Float, const N: usize>(buf: &mut Batch<T, N>, x: &Batch<T, N>) {
    ensure_cols(buf, x.ncols());
    buf.as_mut_slice().copy_from_slice(x.as_slice());
}

/// Copies a dynamic view (as [`Model`](crate::Model) methods receive) into a
/// static batch buffer, resizing it if needed. The view must have `N` rows.
pub fn view_into_batch<T: Float, const N: usize>(v: &nalgebra::DMatrixView<'_, T>, buf: &mut Batch<T, N>) {
    ensure_cols(buf, v.ncols());
    for (j, col) in v.column_iter().enumerate() {
        buf.column_mut(j).copy_from(&col);
    }
}

/// An empty batch (zero columns): the starting state of every buffer.
pub fn empty<T: Float, const N: usize>() -> Batch<T, N> {
    Batch::<T, N>::zeros_generic(nalgebra::Const::<N>, nalgebra::Dyn(0))
}
