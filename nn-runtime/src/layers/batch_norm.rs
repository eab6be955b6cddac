//! Batch normalization over the batch, per feature (Ioffe & Szegedy 2015), as
//! `torch.nn.BatchNorm1d`.

use crate::layer::{empty, ensure_cols, BufferMut, BufferRef, ParamKind, ParamMut, ParamRef};
use crate::{Batch, Float, Layer, Visit, VisitMut};

/// `batch_norm(momentum = 0.1, eps = 1e-5)` on `N` features.
///
/// Training normalizes each feature with the batch mean and the biased batch
/// variance, and moves the running statistics towards the batch's
/// (`running = (1 - momentum) running + momentum batch`) with the *unbiased*
/// variance, as PyTorch. Evaluation normalizes with the running statistics.
///
/// Degenerate batches, where PyTorch raises an error, are handled without a
/// panic and without NaN in the running statistics:
/// - 0 samples: the output is empty and nothing is updated (not even
///   `num_batches_tracked`);
/// - 1 sample: the variance is taken as 0, so the output is `bias` and the
///   input gradient 0; `running_mean` and `num_batches_tracked` are updated,
///   `running_var` is left unchanged (its unbiased estimate is undefined).
#[derive(Clone, Debug)]
pub struct BatchNorm<T: Float, const N: usize> {
    momentum: f64,
    eps: f64,
    weight: Vec<T>,
    weight_grad: Vec<T>,
    bias: Vec<T>,
    bias_grad: Vec<T>,
    running_mean: Vec<T>,
    running_var: Vec<T>,
    num_batches_tracked: i64,
    // The last training batch's mean, biased variance, 1 / sqrt(variance + eps)
    // per feature, and normalized input.
    mean: Vec<T>,
    var: Vec<T>,
    inv_std: Vec<T>,
    xhat: Batch<T, N>,
    y: Batch<T, N>,
    dx: Batch<T, N>,
}

impl<T: Float, const N: usize> BatchNorm<T, N> {
    /// Weight 1, bias 0, running mean 0, running variance 1, as PyTorch.
    pub fn new(momentum: f64, eps: f64) -> Self {
        Self {
            momentum,
            eps,
            weight: vec![T::one(); N],
            weight_grad: vec![T::zero(); N],
            bias: vec![T::zero(); N],
            bias_grad: vec![T::zero(); N],
            running_mean: vec![T::zero(); N],
            running_var: vec![T::one(); N],
            num_batches_tracked: 0,
            mean: vec![T::zero(); N],
            var: vec![T::zero(); N],
            inv_std: vec![T::zero(); N],
            xhat: empty(),
            y: empty(),
            dx: empty(),
        }
    }
    /// The scale `weight`.
    pub fn weight(&self) -> &[T] {
        &self.weight
    }
    /// The scale `weight`, for editing.
    pub fn weight_mut(&mut self) -> &mut [T] {
        &mut self.weight
    }
    /// The shift `bias`.
    pub fn bias(&self) -> &[T] {
        &self.bias
    }
    /// The shift `bias`, for editing.
    pub fn bias_mut(&mut self) -> &mut [T] {
        &mut self.bias
    }
    /// The running mean.
    pub fn running_mean(&self) -> &[T] {
        &self.running_mean
    }
    /// The running (unbiased) variance.
    pub fn running_var(&self) -> &[T] {
        &self.running_var
    }
    /// How many training batches updated the running statistics.
    pub fn num_batches_tracked(&self) -> i64 {
        self.num_batches_tracked
    }
}

/// Per-feature mean and biased variance of the column-major `x` (`mean.len()` rows).
fn batch_stats<T: Float>(x: &[T], mean: &mut [T], var: &mut [T]) {
    let rows = mean.len();
    let n = T::of((x.len() / rows) as f64);
    mean.fill(T::zero());
    var.fill(T::zero());
    for col in x.chunks_exact(rows) {
        for (m, v) in mean.iter_mut().zip(col) {
            *m += *v;
        }
    }
    for m in mean.iter_mut() {
        *m /= n;
    }
    for col in x.chunks_exact(rows) {
        for ((s, v), m) in var.iter_mut().zip(col).zip(mean.iter()) {
            *s += (*v - *m) * (*v - *m);
        }
    }
    for s in var.iter_mut() {
        *s /= n;
    }
}

/// `y = weight (x - mean) inv_std + bias`; also writes `xhat = (x - mean) inv_std` when given.
fn normalize<T: Float>(
    x: &[T],
    mean: &[T],
    inv_std: &[T],
    weight: &[T],
    bias: &[T],
    mut xhat: Option<&mut [T]>,
    y: &mut [T],
) {
    let rows = mean.len();
    for (c, (xc, yc)) in x.chunks_exact(rows).zip(y.chunks_exact_mut(rows)).enumerate() {
        for i in 0..rows {
            let h = (xc[i] - mean[i]) * inv_std[i];
            if let Some(xh) = xhat.as_deref_mut() {
                xh[c * rows + i] = h;
            }
            yc[i] = weight[i] * h + bias[i];
        }
    }
}

