//! Residual connections: `y = x + body(x)`, and with a learned projection
//! `y = P x + body(x)` when the body changes the width.

use rand::Rng;

use super::sum_into;
use crate::layer::{visit_parts, Io};
use crate::layers::Dense;
use crate::rnn::Steps;
use crate::{batch::Batch, init::Init, kernels::Float, layer::Layer};

/// `residual { body }`: `y = x + body(x)` on `N` features.
#[derive(Clone, Debug)]
pub struct Residual<T: Float, B, const N: usize> {
    body: B,
    io: Io<T, N, N>,
}

impl<T: Float, B: Layer<T, N, N>, const N: usize> Residual<T, B, N> {
    /// `x + body(x)`.
    pub fn new(body: B) -> Self {
        Self { body, io: Io::default() }
    }
    /// The body.
    pub fn body(&self) -> &B {
        &self.body
    }
}

impl<T: Float, B: Layer<T, N, N>, const N: usize> Layer<T, N, N> for Residual<T, B, N> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        self.forward_steps(x, Steps::none())
    }

    // The body may hold recurrent items, which run over the steps.
    fn forward_steps(&mut self, x: &Batch<T, N>, steps: &Steps) -> &Batch<T, N> {
        let h = self.body.forward_steps(x, steps);
        self.io.write_output(x.ncols(), |y| sum_into(y, x.as_slice(), h.as_slice()))
    }

    // dL/dx = g + body'(x)^T g: the skip passes the gradient through unchanged.
    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        let gb = self.body.backward(g);
        self.io.write_input_grad(g.ncols(), |dx| sum_into(dx, g.as_slice(), gb.as_slice()))
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        self.predict_steps(x, Steps::none())
    }

    fn predict_steps(&self, x: &Batch<T, N>, steps: &Steps) -> Batch<T, N> {
        self.body.predict_steps(x, steps) + x
    }

    fn io(&self) -> Option<&Io<T, N, N>> {
        Some(&self.io)
    }

    visit_parts!(layers: body);
}

/// `residual(projection) { body }`: `y = P x + body(x)` from `N` to `M`
/// features, `P` a bias-free dense layer named `projection`.
#[derive(Clone, Debug)]
pub struct ResidualProjection<T: Float, B, const N: usize, const M: usize> {
    body: B,
    projection: Dense<T, N, M>,
    io: Io<T, N, M>,
}

impl<T: Float, B: Layer<T, N, M>, const N: usize, const M: usize> ResidualProjection<T, B, N, M> {
    /// The projection's weight `[M, N]` is drawn from `init`.
    pub fn new<R: Rng + ?Sized>(rng: &mut R, body: B, init: Init) -> Self {
        Self { body, projection: Dense::new(rng, init, false), io: Io::default() }
    }
    /// The body.
    pub fn body(&self) -> &B {
        &self.body
    }
    /// The projection `P`.
    pub fn projection(&self) -> &Dense<T, N, M> {
        &self.projection
    }
}

impl<T: Float, B: Layer<T, N, M>, const N: usize, const M: usize> Layer<T, N, M> for ResidualProjection<T, B, N, M> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, M> {
        self.forward_steps(x, Steps::none())
    }

    fn forward_steps(&mut self, x: &Batch<T, N>, steps: &Steps) -> &Batch<T, M> {
        let h = self.body.forward_steps(x, steps);
        let p = self.projection.forward(x);
        self.io.write_output(x.ncols(), |y| sum_into(y, p.as_slice(), h.as_slice()))
    }

    fn backward(&mut self, g: &Batch<T, M>) -> &Batch<T, N> {
        let gb = self.body.backward(g);
        let gp = self.projection.backward(g);
        self.io.write_input_grad(g.ncols(), |dx| sum_into(dx, gp.as_slice(), gb.as_slice()))
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, M> {
        self.predict_steps(x, Steps::none())
    }

    fn predict_steps(&self, x: &Batch<T, N>, steps: &Steps) -> Batch<T, M> {
        self.body.predict_steps(x, steps) + self.projection.predict(x)
    }

    fn io(&self) -> Option<&Io<T, N, M>> {
        Some(&self.io)
    }

    visit_parts!(layers: body, projection in "projection");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::test_bodies::dense_tanh;
    use crate::init::seeded_rng;
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn residual_gradients_match_finite_differences() {
        let report = grad_check(&mut LayerModel::new(Residual::new(dense_tanh::<4, 4>(1))), 3, 5);
        report.assert_below(1e-6);
        assert_eq!(report.tensors, ["0.weight", "0.bias"]);
    }

    #[test]
    fn residual_adds_input_to_body_output() {
        let mut r = Residual::new(dense_tanh::<3, 3>(2));
        let x = Batch::<f64, 3>::from_fn(2, |i, j| 0.3 * i as f64 - j as f64);
        let expected = dense_tanh::<3, 3>(2).forward(&x) + &x;
        assert_eq!(r.forward(&x), &expected);
        assert_eq!(r.predict(&x), expected);
    }

    #[test]
    fn projection_gradients_match_finite_differences() {
        let block = ResidualProjection::new(&mut seeded_rng(3), dense_tanh::<4, 6>(4), Init::XavierNormal);
        let report = grad_check(&mut LayerModel::new(block), 3, 6);
        report.assert_below(1e-6);
        assert_eq!(report.tensors, ["0.weight", "0.bias", "projection.weight"]);
    }

    #[test]
    fn projection_output_is_p_x_plus_body() {
        let mut block = ResidualProjection::new(&mut seeded_rng(5), dense_tanh::<2, 3>(6), Init::Zeros);
        // P = [[1, 0], [0, 1], [1, 1]]
        block.projection.weight_mut().copy_from_slice(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let x = Batch::<f64, 2>::from_column_slice(&[1.0, 2.0, -3.0, 0.5]);
        let px = Batch::<f64, 3>::from_column_slice(&[1.0, 2.0, 3.0, -3.0, 0.5, -2.5]);
        let expected = dense_tanh::<2, 3>(6).forward(&x) + px;
        assert_eq!(block.forward(&x), &expected);
        assert_eq!(block.predict(&x), expected);
    }
}
