//! Layer normalization (Ba et al. 2016): each sample normalized over its own
//! features, as `torch.nn.LayerNorm(N)`. Training and evaluation compute the same.

use crate::layer::{empty, ensure_cols, visit_parts, Io, Param, ParamKind};
use crate::{batch::Batch, kernels::Float, layer::Layer};

/// `layer_norm(eps = 1e-5)` on `N` features: `y = weight (x - mean) / sqrt(var + eps) + bias`,
/// mean and biased variance over the features of each sample.
#[derive(Clone, Debug)]
pub struct LayerNorm<T: Float, const N: usize> {
    eps: f64,
    weight: Param<T>,
    bias: Param<T>,
    // 1 / sqrt(var + eps) per sample of the last forward, and the normalized input.
    inv_std: Vec<T>,
    xhat: Batch<T, N>,
    io: Io<T, N, N>,
}

impl<T: Float, const N: usize> LayerNorm<T, N> {
    /// Weight 1 and bias 0, as PyTorch.
    pub fn new(eps: f64) -> Self {
        Self {
            eps,
            weight: Param::filled(ParamKind::Norm, &[N], T::one()),
            bias: Param::filled(ParamKind::Norm, &[N], T::zero()),
            inv_std: Vec::new(),
            xhat: empty(),
            io: Io::default(),
        }
    }
    /// The `eps` added to the variance.
    pub fn eps(&self) -> f64 {
        self.eps
    }
    /// The scale `weight`.
    pub fn weight(&self) -> &[T] {
        &self.weight.value
    }
    /// The shift `bias`.
    pub fn bias(&self) -> &[T] {
        &self.bias.value
    }
    /// The scale `weight`, for editing.
    pub fn weight_mut(&mut self) -> &mut [T] {
        &mut self.weight.value
    }
    /// The shift `bias`, for editing.
    pub fn bias_mut(&mut self) -> &mut [T] {
        &mut self.bias.value
    }
}

/// Normalizes each column of the column-major `x` (`weight.len()` rows);
/// writes `xhat` and the per-column `inv_std` when given.
fn layer_norm<T: Float>(
    x: &[T],
    eps: f64,
    weight: &[T],
    bias: &[T],
    mut cache: Option<(&mut [T], &mut [T])>,
    y: &mut [T],
) {
    let rows = weight.len();
    if rows == 0 {
        return;
    }
    let n = T::of(rows as f64);
    for (c, (xc, yc)) in x.chunks_exact(rows).zip(y.chunks_exact_mut(rows)).enumerate() {
        let mean = xc.iter().fold(T::zero(), |s, v| s + *v) / n;
        let var = xc.iter().fold(T::zero(), |s, v| s + (*v - mean) * (*v - mean)) / n;
        let inv_std = T::one() / (var + T::of(eps)).sqrt();
        for i in 0..rows {
            let h = (xc[i] - mean) * inv_std;
            if let Some((xhat, _)) = cache.as_mut() {
                xhat[c * rows + i] = h;
            }
            yc[i] = weight[i] * h + bias[i];
        }
        if let Some((_, s)) = cache.as_mut() {
            s[c] = inv_std;
        }
    }
}

/// With `dh = g w`: `dx = inv_std (dh - mean(dh) - xhat mean(dh xhat))`, the
/// means over the features; `dw += sum g xhat`, `db += sum g` over the batch.
fn layer_norm_backward<T: Float>(
    g: &[T],
    xhat: &[T],
    inv_std: &[T],
    weight: &[T],
    grads: (&mut [T], &mut [T]),
    dx: &mut [T],
) {
    let rows = weight.len();
    if rows == 0 {
        return;
    }
    let (weight_grad, bias_grad) = grads;
    let n = T::of(rows as f64);
    for (((gc, hc), dc), s) in
        g.chunks_exact(rows).zip(xhat.chunks_exact(rows)).zip(dx.chunks_exact_mut(rows)).zip(inv_std)
    {
        let (mut sum_dh, mut sum_dh_xhat) = (T::zero(), T::zero());
        for i in 0..rows {
            sum_dh += gc[i] * weight[i];
            sum_dh_xhat += gc[i] * weight[i] * hc[i];
            weight_grad[i] += gc[i] * hc[i];
            bias_grad[i] += gc[i];
        }
        let (mean_dh, mean_dh_xhat) = (sum_dh / n, sum_dh_xhat / n);
        for i in 0..rows {
            dc[i] = *s * (gc[i] * weight[i] - mean_dh - hc[i] * mean_dh_xhat);
        }
    }
}

