//! Two layers in sequence, for hand-written networks and tests (the macro
//! generates its own sequential structs).

use std::marker::PhantomData;

use crate::layer::visit_parts;
use crate::{batch::Batch, kernels::Float, layer::Layer};

/// `a` then `b`: `I -> M -> O`. Visits `a` under `"0"` and `b` under `"1"`,
/// as an `nn.Sequential` of the two.
#[derive(Clone, Debug)]
pub struct Chain<T, A, B, const I: usize, const M: usize, const O: usize> {
    a: A,
    b: B,
    _t: PhantomData<T>,
}

impl<T: Float, A: Layer<T, I, M>, B: Layer<T, M, O>, const I: usize, const M: usize, const O: usize>
    Chain<T, A, B, I, M, O>
{
    /// `a` then `b`.
    pub fn new(a: A, b: B) -> Self {
        Self { a, b, _t: PhantomData }
    }
    /// The first layer.
    pub fn first(&self) -> &A {
        &self.a
    }
    /// The second layer.
    pub fn second(&self) -> &B {
        &self.b
    }
    /// The first layer, for editing.
    pub fn first_mut(&mut self) -> &mut A {
        &mut self.a
    }
    /// The second layer, for editing.
    pub fn second_mut(&mut self) -> &mut B {
        &mut self.b
    }
}

impl<T: Float, A: Layer<T, I, M>, B: Layer<T, M, O>, const I: usize, const M: usize, const O: usize> Layer<T, I, O>
    for Chain<T, A, B, I, M, O>
{
    fn forward(&mut self, x: &Batch<T, I>) -> &Batch<T, O> {
        let h = self.a.forward(x);
        self.b.forward(h)
    }

    fn backward(&mut self, g: &Batch<T, O>) -> &Batch<T, I> {
        let gh = self.b.backward(g);
        self.a.backward(gh)
    }

    fn predict(&self, x: &Batch<T, I>) -> Batch<T, O> {
        self.b.predict(&self.a.predict(x))
    }

    fn output(&self) -> Option<&Batch<T, O>> {
        self.b.output()
    }

    fn input_grad(&self) -> Option<&Batch<T, I>> {
        self.a.input_grad()
    }

    visit_parts!(layers: a in "0", b in "1");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::test_bodies::dense_tanh;
    use crate::model::Model;
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn gradients_match_finite_differences() {
        let chain = Chain::new(dense_tanh::<4, 5>(1), dense_tanh::<5, 3>(2));
        let mut m = LayerModel::new(chain);
        let report = grad_check(&mut m, 3, 11);
        report.assert_below(1e-6);
        assert_eq!(report.tensors, ["0.0.weight", "0.0.bias", "1.0.weight", "1.0.bias"]);
    }

    #[test]
    fn predict_equals_training_forward_of_the_two_layers() {
        let mut chain = Chain::new(dense_tanh::<2, 3>(3), dense_tanh::<3, 2>(4));
        let x = Batch::<f64, 2>::from_fn(4, |i, j| i as f64 - 0.5 * j as f64);
        let mut a = dense_tanh::<2, 3>(3);
        let mut b = dense_tanh::<3, 2>(4);
        let expected = b.forward(a.forward(&x)).clone();
        assert_eq!(chain.forward(&x), &expected);
        assert_eq!(chain.predict(&x), expected);
        assert_eq!(LayerModel::new(chain).parameter_count(), 2 * 3 + 3 + 3 * 2 + 2);
    }
}
