//! Batch normalization over channels of images, as `torch.nn.BatchNorm2d`:
//! per-channel statistics over the batch, the height and the width.

use crate::kernels::{batch_norm_train, grad_sums};
use crate::layer::{empty, ensure_cols, visit_parts, Buffer, Io, Param, ParamKind};
use crate::{batch::Batch, kernels::Float, layer::Layer};

/// `batch_norm(momentum = 0.1, eps = 1e-5)` on `(C, H, W)` images, flattened to
/// `N = C*H*W` values per sample.
///
/// Training normalizes each channel with the mean and biased variance of its
/// `m = batch * H * W` values and moves the running statistics towards them
/// (`running = (1 - momentum) running + momentum batch`) with the *unbiased*
/// variance (`m / (m - 1)`), as PyTorch. Evaluation uses the running statistics.
///
/// A training batch with `m = 1` (one sample of 1 x 1) has no batch
/// statistics: its normalized output would be all zeros and its unbiased
/// variance undefined. PyTorch raises an error there, and so does this layer:
/// it panics (a network refuses such a batch before, naming the item). With
/// `m = 0` nothing is updated (not even `num_batches_tracked`).
#[derive(Clone, Debug)]
pub struct BatchNorm2d<T: Float, const N: usize> {
    momentum: f64,
    eps: f64,
    /// `H * W`: values per channel per sample.
    plane: usize,
    /// Every parameter and buffer is `[C]`.
    weight: Param<T>,
    bias: Param<T>,
    running_mean: Buffer<T>,
    running_var: Buffer<T>,
    num_batches_tracked: i64,
    // The last training batch's per-channel mean, biased variance,
    // 1 / sqrt(variance + eps), and normalized input.
    mean: Vec<T>,
    var: Vec<T>,
    inv_std: Vec<T>,
    xhat: Batch<T, N>,
    // Per-channel sums of g and g * xhat, kept so backward allocates nothing.
    sum_g: Vec<T>,
    sum_g_xhat: Vec<T>,
    io: Io<T, N, N>,
}

impl<T: Float, const N: usize> BatchNorm2d<T, N> {
    /// Weight 1, bias 0, running mean 0, running variance 1, as PyTorch; `N`
    /// must be `C * H * W` (checked at compile time).
    ///
    /// `BatchNorm2d::<f32, { 16 * 8 * 8 }>::new::<16, 8, 8>(0.1, 1e-5)`
    pub fn new<const C: usize, const H: usize, const W: usize>(momentum: f64, eps: f64) -> Self {
        const {
            assert!(C >= 1 && H >= 1 && W >= 1, "batch_norm: empty image");
            assert!(N == C * H * W, "batch_norm: N must be C * H * W");
        }
        let zeros = || vec![T::zero(); C];
        Self {
            momentum,
            eps,
            plane: H * W,
            weight: Param::filled(ParamKind::Norm, &[C], T::one()),
            bias: Param::filled(ParamKind::Norm, &[C], T::zero()),
            running_mean: Buffer::filled(&[C], T::zero()),
            running_var: Buffer::filled(&[C], T::one()),
            num_batches_tracked: 0,
            mean: zeros(),
            var: zeros(),
            inv_std: zeros(),
            xhat: empty(),
            sum_g: zeros(),
            sum_g_xhat: zeros(),
            io: Io::default(),
        }
    }
    /// The `eps` added to the variance.
    pub fn eps(&self) -> f64 {
        self.eps
    }
    /// The scale `weight` `[C]`.
    pub fn weight(&self) -> &[T] {
        &self.weight.value
    }
    /// The scale `weight`, for editing.
    pub fn weight_mut(&mut self) -> &mut [T] {
        &mut self.weight.value
    }
    /// The shift `bias` `[C]`.
    pub fn bias(&self) -> &[T] {
        &self.bias.value
    }
    /// The shift `bias`, for editing.
    pub fn bias_mut(&mut self) -> &mut [T] {
        &mut self.bias.value
    }
    /// The running mean `[C]`.
    pub fn running_mean(&self) -> &[T] {
        &self.running_mean.value
    }
    /// The running (unbiased) variance `[C]`.
    pub fn running_var(&self) -> &[T] {
        &self.running_var.value
    }
    /// How many training batches updated the running statistics.
    pub fn num_batches_tracked(&self) -> i64 {
        self.num_batches_tracked
    }
}

/// `y = weight (x - mean) inv_std + bias` over planes of `plane` values,
/// plane `k` of channel `k % channels`: evaluation, with the running statistics.
fn normalize<T: Float>(x: &[T], plane: usize, mean: &[T], inv_std: &[T], weight: &[T], bias: &[T], y: &mut [T]) {
    let channels = mean.len();
    for (k, (xp, yp)) in x.chunks_exact(plane).zip(y.chunks_exact_mut(plane)).enumerate() {
        let c = k % channels;
        for (x, y) in xp.iter().zip(yp.iter_mut()) {
            *y = weight[c] * ((*x - mean[c]) * inv_std[c]) + bias[c];
        }
    }
}

