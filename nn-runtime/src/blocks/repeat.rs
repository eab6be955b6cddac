//! `repeat(k) { body }`: `K` copies of the body in sequence, each with its own parameters.

use std::marker::PhantomData;

use crate::layer::{visit_in, visit_mut_in};
use crate::rnn::Steps;
use crate::{
    batch::Batch,
    kernels::Float,
    layer::{Layer, Visit, VisitMut},
};

/// `K >= 1` copies of a body `N -> N`, chained; copy `c` is visited under `"c"`.
#[derive(Clone, Debug)]
pub struct Repeat<T, B, const N: usize, const K: usize> {
    // On the heap: K copies of a large body would not fit on a thread's stack.
    copies: Vec<B>,
    // Precomputed because optimizers visit every step and visiting must not allocate.
    names: Vec<String>,
    _t: PhantomData<T>,
}

impl<T: Float, B: Layer<T, N, N>, const N: usize, const K: usize> Repeat<T, B, N, K> {
    /// Builds copy `c` with `make(c)`, for `c` in `0..K`.
    pub fn from_fn(make: impl FnMut(usize) -> B) -> Self {
        const { assert!(K >= 1, "repeat: needs at least one copy") };
        Self { copies: (0..K).map(make).collect(), names: (0..K).map(|c| c.to_string()).collect(), _t: PhantomData }
    }
    /// The copies, in order.
    pub fn copies(&self) -> &[B] {
        &self.copies
    }
}

impl<T: Float, B: Layer<T, N, N>, const N: usize, const K: usize> Layer<T, N, N> for Repeat<T, B, N, K> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        self.forward_steps(x, Steps::none())
    }

    // The body may hold recurrent items, which run over the steps.
    fn forward_steps(&mut self, x: &Batch<T, N>, steps: &Steps) -> &Batch<T, N> {
        let mut copies = self.copies.iter_mut();
        let first = copies.next().expect("K >= 1 is asserted at construction");
        copies.fold(first.forward_steps(x, steps), |h, c| c.forward_steps(h, steps))
    }

    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        let mut copies = self.copies.iter_mut().rev();
        let last = copies.next().expect("K >= 1 is asserted at construction");
        copies.fold(last.backward(g), |g, c| c.backward(g))
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        self.predict_steps(x, Steps::none())
    }

    fn predict_steps(&self, x: &Batch<T, N>, steps: &Steps) -> Batch<T, N> {
        self.copies.iter().fold(x.clone(), |h, c| c.predict_steps(&h, steps))
    }

    fn output(&self) -> Option<&Batch<T, N>> {
        self.copies.last().and_then(|c| c.output())
    }

    fn input_grad(&self) -> Option<&Batch<T, N>> {
        self.copies.first().and_then(|c| c.input_grad())
    }

    fn visit(&self, v: &mut dyn Visit<T>) {
        for (c, name) in self.copies.iter().zip(&self.names) {
            visit_in(v, name, |v| c.visit(v));
        }
    }

    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        for (c, name) in self.copies.iter_mut().zip(&self.names) {
            visit_mut_in(v, name, |v| c.visit_mut(v));
        }
    }

    fn freeze_randomness(&mut self, frozen: bool) {
        for c in &mut self.copies {
            c.freeze_randomness(frozen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::test_bodies::dense_tanh;
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn gradients_match_finite_differences() {
        let block: Repeat<f64, _, 3, 3> = Repeat::from_fn(|c| dense_tanh::<3, 3>(10 + c as u64));
        let report = grad_check(&mut LayerModel::new(block), 3, 8);
        report.assert_below(1e-6);
        assert_eq!(report.tensors, ["0.0.weight", "0.0.bias", "1.0.weight", "1.0.bias", "2.0.weight", "2.0.bias"]);
    }

    #[test]
    fn copies_have_their_own_parameters_and_run_in_order() {
        let mut block: Repeat<f64, _, 2, 2> = Repeat::from_fn(|c| dense_tanh::<2, 2>(20 + c as u64));
        assert_ne!(block.copies()[0].first().weight(), block.copies()[1].first().weight());
        let x = Batch::<f64, 2>::from_column_slice(&[0.5, -1.0, 2.0, 0.0]);
        let expected = dense_tanh::<2, 2>(21).forward(dense_tanh::<2, 2>(20).forward(&x)).clone();
        assert_eq!(block.forward(&x), &expected);
        assert_eq!(block.predict(&x), expected);
    }
}
