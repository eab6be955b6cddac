//! Auxiliary head (deep supervision, as in GoogLeNet): a side branch that maps
//! an intermediate activation to the network's output, trained by its own loss.

use nalgebra::DMatrixView;

use super::sum_into;
use crate::layer::{copy_batch, empty, view_into_batch, visit_parts, Io};
use crate::{batch::Batch, error::ShapeError, kernels::Float, layer::Layer};

/// `aux_head(weight = w) { body }`: the identity on the main path (`N -> N`);
/// in training it also runs `body: N -> O` and keeps the head's output, whose
/// loss gradient (already times `w`) the trainer hands back with [`AuxHead::set_grad`].
#[derive(Clone, Debug)]
pub struct AuxHead<T: Float, B, const N: usize, const O: usize> {
    body: B,
    weight: f64,
    out: Batch<T, O>,
    head_grad: Option<Batch<T, O>>,
    // Kept when the gradient is consumed, so the next step reuses its storage.
    spare: Batch<T, O>,
    io: Io<T, N, N>,
}

impl<T: Float, B: Layer<T, N, O>, const N: usize, const O: usize> AuxHead<T, B, N, O> {
    /// `weight` multiplies the head's loss in the total loss.
    pub fn new(body: B, weight: f64) -> Self {
        Self { body, weight, out: empty(), head_grad: None, spare: empty(), io: Io::default() }
    }
    /// The head's output from the last training forward (`Layer::output` is
    /// the main path's, which is the input).
    pub fn output(&self) -> &Batch<T, O> {
        &self.out
    }
    /// The loss weight.
    pub fn weight(&self) -> f64 {
        self.weight
    }
    /// The body.
    pub fn body(&self) -> &B {
        &self.body
    }

    /// Stores dL/d(head output) for the next backward, which uses it once.
    /// It must have `O` rows and the batch size of the last forward.
    pub fn set_grad(&mut self, grad: &DMatrixView<'_, T>) -> Result<(), ShapeError> {
        if grad.nrows() != O {
            return Err(ShapeError::Width { what: "auxiliary head gradient", expected: O, found: grad.nrows() });
        }
        if grad.ncols() != self.out.ncols() {
            return Err(ShapeError::BatchSize { forward: self.out.ncols(), backward: grad.ncols() });
        }
        let mut buf = self.head_grad.take().unwrap_or_else(|| std::mem::replace(&mut self.spare, empty()));
        view_into_batch(grad, &mut buf);
        self.head_grad = Some(buf);
        Ok(())
    }
}