/// With `dh = g w`: `dx = inv_std (dh - mean(dh) - xhat mean(dh xhat))`, the
/// mean taken over the batch; `dw += sum g xhat`, `db += sum g`.
#[allow(clippy::too_many_arguments)]
fn norm_backward<T: Float>(
    g: &[T],
    xhat: &[T],
    inv_std: &[T],
    weight: &[T],
    weight_grad: &mut [T],
    bias_grad: &mut [T],
    dx: &mut [T],
) {
    let rows = weight.len();
    let n = T::of((g.len() / rows) as f64);
    for i in 0..rows {
        let (mut sum_dh, mut sum_dh_xhat, mut sum_g_xhat, mut sum_g) = (T::zero(), T::zero(), T::zero(), T::zero());
        for (gc, hc) in g.chunks_exact(rows).zip(xhat.chunks_exact(rows)) {
            sum_dh += gc[i] * weight[i];
            sum_dh_xhat += gc[i] * weight[i] * hc[i];
            sum_g_xhat += gc[i] * hc[i];
            sum_g += gc[i];
        }
        weight_grad[i] += sum_g_xhat;
        bias_grad[i] += sum_g;
        let (mean_dh, mean_dh_xhat) = (sum_dh / n, sum_dh_xhat / n);
        for ((gc, hc), dc) in g.chunks_exact(rows).zip(xhat.chunks_exact(rows)).zip(dx.chunks_exact_mut(rows)) {
            dc[i] = inv_std[i] * (gc[i] * weight[i] - mean_dh - hc[i] * mean_dh_xhat);
        }
    }
}

