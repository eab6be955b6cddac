//! PReLU (He et al. 2015): a leaky ReLU whose negative slope is learned, one per feature.

use crate::layer::{copy_batch, empty, visit_parts, Io, Param, ParamKind};
use crate::{batch::Batch, kernels::Float, layer::Layer};

/// `prelu(init = 0.25)` on `N` features: `y_i = x_i` for `x_i > 0`, `a_i x_i`
/// otherwise; the slopes `a` are the parameter `weight` `[N]`, as
/// `torch.nn.PReLU(num_parameters = N)`.
#[derive(Clone, Debug)]
pub struct Prelu<T: Float, const N: usize> {
    weight: Param<T>,
    x: Batch<T, N>,
    io: Io<T, N, N>,
}

impl<T: Float, const N: usize> Prelu<T, N> {
    /// Every slope starts at `init` (PyTorch's default is 0.25).
    pub fn new(init: f64) -> Self {
        Self { weight: Param::filled(ParamKind::Slope, &[N], T::of(init)), x: empty(), io: Io::default() }
    }
    /// The slopes.
    pub fn weight(&self) -> &[T] {
        &self.weight.value
    }
    /// The slopes, for editing.
    pub fn weight_mut(&mut self) -> &mut [T] {
        &mut self.weight.value
    }
}

fn prelu<T: Float>(weight: &[T], x: &[T], y: &mut [T]) {
    if weight.is_empty() {
        return;
    }
    for (xc, yc) in x.chunks_exact(weight.len()).zip(y.chunks_exact_mut(weight.len())) {
        for ((y, x), a) in yc.iter_mut().zip(xc).zip(weight) {
            *y = if *x > T::zero() { *x } else { *a * *x };
        }
    }
}

// dx_i = g_i (1 or a_i); da_i += sum over samples with x_i <= 0 of g_i x_i.
fn prelu_backward<T: Float>(weight: &[T], weight_grad: &mut [T], x: &[T], g: &[T], dx: &mut [T]) {
    let n = weight.len();
    if n == 0 {
        return;
    }
    for ((xc, gc), dc) in x.chunks_exact(n).zip(g.chunks_exact(n)).zip(dx.chunks_exact_mut(n)) {
        for i in 0..n {
            if xc[i] > T::zero() {
                dc[i] = gc[i];
            } else {
                dc[i] = gc[i] * weight[i];
                weight_grad[i] += gc[i] * xc[i];
            }
        }
    }
}

impl<T: Float, const N: usize> Layer<T, N, N> for Prelu<T, N> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        copy_batch(&mut self.x, x);
        let weight = &self.weight.value;
        self.io.write_output(x.ncols(), |y| prelu(weight, x.as_slice(), y))
    }

    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        let (weight, grad, x) = (&self.weight.value, &mut self.weight.grad, self.x.as_slice());
        self.io.write_input_grad(g.ncols(), |dx| prelu_backward(weight, grad, x, g.as_slice(), dx))
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        let mut y = x.clone();
        prelu(&self.weight.value, x.as_slice(), y.as_mut_slice());
        y
    }

    fn io(&self) -> Option<&Io<T, N, N>> {
        Some(&self.io)
    }

    visit_parts!(tensors: weight);
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;
    use crate::model::Model;
    use crate::testing::{grad_check_at, LayerModel};

    #[test]
    fn forward_uses_each_features_slope() {
        let mut p = Prelu::<f64, 2>::new(0.25);
        assert_eq!(p.weight(), &[0.25, 0.25]);
        p.weight_mut()[1] = -0.5;
        let x = Batch::<f64, 2>::from_column_slice(&[-4.0, -4.0, 3.0, 0.0, f64::NAN, 2.0]);
        let y = p.forward(&x).clone();
        assert_eq!(&y.as_slice()[..4], &[-1.0, 2.0, 3.0, -0.0]);
        assert!(y[4].is_nan());
        assert_eq!(y[5], 2.0);
        assert_eq!(&p.predict(&x).as_slice()[..4], &y.as_slice()[..4]);
    }

    #[test]
    fn gradients_match_finite_differences_away_from_zero() {
        let mut layer = Prelu::<f64, 3>::new(0.25);
        layer.weight_mut().copy_from_slice(&[0.1, 0.25, -0.3]);
        let x = DMatrix::from_fn(3, 4, |i, j| if (i + j) % 2 == 0 { 0.7 + i as f64 } else { -1.3 + 0.2 * j as f64 });
        let mut m = LayerModel::new(layer);
        let report = grad_check_at(&mut m, &x, 3);
        report.assert_below(1e-6);
        assert_eq!(report.tensors, ["weight"]);
        assert_eq!(m.parameters()[0].kind, ParamKind::Slope);
    }

    #[test]
    fn empty_batch_passes_through() {
        let mut p = Prelu::<f32, 3>::new(0.25);
        assert_eq!(p.forward(&Batch::zeros(0)).ncols(), 0);
        assert_eq!(p.backward(&Batch::zeros(0)).ncols(), 0);
        assert_eq!(*p.weight.grad, [0.0; 3]);
    }
}
