//! The buffers layers keep between calls, and the resize-then-write pattern
//! that keeps a training step allocation-free.

use crate::{batch::Batch, kernels::Float};

/// The two buffers every layer and block keeps: the output of its last
/// training forward and dL/dx of its last backward. They are handed on by
/// reference (the next layer reads the output in place), shown by the
/// diagnostics hooks [`Layer::output`](crate::layer::Layer::output) and
/// [`Layer::input_grad`](crate::layer::Layer::input_grad), and resized only when the
/// batch size changes.
///
/// The output's columns are the samples of the last forward, so the `Io` is
/// also where every layer checks that a backward's dL/dy belongs to that
/// forward: [`Io::write_input_grad`] panics otherwise, and a layer that adds
/// to its parameter gradients before it writes dL/dx (or without writing it,
/// in `backward_params`) asks [`Io::grad_samples`] first. One comparison per
/// call: a gradient with fewer samples would add a wrong weight gradient, one
/// with more would read past the cached input.
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

    /// The samples of `grad`, dL/dy for the last training forward. Panics,
    /// naming both batch sizes, when `grad` has other samples than that forward.
    #[inline]
    pub fn grad_samples(&self, grad: &Batch<T, O>) -> usize {
        self.check_samples(grad.ncols());
        grad.ncols()
    }

    #[inline]
    fn check_samples(&self, cols: usize) {
        let forward = self.output.ncols();
        if cols != forward {
            let none = if forward == 0 { " (or there was none)" } else { "" };
            panic!(
                "Layer::backward: dL/dy has {cols} samples (columns) but the last training forward had \
                 {forward}{none}; give backward the gradient of the last forward's output"
            );
        }
    }

    /// As [`Io::write_output`], for dL/dx (`I` rows) of a backward for the
    /// last training forward: `cols` must be its samples (see [`Io::grad_samples`]).
    #[inline]
    pub fn write_input_grad(&mut self, cols: usize, write: impl FnOnce(&mut [T])) -> &Batch<T, I> {
        self.check_samples(cols);
        ensure_cols(&mut self.input_grad, cols);
        write(self.input_grad.as_mut_slice());
        &self.input_grad
    }

    /// As [`Io::write_input_grad`], for a layer whose derivative reads its
    /// output: `write` gets the output of the last forward beside dL/dx.
    #[inline]
    pub fn write_input_grad_from_output(&mut self, cols: usize, write: impl FnOnce(&[T], &mut [T])) -> &Batch<T, I> {
        self.check_samples(cols);
        ensure_cols(&mut self.input_grad, cols);
        write(self.output.as_slice(), self.input_grad.as_mut_slice());
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

/// Copies a dynamic view (as [`Model`](crate::model::Model) methods receive) into a
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

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(samples: usize) -> Io<f64, 2, 2> {
        let mut io = Io::default();
        io.write_output(samples, |y| y.fill(1.0));
        io
    }

    #[test]
    fn a_gradient_of_the_forward_samples_passes() {
        let mut io = forwarded(3);
        assert_eq!(io.grad_samples(&Batch::zeros(3)), 3);
        assert_eq!(io.write_input_grad(3, |dx| dx.fill(2.0)).as_slice(), &[2.0; 6]);
    }

    #[test]
    #[should_panic(expected = "dL/dy has 2 samples (columns) but the last training forward had 3;")]
    fn fewer_samples_than_the_forward_panic() {
        forwarded(3).grad_samples(&Batch::zeros(2));
    }

    #[test]
    #[should_panic(expected = "dL/dy has 4 samples (columns) but the last training forward had 3;")]
    fn more_samples_than_the_forward_panic_before_writing() {
        forwarded(3).write_input_grad(4, |_| unreachable!("nothing is written"));
    }

    #[test]
    #[should_panic(expected = "the last training forward had 0 (or there was none)")]
    fn a_backward_without_forward_panics() {
        Io::<f64, 2, 2>::default().write_input_grad(1, |_| {});
    }
}