impl<T: Float, const N: usize> BatchNorm2d<T, N> {
    /// After a training batch of `n >= 1` samples, whose mean and variance
    /// `forward` took: the running statistics.
    fn update_running(&mut self, n: usize) {
        let (mom, keep) = (T::of(self.momentum), T::of(1.0 - self.momentum));
        for (r, m) in self.running_mean.value.iter_mut().zip(&self.mean) {
            *r = keep * *r + mom * *m;
        }
        // At least 2 values per channel: `forward` refuses one.
        let count = (n * self.plane) as f64;
        let unbias = T::of(count / (count - 1.0));
        for (r, v) in self.running_var.value.iter_mut().zip(&self.var) {
            *r = keep * *r + mom * *v * unbias;
        }
        self.num_batches_tracked += 1;
    }

    /// The per-channel sums of `g` and `g * xhat` over a batch of `n >= 1`
    /// samples, and from them `dweight += sum g xhat`, `dbias += sum g`.
    fn add_param_grads(&mut self, g: &[T]) {
        grad_sums(g, self.xhat.as_slice(), self.plane, &mut self.sum_g, &mut self.sum_g_xhat);
        for c in 0..self.sum_g.len() {
            self.weight.grad[c] += self.sum_g_xhat[c];
            self.bias.grad[c] += self.sum_g[c];
        }
    }
}

