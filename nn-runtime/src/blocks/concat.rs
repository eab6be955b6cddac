//! Dense connection: the input is kept and the body's output appended,
//! `y = [x; body(x)]` (DenseNet style).

use super::{add_assign, put_rows, take_rows};
use crate::layer::{empty, ensure_cols, visit_parts, Io};
use crate::{batch::Batch, kernels::Float, layer::Layer};

/// `concat { body }`: `N -> O = N + M`, body `N -> M`. `O` is checked when
/// the code is compiled:
///
/// ```compile_fail,E0080
/// use nn_runtime::{seeded_rng, Concat, Dense, Init};
///
/// let dense = Dense::<f64, 4, 3>::new(&mut seeded_rng(0), Init::HeNormal, true);
/// let block: Concat<f64, _, 4, 3, 8> = Concat::new(dense);
/// ```
#[derive(Clone, Debug)]
pub struct Concat<T: Float, B, const N: usize, const M: usize, const O: usize> {
    body: B,
    /// The body's part of dL/dy.
    gb: Batch<T, M>,
    io: Io<T, N, O>,
}

impl<T: Float, B: Layer<T, N, M>, const N: usize, const M: usize, const O: usize> Concat<T, B, N, M, O> {
    /// The input with `body`'s output stacked below it.
    pub fn new(body: B) -> Self {
        const { assert!(O == N + M, "concat: output width must be input width + body width") };
        Self { body, gb: empty(), io: Io::default() }
    }
    /// The body.
    pub fn body(&self) -> &B {
        &self.body
    }
}

impl<T: Float, B: Layer<T, N, M>, const N: usize, const M: usize, const O: usize> Layer<T, N, O>
    for Concat<T, B, N, M, O>
{
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, O> {
        let h = self.body.forward(x);
        self.io.write_output(x.ncols(), |y| stack::<T, N, M, O>(x.as_slice(), h.as_slice(), y))
    }

    fn backward(&mut self, g: &Batch<T, O>) -> &Batch<T, N> {
        let n = g.ncols();
        ensure_cols(&mut self.gb, n);
        take_rows(g.as_slice(), O, N, self.gb.as_mut_slice(), M);
        let gx = self.body.backward(&self.gb);
        self.io.write_input_grad(n, |dx| {
            take_rows(g.as_slice(), O, 0, dx, N);
            add_assign(dx, gx.as_slice());
        })
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, O> {
        let mut y = Batch::zeros(x.ncols());
        stack::<T, N, M, O>(x.as_slice(), self.body.predict(x).as_slice(), y.as_mut_slice());
        y
    }

    fn io(&self) -> Option<&Io<T, N, O>> {
        Some(&self.io)
    }

    visit_parts!(layers: body);
}

/// `y = [x; h]`, column by column.
fn stack<T: Float, const N: usize, const M: usize, const O: usize>(x: &[T], h: &[T], y: &mut [T]) {
    put_rows(y, O, 0, x, N);
    put_rows(y, O, N, h, M);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::test_bodies::dense_tanh;
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn gradients_match_finite_differences() {
        let block: Concat<f64, _, 3, 4, 7> = Concat::new(dense_tanh::<3, 4>(1));
        let report = grad_check(&mut LayerModel::new(block), 3, 2);
        report.assert_below(1e-6);
        assert_eq!(report.tensors, ["0.weight", "0.bias"]);
    }

    #[test]
    fn output_stacks_input_over_body_output() {
        let mut block: Concat<f64, _, 2, 3, 5> = Concat::new(dense_tanh::<2, 3>(3));
        let x = Batch::<f64, 2>::from_column_slice(&[1.0, -1.0, 0.25, 4.0]);
        let h = dense_tanh::<2, 3>(3).forward(&x).clone();
        let y = block.forward(&x).clone();
        for j in 0..2 {
            assert_eq!(y.fixed_view::<2, 1>(0, j), x.column(j));
            assert_eq!(y.fixed_view::<3, 1>(2, j), h.column(j));
        }
        assert_eq!(block.predict(&x), y);
    }
}
