//! Fully connected layer: `y = W x + b`.

use rand::Rng;

use crate::kernels::{add_bias_rows, add_row_sums, gemm, MatMut, MatRef};
use crate::layer::{copy_batch, empty, ensure_cols, ParamKind, ParamMut, ParamRef};
use crate::{Batch, Float, Init, Layer, Visit, VisitMut};

/// `dense(O)` from `I` features: weight `[O, I]`, optional bias `[O]`.
///
/// The weight is stored row-major as PyTorch's `nn.Linear.weight`, so files
/// and optimizers see PyTorch's layout; the products read it transposed
/// through strides, without copies.
#[derive(Clone, Debug)]
pub struct Dense<T: Float, const I: usize, const O: usize> {
    weight: Vec<T>,
    weight_grad: Vec<T>,
    bias: Option<Vec<T>>,
    bias_grad: Vec<T>,
    x: Batch<T, I>,
    y: Batch<T, O>,
    dx: Batch<T, I>,
}

impl<T: Float, const I: usize, const O: usize> Dense<T, I, O> {
    /// A layer whose weight is drawn from `init` (fan-in `I`, fan-out `O`) and
    /// whose bias, when present, starts at zero.
    pub fn new<R: Rng + ?Sized>(rng: &mut R, init: Init, bias: bool) -> Self {
        let mut weight = vec![T::zero(); O * I];
        init.fill(rng, I, O, O, I, &mut weight);
        Self {
            weight,
            weight_grad: vec![T::zero(); O * I],
            bias: bias.then(|| vec![T::zero(); O]),
            bias_grad: if bias { vec![T::zero(); O] } else { Vec::new() },
            x: empty(),
            y: empty(),
            dx: empty(),
        }
    }

    /// The weight, row-major `[O, I]`.
    pub fn weight(&self) -> &[T] {
        &self.weight
    }
    /// The weight, row-major `[O, I]`, for editing.
    pub fn weight_mut(&mut self) -> &mut [T] {
        &mut self.weight
    }
    /// The bias, if the layer has one.
    pub fn bias(&self) -> Option<&[T]> {
        self.bias.as_deref()
    }
    /// The bias, for editing.
    pub fn bias_mut(&mut self) -> Option<&mut [T]> {
        self.bias.as_deref_mut()
    }

    fn apply(&self, x: &Batch<T, I>, y: &mut Batch<T, O>) {
        let n = x.ncols();
        gemm(
            T::one(),
            MatRef::row_major(&self.weight, O, I),
            MatRef::col_major(x.as_slice(), I, n),
            T::zero(),
            MatMut::col_major(y.as_mut_slice(), O, n),
        );
        if let Some(b) = &self.bias {
            add_bias_rows(y.as_mut_slice(), b);
        }
    }
}

impl<T: Float, const I: usize, const O: usize> Layer<T, I, O> for Dense<T, I, O> {
    fn forward(&mut self, x: &Batch<T, I>) -> &Batch<T, O> {
        copy_batch(&mut self.x, x);
        let mut y = std::mem::replace(&mut self.y, empty());
        ensure_cols(&mut y, x.ncols());
        self.apply(x, &mut y);
        self.y = y;
        &self.y
    }

    fn backward(&mut self, g: &Batch<T, O>) -> &Batch<T, I> {
        self.backward_params(g);
        let n = g.ncols();
        // dx = W^T g
        ensure_cols(&mut self.dx, n);
        gemm(
            T::one(),
            MatRef::row_major(&self.weight, O, I).t(),
            MatRef::col_major(g.as_slice(), O, n),
            T::zero(),
            MatMut::col_major(self.dx.as_mut_slice(), I, n),
        );
        &self.dx
    }

