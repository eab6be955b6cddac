//! Dense connection: the input is kept and the body's output appended,
//! `y = [x; body(x)]` (DenseNet style).

use super::{add_assign, put_rows, take_rows};
use crate::layer::{empty, ensure_cols};
use crate::{Batch, Float, Layer, Visit, VisitMut};

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
    y: Batch<T, O>,
    gb: Batch<T, M>,
    dx: Batch<T, N>,
}

impl<T: Float, B: Layer<T, N, M>, const N: usize, const M: usize, const O: usize> Concat<T, B, N, M, O> {
    pub fn new(body: B) -> Self {
        const { assert!(O == N + M, "concat: output width must be input width + body width") };
        Self { body, y: empty(), gb: empty(), dx: empty() }
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
        ensure_cols(&mut self.y, x.ncols());
        put_rows(self.y.as_mut_slice(), O, 0, x.as_slice(), N);
        put_rows(self.y.as_mut_slice(), O, N, self.body.forward(x).as_slice(), M);
        &self.y
    }

    fn backward(&mut self, g: &Batch<T, O>) -> &Batch<T, N> {
        let n = g.ncols();
        ensure_cols(&mut self.gb, n);
        ensure_cols(&mut self.dx, n);
        take_rows(g.as_slice(), O, N, self.gb.as_mut_slice(), M);
        take_rows(g.as_slice(), O, 0, self.dx.as_mut_slice(), N);
        add_assign(self.dx.as_mut_slice(), self.body.backward(&self.gb).as_slice());
        &self.dx
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, O> {
        let mut y = empty();
        ensure_cols(&mut y, x.ncols());
        put_rows(y.as_mut_slice(), O, 0, x.as_slice(), N);
        put_rows(y.as_mut_slice(), O, N, self.body.predict(x).as_slice(), M);
        y
    }

    fn output(&self) -> Option<&Batch<T, O>> {
        Some(&self.y)
    }

    fn input_grad(&self) -> Option<&Batch<T, N>> {
        Some(&self.dx)
    }

    fn visit(&self, v: &mut dyn Visit<T>) {
        self.body.visit(v);
    }

    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        self.body.visit_mut(v);
    }

    fn freeze_randomness(&mut self, frozen: bool) {
        self.body.freeze_randomness(frozen);
    }
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