impl<T: Float, const N: usize> Layer<T, N, N> for BatchNorm<T, N> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        let n = x.ncols();
        ensure_cols(&mut self.y, n);
        ensure_cols(&mut self.xhat, n);
        if n == 0 {
            return &self.y;
        }
        batch_stats(x.as_slice(), &mut self.mean, &mut self.var);
        for (s, v) in self.inv_std.iter_mut().zip(&self.var) {
            *s = T::one() / (*v + T::of(self.eps)).sqrt();
        }
        normalize(
            x.as_slice(),
            &self.mean,
            &self.inv_std,
            &self.weight,
            &self.bias,
            Some(self.xhat.as_mut_slice()),
            self.y.as_mut_slice(),
        );
        let (mom, keep) = (T::of(self.momentum), T::of(1.0 - self.momentum));
        for (r, m) in self.running_mean.iter_mut().zip(&self.mean) {
            *r = keep * *r + mom * *m;
        }
        if n > 1 {
            let unbias = T::of(n as f64 / (n as f64 - 1.0));
            for (r, v) in self.running_var.iter_mut().zip(&self.var) {
                *r = keep * *r + mom * *v * unbias;
            }
        }
        self.num_batches_tracked += 1;
        &self.y
    }

    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        ensure_cols(&mut self.dx, g.ncols());
        norm_backward(
            g.as_slice(),
            self.xhat.as_slice(),
            &self.inv_std,
            &self.weight,
            &mut self.weight_grad,
            &mut self.bias_grad,
            self.dx.as_mut_slice(),
        );
        &self.dx
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        let inv_std: Vec<T> = self.running_var.iter().map(|v| T::one() / (*v + T::of(self.eps)).sqrt()).collect();
        let mut y = x.clone();
        normalize(x.as_slice(), &self.running_mean, &inv_std, &self.weight, &self.bias, None, y.as_mut_slice());
        y
    }

    fn output(&self) -> Option<&Batch<T, N>> {
        Some(&self.y)
    }

    fn input_grad(&self) -> Option<&Batch<T, N>> {
        Some(&self.dx)
    }

    fn visit(&self, v: &mut dyn Visit<T>) {
        v.param(ParamRef {
            name: "weight",
            kind: ParamKind::Norm,
            shape: &[N],
            value: &self.weight,
            grad: &self.weight_grad,
        });
        v.param(ParamRef {
            name: "bias",
            kind: ParamKind::Norm,
            shape: &[N],
            value: &self.bias,
            grad: &self.bias_grad,
        });
        v.buffer(BufferRef::Float { name: "running_mean", shape: &[N], value: &self.running_mean });
        v.buffer(BufferRef::Float { name: "running_var", shape: &[N], value: &self.running_var });
        v.buffer(BufferRef::Count { name: "num_batches_tracked", value: self.num_batches_tracked });
    }

    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        v.param(ParamMut {
            name: "weight",
            kind: ParamKind::Norm,
            shape: &[N],
            value: &mut self.weight,
            grad: &mut self.weight_grad,
        });
        v.param(ParamMut {
            name: "bias",
            kind: ParamKind::Norm,
            shape: &[N],
            value: &mut self.bias,
            grad: &mut self.bias_grad,
        });
        v.buffer(BufferMut::Float { name: "running_mean", shape: &[N], value: &mut self.running_mean });
        v.buffer(BufferMut::Float { name: "running_var", shape: &[N], value: &mut self.running_var });
        v.buffer(BufferMut::Count { name: "num_batches_tracked", value: &mut self.num_batches_tracked });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::reference;
    use crate::testing::{grad_check, LayerModel};
    use crate::{Model, NamedBuffer};

    fn assert_close(what: &str, a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{what}: length");
        for (i, (a, b)) in a.iter().zip(b).enumerate() {
            assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{what}[{i}] = {a:e}, PyTorch {b:e}");
        }
    }

    #[test]
    fn train_and_eval_match_pytorch() {
        let table = include_str!("../../../tools/reference/out/norm.txt");
        let mut bn = BatchNorm::<f64, 3>::new(0.1, 1e-5);
        bn.weight_mut().copy_from_slice(&[1.5, -0.5, 2.0]);
        bn.bias_mut().copy_from_slice(&[0.1, 0.2, -0.3]);
        for step in 1..=2 {
            let x = reference(table, &format!("bn.x{step}"));
            let y = bn.forward(&Batch::<f64, 3>::from_column_slice(&x)).clone();
            assert_close("train output", y.as_slice(), &reference(table, &format!("bn.y{step}")));
            assert_close("running_mean", bn.running_mean(), &reference(table, &format!("bn.running_mean{step}")));
            assert_close("running_var", bn.running_var(), &reference(table, &format!("bn.running_var{step}")));
            assert_eq!(bn.num_batches_tracked() as f64, reference(table, &format!("bn.num_batches_tracked{step}"))[0]);
        }
        let x = Batch::<f64, 3>::from_column_slice(&reference(table, "bn.x_eval"));
        assert_close("eval output", bn.predict(&x).as_slice(), &reference(table, "bn.y_eval"));
    }

    #[test]
    fn gradients_match_finite_differences_at_batch_2_and_7() {
        for batch in [2, 7] {
            let mut bn = BatchNorm::<f64, 4>::new(0.1, 1e-5);
            bn.weight_mut().copy_from_slice(&[1.5, -0.5, 2.0, 0.8]);
            bn.bias_mut().copy_from_slice(&[0.1, 0.2, -0.3, 0.0]);
            let report = grad_check(&mut LayerModel::new(bn), batch, 20 + batch as u64);
            report.assert_below(1e-6);
            assert_eq!(report.tensors, ["weight", "bias"]);
        }
    }

    #[test]
    fn buffers_are_named_as_pytorch() {
        let mut m = LayerModel::new(BatchNorm::<f32, 2>::new(0.1, 1e-5));
        m.forward_view(nalgebra::DMatrix::from_element(2, 3, 1.0f32).as_view()).unwrap();
        let names: Vec<String> = m.buffers().iter().map(|b| b.name().to_string()).collect();
        assert_eq!(names, ["running_mean", "running_var", "num_batches_tracked"]);
        assert_eq!(m.buffers()[2], NamedBuffer::Count { name: "num_batches_tracked".into(), value: 1 });
        assert!(m.parameters().iter().all(|p| p.kind == ParamKind::Norm));
    }

    #[test]
    fn batch_of_one_gives_bias_and_keeps_running_var() {
        let mut bn = BatchNorm::<f64, 2>::new(0.1, 1e-5);
        bn.bias_mut().copy_from_slice(&[0.5, -1.0]);
        let x = Batch::<f64, 2>::from_column_slice(&[3.0, -2.0]);
        assert_eq!(bn.forward(&x).as_slice(), &[0.5, -1.0]);
        assert_eq!(bn.running_mean(), &[0.1 * 3.0, 0.1 * -2.0]);
        assert_eq!(bn.running_var(), &[1.0, 1.0]);
        assert_eq!(bn.num_batches_tracked(), 1);
        assert_eq!(bn.backward(&Batch::<f64, 2>::from_column_slice(&[1.0, 1.0])).as_slice(), &[0.0, 0.0]);
        assert_eq!(bn.bias_grad, [1.0, 1.0]);
    }

    #[test]
    fn empty_batch_changes_nothing() {
        let mut bn = BatchNorm::<f32, 2>::new(0.1, 1e-5);
        assert_eq!(bn.forward(&Batch::zeros(0)).ncols(), 0);
        assert_eq!(bn.backward(&Batch::zeros(0)).ncols(), 0);
        assert_eq!(bn.predict(&Batch::zeros(0)).ncols(), 0);
        assert_eq!((bn.running_mean(), bn.running_var(), bn.num_batches_tracked()), (&[0.0; 2][..], &[1.0; 2][..], 0));
        assert_eq!(bn.weight_grad, [0.0; 2]);
    }

    #[test]
    fn nan_stays_in_its_feature() {
        let mut bn = BatchNorm::<f32, 2>::new(0.1, 1e-5);
        let x = Batch::<f32, 2>::from_column_slice(&[f32::NAN, 1.0, 0.0, 2.0]);
        let y = bn.forward(&x).clone();
        assert!(y[0].is_nan() && y[2].is_nan());
        // The other feature is [1, 2]: normalized to about [-1, 1].
        assert!((y[1] + 1.0).abs() < 1e-4 && (y[3] - 1.0).abs() < 1e-4);
        assert!(bn.running_mean()[0].is_nan() && bn.running_mean()[1].is_finite());
    }
}