    fn backward_params(&mut self, g: &Batch<T, O>) {
        let n = g.ncols();
        // dW += g x^T
        gemm(
            T::one(),
            MatRef::col_major(g.as_slice(), O, n),
            MatRef::col_major(self.x.as_slice(), I, n).t(),
            T::one(),
            MatMut::row_major(&mut self.weight_grad, O, I),
        );
        if self.bias.is_some() {
            add_row_sums(&mut self.bias_grad, g.as_slice());
        }
    }

    fn predict(&self, x: &Batch<T, I>) -> Batch<T, O> {
        let mut y = empty();
        ensure_cols(&mut y, x.ncols());
        self.apply(x, &mut y);
        y
    }

    fn output(&self) -> Option<&Batch<T, O>> {
        Some(&self.y)
    }

    fn input_grad(&self) -> Option<&Batch<T, I>> {
        Some(&self.dx)
    }

    fn visit(&self, v: &mut dyn Visit<T>) {
        v.param(ParamRef {
            name: "weight",
            kind: ParamKind::Weight,
            shape: &[O, I],
            value: &self.weight,
            grad: &self.weight_grad,
        });
        if let Some(b) = &self.bias {
            v.param(ParamRef { name: "bias", kind: ParamKind::Bias, shape: &[O], value: b, grad: &self.bias_grad });
        }
    }

    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        v.param(ParamMut {
            name: "weight",
            kind: ParamKind::Weight,
            shape: &[O, I],
            value: &mut self.weight,
            grad: &mut self.weight_grad,
        });
        if let Some(b) = &mut self.bias {
            v.param(ParamMut { name: "bias", kind: ParamKind::Bias, shape: &[O], value: b, grad: &mut self.bias_grad });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn forward_matches_hand_computed_product() {
        let mut d = Dense::<f64, 3, 2>::new(&mut crate::seeded_rng(0), Init::Zeros, true);
        d.weight_mut().copy_from_slice(&[1.0, 2.0, 3.0, -1.0, 0.5, 0.0]);
        d.bias_mut().unwrap().copy_from_slice(&[0.25, -0.5]);
        let x = Batch::<f64, 3>::from_column_slice(&[1.0, 1.0, 1.0, 2.0, 0.0, -1.0]);
        let y = d.forward(&x).clone();
        assert_eq!(y.as_slice(), &[6.25, -1.0, -0.75, -2.5]);
        assert_eq!(d.predict(&x), y);
    }

    #[test]
    fn gradients_match_finite_differences_with_and_without_bias() {
        for bias in [true, false] {
            let mut rng = crate::seeded_rng(1);
            let layer = Dense::<f64, 5, 4>::new(&mut rng, Init::XavierNormal, bias);
            grad_check(&mut LayerModel::new(layer), 3, 7).assert_below(1e-6);
        }
    }

    #[test]
    fn gradients_accumulate_over_two_backward_calls() {
        let mut rng = crate::seeded_rng(2);
        let mut d = Dense::<f64, 3, 2>::new(&mut rng, Init::HeNormal, true);
        let x = Batch::<f64, 3>::from_fn(4, |i, j| (i + 2 * j) as f64 * 0.1);
        let g = Batch::<f64, 2>::from_fn(4, |i, j| (i as f64) - (j as f64) * 0.3);
        d.forward(&x);
        d.backward(&g);
        let once = d.weight_grad.clone();
        d.backward(&g);
        for (a, b) in d.weight_grad.iter().zip(&once) {
            assert!((a - 2.0 * b).abs() < 1e-12);
        }
    }

    #[test]
    fn empty_batch_gives_empty_output_and_no_gradient() {
        let mut d = Dense::<f32, 3, 2>::new(&mut crate::seeded_rng(3), Init::HeNormal, true);
        let x = Batch::<f32, 3>::zeros(0);
        assert_eq!(d.forward(&x).ncols(), 0);
        let g = Batch::<f32, 2>::zeros(0);
        assert_eq!(d.backward(&g).ncols(), 0);
        assert!(d.weight_grad.iter().all(|v| *v == 0.0));
    }
}