impl<T: Float, const N: usize> Layer<T, N, N> for BatchNorm2d<T, N> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        let n = x.ncols();
        assert!(
            n * self.plane != 1,
            "batch_norm: a training batch of 1 sample gives it 1 value per channel, and batch statistics need more \
             than 1 (as PyTorch says, \"Expected more than 1 value per channel when training\"); train on batches \
             of at least 2 samples, or use `predict` (running statistics) for one sample"
        );
        ensure_cols(&mut self.xhat, n);
        let (plane, eps, (weight, bias)) = (self.plane, T::of(self.eps), (&self.weight.value, &self.bias.value));
        let stats = [&mut self.mean[..], &mut self.var[..], &mut self.inv_std[..]];
        let xhat = self.xhat.as_mut_slice();
        if n == 0 {
            return self.io.write_output(0, |_| {});
        }
        self.io.write_output(n, |y| batch_norm_train(x.as_slice(), plane, eps, weight, bias, stats, xhat, y));
        self.update_running(n);
        self.io.output()
    }

    /// With `m` values per channel and `dh = g weight`:
    /// `dx = inv_std (dh - mean(dh) - xhat mean(dh xhat))`, means over the
    /// channel's values; `dweight += sum g xhat`, `dbias += sum g`.
    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        let n = self.io.grad_samples(g);
        if n > 0 {
            self.add_param_grads(g.as_slice());
        }
        let (plane, channels, count) = (self.plane, self.sum_g.len(), T::of((n * self.plane) as f64));
        let (g, xhat) = (g.as_slice(), self.xhat.as_slice());
        let (weight, inv_std, sum_g, sum_g_xhat) = (&self.weight.value, &self.inv_std, &self.sum_g, &self.sum_g_xhat);
        self.io.write_input_grad(n, |dx| {
            for (k, ((gp, hp), dp)) in
                g.chunks_exact(plane).zip(xhat.chunks_exact(plane)).zip(dx.chunks_exact_mut(plane)).enumerate()
            {
                let c = k % channels;
                let scale = weight[c] * inv_std[c];
                let (mean_g, mean_g_xhat) = (sum_g[c] / count, sum_g_xhat[c] / count);
                for ((d, g), h) in dp.iter_mut().zip(gp).zip(hp) {
                    *d = scale * (*g - mean_g - *h * mean_g_xhat);
                }
            }
        })
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        let inv_std: Vec<T> = self.running_var.value.iter().map(|v| T::one() / (*v + T::of(self.eps)).sqrt()).collect();
        let mut y = x.clone();
        let (mean, weight, bias) = (&self.running_mean.value, &self.weight.value, &self.bias.value);
        normalize(x.as_slice(), self.plane, mean, &inv_std, weight, bias, y.as_mut_slice());
        y
    }

    fn io(&self) -> Option<&Io<T, N, N>> {
        Some(&self.io)
    }

    visit_parts!(tensors: weight, bias, running_mean, running_var, num_batches_tracked);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Model, NamedBuffer};
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn statistics_span_batch_height_and_width() {
        // Two channels of 1x2, two samples: channel 0 holds 1, 3, 5, 7 (mean 4,
        // biased variance 5, unbiased 20/3); channel 1 holds 2, 4, 2, 4 (mean 3,
        // variance 1, unbiased 4/3).
        let mut bn = BatchNorm2d::<f64, 4>::new::<2, 1, 2>(0.1, 0.0);
        let x = Batch::<f64, 4>::from_column_slice(&[1.0, 3.0, 2.0, 4.0, 5.0, 7.0, 2.0, 4.0]);
        let y = bn.forward(&x).clone();
        let s = 5f64.sqrt();
        let expected = [-3.0 / s, -1.0 / s, -1.0, 1.0, 1.0 / s, 3.0 / s, -1.0, 1.0];
        for (a, b) in y.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-12, "{y}");
        }
        assert!((bn.running_mean()[0] - 0.4).abs() < 1e-15 && (bn.running_mean()[1] - 0.3).abs() < 1e-15);
        assert!((bn.running_var()[0] - (0.9 + 0.1 * 20.0 / 3.0)).abs() < 1e-15);
        assert!((bn.running_var()[1] - (0.9 + 0.1 * 4.0 / 3.0)).abs() < 1e-15);
        assert_eq!(bn.num_batches_tracked(), 1);
    }

    #[test]
    fn eval_uses_running_statistics() {
        let mut bn = BatchNorm2d::<f64, 4>::new::<2, 1, 2>(0.1, 0.0);
        bn.weight_mut().copy_from_slice(&[2.0, 1.0]);
        bn.bias_mut().copy_from_slice(&[0.5, -1.0]);
        bn.running_mean.value.copy_from_slice(&[1.0, -1.0]);
        bn.running_var.value.copy_from_slice(&[4.0, 0.25]);
        let x = Batch::<f64, 4>::from_column_slice(&[3.0, 1.0, 0.0, -2.0]);
        // channel 0: 2 (x - 1) / 2 + 0.5; channel 1: (x + 1) / 0.5 - 1
        assert_eq!(bn.predict(&x).as_slice(), &[2.5, 0.5, 1.0, -3.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        for batch in [1, 3] {
            let mut bn = BatchNorm2d::<f64, { 3 * 2 * 3 }>::new::<3, 2, 3>(0.1, 1e-5);
            bn.weight_mut().copy_from_slice(&[1.5, -0.5, 2.0]);
            bn.bias_mut().copy_from_slice(&[0.1, 0.2, -0.3]);
            let report = grad_check(&mut LayerModel::new(bn), batch, 30 + batch as u64);
            report.assert_below(1e-6);
            assert_eq!(report.tensors, ["weight", "bias"]);
        }
    }

    #[test]
    fn parameters_and_buffers_are_named_and_shaped_as_pytorch() {
        let mut m = LayerModel::new(BatchNorm2d::<f32, 12>::new::<3, 2, 2>(0.1, 1e-5));
        m.forward_view(nalgebra::DMatrix::from_element(12, 2, 1.0f32).as_view()).unwrap();
        let params = m.parameters();
        assert!(params.iter().all(|p| p.kind == ParamKind::Norm && p.shape == [3]));
        let names: Vec<String> = m.buffers().iter().map(|b| b.name().to_string()).collect();
        assert_eq!(names, ["running_mean", "running_var", "num_batches_tracked"]);
        assert_eq!(m.buffers()[2], NamedBuffer::Count { name: "num_batches_tracked".into(), value: 1 });
    }

    #[test]
    #[should_panic(expected = "Expected more than 1 value per channel when training")]
    fn one_sample_of_one_pixel_is_refused() {
        BatchNorm2d::<f64, 2>::new::<2, 1, 1>(0.1, 1e-5).forward(&Batch::<f64, 2>::from_column_slice(&[3.0, -2.0]));
    }

    #[test]
    fn one_sample_of_several_pixels_trains() {
        // As PyTorch: 2 values per channel (1 sample of 1 x 2) are enough; the
        // unbiased variance of [1, 3] is 2.
        let mut bn = BatchNorm2d::<f64, 4>::new::<2, 1, 2>(0.1, 1e-5);
        let y = bn.forward(&Batch::<f64, 4>::from_column_slice(&[1.0, 3.0, -2.0, -2.0])).clone();
        assert!((y[0] + 1.0).abs() < 1e-5 && (y[1] - 1.0).abs() < 1e-5 && y[2] == 0.0 && y[3] == 0.0, "{y}");
        assert_eq!(bn.running_var(), &[0.9 + 0.1 * 2.0, 0.9]);
        assert_eq!(bn.num_batches_tracked(), 1);
    }

    #[test]
    fn empty_batch_changes_nothing_and_nan_stays_in_its_channel() {
        let mut bn = BatchNorm2d::<f32, 4>::new::<2, 1, 2>(0.1, 1e-5);
        assert_eq!(bn.forward(&Batch::zeros(0)).ncols(), 0);
        assert_eq!(bn.backward(&Batch::zeros(0)).ncols(), 0);
        assert_eq!(bn.num_batches_tracked(), 0);
        assert_eq!(bn.running_var(), &[1.0, 1.0]);
        let x = Batch::<f32, 4>::from_column_slice(&[f32::NAN, 1.0, 1.0, 2.0]);
        let y = bn.forward(&x).clone();
        assert!(y[0].is_nan() && y[1].is_nan());
        assert!((y[2] + 1.0).abs() < 1e-3 && (y[3] - 1.0).abs() < 1e-3);
        assert!(bn.running_mean()[0].is_nan() && bn.running_mean()[1].is_finite());
    }
}