impl<T: Float, const N: usize> Layer<T, N, N> for LayerNorm<T, N> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        let n = x.ncols();
        ensure_cols(&mut self.xhat, n);
        self.inv_std.resize(n, T::zero());
        let cache = (self.xhat.as_mut_slice(), self.inv_std.as_mut_slice());
        let (eps, weight, bias) = (self.eps, &self.weight.value, &self.bias.value);
        self.io.write_output(n, |y| layer_norm(x.as_slice(), eps, weight, bias, Some(cache), y))
    }

    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        let (xhat, inv_std, weight) = (self.xhat.as_slice(), &self.inv_std, &self.weight.value);
        let grads = (self.weight.grad.as_mut_slice(), self.bias.grad.as_mut_slice());
        self.io.write_input_grad(g.ncols(), |dx| layer_norm_backward(g.as_slice(), xhat, inv_std, weight, grads, dx))
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        let mut y = x.clone();
        layer_norm(x.as_slice(), self.eps, &self.weight.value, &self.bias.value, None, y.as_mut_slice());
        y
    }

    fn io(&self) -> Option<&Io<T, N, N>> {
        Some(&self.io)
    }

    visit_parts!(tensors: weight, bias);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::reference;
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn forward_matches_pytorch() {
        let table = include_str!("../../tests/data/norm.txt");
        let mut ln = LayerNorm::<f64, 3>::new(1e-5);
        ln.weight_mut().copy_from_slice(&[1.5, -0.5, 2.0]);
        ln.bias_mut().copy_from_slice(&[0.1, 0.2, -0.3]);
        let x = Batch::<f64, 3>::from_column_slice(&reference(table, "ln.x"));
        let y = ln.forward(&x).clone();
        for (i, (a, b)) in y.iter().zip(reference(table, "ln.y")).enumerate() {
            assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "ln.y[{i}] = {a:e}, PyTorch {b:e}");
        }
        assert_eq!(ln.predict(&x), y);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut ln = LayerNorm::<f64, 5>::new(1e-5);
        ln.weight_mut().copy_from_slice(&[1.5, -0.5, 2.0, 0.8, 1.0]);
        ln.bias_mut().copy_from_slice(&[0.1, 0.2, -0.3, 0.0, 0.5]);
        let report = grad_check(&mut LayerModel::new(ln), 4, 31);
        report.assert_below(1e-6);
        assert_eq!(report.tensors, ["weight", "bias"]);
    }

    #[test]
    fn empty_batch_and_nan_sample_do_not_panic() {
        let mut ln = LayerNorm::<f32, 2>::new(1e-5);
        assert_eq!(ln.forward(&Batch::zeros(0)).ncols(), 0);
        assert_eq!(ln.backward(&Batch::zeros(0)).ncols(), 0);
        let x = Batch::<f32, 2>::from_column_slice(&[f32::NAN, 1.0, 0.0, 2.0]);
        let y = ln.forward(&x).clone();
        assert!(y[0].is_nan() && y[1].is_nan(), "the NaN sample is NaN");
        assert!((y[2] + 1.0).abs() < 1e-4 && (y[3] - 1.0).abs() < 1e-4, "the other sample is untouched");
        ln.backward(&Batch::from_element(2, 1.0));
    }
}