impl<T: Float, B: Layer<T, N, O>, const N: usize, const O: usize> Layer<T, N, N> for AuxHead<T, B, N, O> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        copy_batch(&mut self.out, self.body.forward(x));
        self.io.write_output(x.ncols(), |y| y.copy_from_slice(x.as_slice()))
    }

    // dL/dx = g + body'(x)^T dL/dhead when the trainer set a head gradient.
    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        let head_grad = self.head_grad.take();
        let body_grad = head_grad.as_ref().map(|hg| self.body.backward(hg));
        self.io.write_input_grad(g.ncols(), |dx| match body_grad {
            Some(gb) => sum_into(dx, g.as_slice(), gb.as_slice()),
            None => dx.copy_from_slice(g.as_slice()),
        });
        if let Some(hg) = head_grad {
            self.spare = hg;
        }
        self.io.input_grad()
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        x.clone()
    }

    fn io(&self) -> Option<&Io<T, N, N>> {
        Some(&self.io)
    }

    visit_parts!(layers: body);
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;
    use crate::blocks::test_bodies::{dense_tanh, DenseTanh};
    use crate::testing::grad_check;
    use crate::{
        layer::{Visit, VisitMut},
        model::Model,
    };

    /// `dense(4), tanh, aux_head { dense(2), tanh }, dense(3), tanh` from 3 features,
    /// with the aux-head hooks of [`Model`] (which `LayerModel` does not forward).
    struct AuxNet {
        pre: DenseTanh<3, 4>,
        aux: AuxHead<f64, DenseTanh<4, 2>, 4, 2>,
        post: DenseTanh<4, 3>,
    }

    impl AuxNet {
        fn new() -> Self {
            Self { pre: dense_tanh(1), aux: AuxHead::new(dense_tanh(2), 0.3), post: dense_tanh(3) }
        }
    }

    impl Model<f64> for AuxNet {
        const INPUT: usize = 3;
        const OUTPUT: usize = 3;
        const NAME: &'static str = "AuxNet";
        fn visit(&self, v: &mut dyn Visit<f64>) {
            crate::layer::visit_in(v, "0", |v| self.pre.visit(v));
            crate::layer::visit_in(v, "1", |v| self.aux.visit(v));
            crate::layer::visit_in(v, "2", |v| self.post.visit(v));
        }
        fn visit_mut(&mut self, v: &mut dyn VisitMut<f64>) {
            crate::layer::visit_mut_in(v, "0", |v| self.pre.visit_mut(v));
            crate::layer::visit_mut_in(v, "1", |v| self.aux.visit_mut(v));
            crate::layer::visit_mut_in(v, "2", |v| self.post.visit_mut(v));
        }
        fn forward_view(&mut self, x: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
            let mut b = empty::<f64, 3>();
            view_into_batch(&x, &mut b);
            let h = self.pre.forward(&b);
            let h = self.aux.forward(h);
            Ok(self.post.forward(h).as_view())
        }
        fn backward_view(&mut self, grad: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
            let mut g = empty::<f64, 3>();
            view_into_batch(&grad, &mut g);
            let g = self.post.backward(&g);
            let g = self.aux.backward(g);
            Ok(self.pre.backward(g).as_view())
        }
        fn predict_view(&self, x: DMatrixView<'_, f64>) -> Result<DMatrix<f64>, ShapeError> {
            let mut b = empty::<f64, 3>();
            view_into_batch(&x, &mut b);
            let y = self.post.predict(&self.aux.predict(&self.pre.predict(&b)));
            Ok(DMatrix::from_column_slice(3, y.ncols(), y.as_slice()))
        }
        fn aux_heads(&self) -> usize {
            1
        }
        fn aux_output(&self, i: usize) -> Option<(f64, DMatrixView<'_, f64>)> {
            (i == 0).then(|| (self.aux.weight(), self.aux.output().as_view()))
        }
        fn set_aux_grad(&mut self, i: usize, grad: DMatrixView<'_, f64>) -> Result<(), ShapeError> {
            match i {
                0 => self.aux.set_grad(&grad),
                _ => Err(ShapeError::NoSuchAuxHead { index: i, heads: 1 }),
            }
        }
    }

    #[test]
    fn gradients_with_a_head_gradient_match_finite_differences() {
        let mut net = AuxNet::new();
        let report = grad_check(&mut net, 3, 12);
        report.assert_below(1e-6);
        assert_eq!(report.tensors, ["0.0.weight", "0.0.bias", "1.0.weight", "1.0.bias", "2.0.weight", "2.0.bias"]);
    }

    #[test]
    fn without_a_head_gradient_the_block_is_the_identity_both_ways() {
        let mut head = AuxHead::new(dense_tanh::<2, 3>(4), 0.5);
        let x = Batch::<f64, 2>::from_column_slice(&[1.0, -1.0, 0.5, 2.0]);
        assert_eq!(head.forward(&x), &x);
        assert_eq!(head.output(), dense_tanh::<2, 3>(4).forward(&x));
        assert_eq!(head.predict(&x), x);
        let g = Batch::<f64, 2>::from_column_slice(&[0.1, 0.2, 0.3, 0.4]);
        assert_eq!(head.backward(&g), &g);
        // A head gradient is used once, then cleared.
        head.forward(&x);
        head.set_grad(&DMatrix::from_element(3, 2, 1.0).as_view()).unwrap();
        assert_ne!(head.backward(&g), &g);
        assert_eq!(head.backward(&g), &g);
    }

    #[test]
    fn head_gradient_of_the_wrong_shape_is_an_error() {
        let mut head = AuxHead::new(dense_tanh::<2, 3>(5), 0.5);
        head.forward(&Batch::<f64, 2>::zeros(4));
        assert_eq!(
            head.set_grad(&DMatrix::zeros(2, 4).as_view()),
            Err(ShapeError::Width { what: "auxiliary head gradient", expected: 3, found: 2 })
        );
        assert_eq!(
            head.set_grad(&DMatrix::zeros(3, 5).as_view()),
            Err(ShapeError::BatchSize { forward: 4, backward: 5 })
        );
    }
}
