//! Batch normalization over the batch, per feature (Ioffe & Szegedy 2015), as
//! `torch.nn.BatchNorm1d`.

use super::BatchNorm2d;
use crate::layer::{visit_parts, Io};
use crate::{batch::Batch, kernels::Float, layer::Layer};

/// `batch_norm(momentum = 0.1, eps = 1e-5)` on `N` features.
///
/// Training normalizes each feature with the batch mean and the biased batch
/// variance, and moves the running statistics towards the batch's
/// (`running = (1 - momentum) running + momentum batch`) with the *unbiased*
/// variance, as PyTorch. Evaluation normalizes with the running statistics.
///
/// A training batch of 1 sample has no batch statistics (its output would be
/// `bias` whatever the input, its unbiased variance undefined): PyTorch raises
/// an error, and this layer panics (a network refuses such a batch before,
/// with a [`ShapeError`](crate::error::ShapeError) naming the item). A batch of 0
/// samples gives an empty output and updates nothing (not even
/// `num_batches_tracked`).
///
/// A feature vector is an image of `N` channels of 1x1 pixels, so this is
/// [`BatchNorm2d`] with one value per channel and sample: one implementation
/// of the numerics serves both.
#[derive(Clone, Debug)]
pub struct BatchNorm<T: Float, const N: usize>(BatchNorm2d<T, N>);

impl<T: Float, const N: usize> BatchNorm<T, N> {
    /// Weight 1, bias 0, running mean 0, running variance 1, as PyTorch.
    pub fn new(momentum: f64, eps: f64) -> Self {
        Self(BatchNorm2d::new::<N, 1, 1>(momentum, eps))
    }
    /// The `eps` added to the variance.
    pub fn eps(&self) -> f64 {
        self.0.eps()
    }
    /// The scale `weight`.
    pub fn weight(&self) -> &[T] {
        self.0.weight()
    }
    /// The scale `weight`, for editing.
    pub fn weight_mut(&mut self) -> &mut [T] {
        self.0.weight_mut()
    }
    /// The shift `bias`.
    pub fn bias(&self) -> &[T] {
        self.0.bias()
    }
    /// The shift `bias`, for editing.
    pub fn bias_mut(&mut self) -> &mut [T] {
        self.0.bias_mut()
    }
    /// The running mean.
    pub fn running_mean(&self) -> &[T] {
        self.0.running_mean()
    }
    /// The running (unbiased) variance.
    pub fn running_var(&self) -> &[T] {
        self.0.running_var()
    }
    /// How many training batches updated the running statistics.
    pub fn num_batches_tracked(&self) -> i64 {
        self.0.num_batches_tracked()
    }
}

impl<T: Float, const N: usize> Layer<T, N, N> for BatchNorm<T, N> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        self.0.forward(x)
    }

    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        self.0.backward(g)
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        self.0.predict(x)
    }

    fn io(&self) -> Option<&Io<T, N, N>> {
        self.0.io()
    }

    visit_parts!(layers: 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::ParamKind;
    use crate::layers::reference;
    use crate::model::{Model, NamedBuffer};
    use crate::testing::{grad_check, LayerModel};

    fn assert_close(what: &str, a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{what}: length");
        for (i, (a, b)) in a.iter().zip(b).enumerate() {
            assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{what}[{i}] = {a:e}, PyTorch {b:e}");
        }
    }

    #[test]
    fn train_and_eval_match_pytorch() {
        let table = include_str!("../../tests/data/norm.txt");
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
    #[should_panic(expected = "batch_norm: a training batch of 1 sample gives it 1 value per channel")]
    fn a_training_batch_of_one_is_refused_as_pytorch_refuses_it() {
        BatchNorm::<f64, 2>::new(0.1, 1e-5).forward(&Batch::<f64, 2>::from_column_slice(&[3.0, -2.0]));
    }

    #[test]
    fn one_sample_predicts_with_the_running_statistics() {
        let mut bn = BatchNorm::<f64, 2>::new(0.1, 1e-5);
        bn.forward(&Batch::<f64, 2>::from_column_slice(&[1.0, 2.0, 3.0, 6.0]));
        bn.bias_mut().copy_from_slice(&[0.5, -1.0]);
        let (mean, var) = (bn.running_mean().to_vec(), bn.running_var().to_vec());
        // Running statistics after one batch: 0.9 * (0, 1) + 0.1 * (mean, unbiased var) of [1, 3] and [2, 6].
        assert_eq!((mean.as_slice(), var.as_slice()), (&[0.2, 0.4][..], &[0.9 + 0.1 * 2.0, 0.9 + 0.1 * 8.0][..]));
        let y = bn.predict(&Batch::<f64, 2>::from_column_slice(&[3.0, -2.0]));
        let expected = [(3.0 - 0.2) / (1.1f64 + 1e-5).sqrt() + 0.5, (-2.0 - 0.4) / (1.7f64 + 1e-5).sqrt() - 1.0];
        assert!(y.iter().zip(expected).all(|(y, e)| (y - e).abs() < 1e-12), "{y} vs {expected:?}");
    }

    #[test]
    fn empty_batch_changes_nothing() {
        let mut bn = BatchNorm::<f32, 2>::new(0.1, 1e-5);
        assert_eq!(bn.forward(&Batch::zeros(0)).ncols(), 0);
        assert_eq!(bn.backward(&Batch::zeros(0)).ncols(), 0);
        assert_eq!(bn.predict(&Batch::zeros(0)).ncols(), 0);
        assert_eq!((bn.running_mean(), bn.running_var(), bn.num_batches_tracked()), (&[0.0; 2][..], &[1.0; 2][..], 0));
        assert!(LayerModel::new(bn).parameters().iter().all(|p| p.grad == [0.0; 2]));
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
