//! Losses on a batch of network outputs (one column per sample), averaged over
//! the batch as PyTorch's `reduction="mean"`: softmax cross-entropy over the
//! samples, MSE and binary cross-entropy over every element.

use nalgebra::{DMatrixView, DMatrixViewMut};

use crate::layers::sigmoid;
use crate::Float;

/// What the outputs are compared with.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Targets<'a, T: Float> {
    /// One class index per sample (softmax cross-entropy).
    Classes(&'a [usize]),
    /// A real target per output and sample, shaped as the outputs (MSE, BCE).
    Real(DMatrixView<'a, T>),
}

/// A loss function, as PyTorch's with `reduction="mean"`. More losses will
/// come: a `match` on it needs a `_` arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Loss {
    /// `nn.CrossEntropyLoss` on logits with class indices; mean over samples.
    SoftmaxCrossEntropy,
    /// `nn.MSELoss`: mean of squared differences over every element.
    Mse,
    /// `nn.BCEWithLogitsLoss`: mean over every element, targets in [0, 1].
    BinaryCrossEntropyWithLogits,
}

/// Outputs and targets that do not fit together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LossError {
    /// The loss needs the other kind of target.
    #[error("{loss:?} needs {expected} as targets; {}", target_kind_fix(*loss))]
    TargetKind { loss: Loss, expected: &'static str },
    /// Outputs and targets (or the gradient buffer) have different shapes.
    #[error("{what} is {}x{} (outputs x samples) but the outputs are {}x{}", found.0, found.1, expected.0, expected.1)]
    Shape { what: &'static str, expected: (usize, usize), found: (usize, usize) },
    /// A class index is not below the number of outputs.
    #[error("sample {sample} has class {class} but the network has {classes} outputs")]
    ClassOutOfRange { sample: usize, class: usize, classes: usize },
}

/// The loss to choose when `loss` was given the other kind of targets.
fn target_kind_fix(loss: Loss) -> &'static str {
    match loss {
        Loss::SoftmaxCrossEntropy => {
            "for real-valued targets choose `.loss(Loss::Mse)` (or `.loss(Loss::BinaryCrossEntropyWithLogits)` for \
             targets in [0, 1]); SoftmaxCrossEntropy is the default when no `.loss(..)` is set"
        }
        Loss::Mse | Loss::BinaryCrossEntropyWithLogits => {
            "for class indices choose `.loss(Loss::SoftmaxCrossEntropy)`, the default when no `.loss(..)` is set"
        }
    }
}

impl Loss {
    /// The mean loss of `outputs` against `targets`.
    pub fn value<T: Float>(&self, outputs: DMatrixView<'_, T>, targets: Targets<'_, T>) -> Result<f64, LossError> {
        self.eval(outputs, targets, None)
    }

    /// The mean loss, and dLoss/doutputs written into `grad` (shaped as
    /// `outputs`; pass a view of a kept buffer, so nothing is allocated).
    pub fn value_and_grad<T: Float>(
        &self,
        outputs: DMatrixView<'_, T>,
        targets: Targets<'_, T>,
        grad: DMatrixViewMut<'_, T>,
    ) -> Result<f64, LossError> {
        let expected = outputs.shape();
        if grad.shape() != expected {
            return Err(LossError::Shape { what: "gradient buffer", expected, found: grad.shape() });
        }
        self.eval(outputs, targets, Some(grad))
    }

    fn eval<T: Float>(
        &self,
        y: DMatrixView<'_, T>,
        targets: Targets<'_, T>,
        grad: Option<DMatrixViewMut<'_, T>>,
    ) -> Result<f64, LossError> {
        let (rows, n) = y.shape();
        match (self, targets) {
            (Loss::SoftmaxCrossEntropy, Targets::Classes(classes)) => {
                if classes.len() != n {
                    return Err(LossError::Shape { what: "targets", expected: (rows, n), found: (1, classes.len()) });
                }
                if let Some((sample, &class)) = classes.iter().enumerate().find(|(_, &c)| c >= rows) {
                    return Err(LossError::ClassOutOfRange { sample, class, classes: rows });
                }
                Ok(softmax_cross_entropy(y, classes, grad))
            }
            (Loss::Mse | Loss::BinaryCrossEntropyWithLogits, Targets::Real(t)) => {
                if t.shape() != (rows, n) {
                    return Err(LossError::Shape { what: "targets", expected: (rows, n), found: t.shape() });
                }
                Ok(if *self == Loss::Mse { mse(y, t, grad) } else { bce_with_logits(y, t, grad) })
            }
            (Loss::SoftmaxCrossEntropy, Targets::Real(_)) => {
                Err(LossError::TargetKind { loss: *self, expected: "class indices" })
            }
            (_, Targets::Classes(_)) => Err(LossError::TargetKind { loss: *self, expected: "real targets" }),
        }
    }
}

/// Per sample `logsumexp(y) - y[c]`, with the maximum subtracted before `exp`
/// so logits of any magnitude neither overflow nor lose the small terms;
/// the gradient is `(softmax(y) - onehot(c)) / n`.
fn softmax_cross_entropy<T: Float>(
    y: DMatrixView<'_, T>,
    classes: &[usize],
    mut grad: Option<DMatrixViewMut<'_, T>>,
) -> f64 {
    let n = y.ncols();
    let inv_n = T::of(1.0 / n as f64);
    let mut total = 0.0;
    for (j, &c) in classes.iter().enumerate() {
        let col = y.column(j);
        let max = col.iter().copied().fold(col[0], |a, b| if b > a { b } else { a });
        let sum = col.iter().fold(T::zero(), |s, &v| s + (v - max).exp());
        let lse = max + sum.ln();
        total += (lse - col[c]).as_f64();
        if let Some(g) = grad.as_mut() {
            for i in 0..col.len() {
                let p = (col[i] - lse).exp();
                g[(i, j)] = (if i == c { p - T::one() } else { p }) * inv_n;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        total / n as f64
    }
}

fn mse<T: Float>(y: DMatrixView<'_, T>, t: DMatrixView<'_, T>, mut grad: Option<DMatrixViewMut<'_, T>>) -> f64 {
    let count = y.len();
    let scale = T::of(2.0 / count.max(1) as f64);
    let mut total = 0.0;
    for j in 0..y.ncols() {
        for i in 0..y.nrows() {
            let d = y[(i, j)] - t[(i, j)];
            total += (d * d).as_f64();
            if let Some(g) = grad.as_mut() {
                g[(i, j)] = scale * d;
            }
        }
    }
    total / count.max(1) as f64
}

/// `max(y, 0) - y t + ln(1 + e^-|y|)`, PyTorch's overflow-free form; the
/// gradient is `(sigmoid(y) - t) / count`.
fn bce_with_logits<T: Float>(
    y: DMatrixView<'_, T>,
    t: DMatrixView<'_, T>,
    mut grad: Option<DMatrixViewMut<'_, T>>,
) -> f64 {
    let count = y.len();
    let inv = T::of(1.0 / count.max(1) as f64);
    let mut total = 0.0;
    for j in 0..y.ncols() {
        for i in 0..y.nrows() {
            let (x, z) = (y[(i, j)], t[(i, j)]);
            let relu = if x > T::zero() { x } else { T::zero() };
            total += (relu - x * z + (-x.abs()).exp().ln_1p()).as_f64();
            if let Some(g) = grad.as_mut() {
                g[(i, j)] = (sigmoid(x) - z) * inv;
            }
        }
    }
    total / count.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    /// Central differences of the loss with respect to every output, f64.
    fn check_grad(loss: Loss, y: &DMatrix<f64>, targets: Targets<'_, f64>) {
        let mut grad = DMatrix::zeros(y.nrows(), y.ncols());
        loss.value_and_grad(y.as_view(), targets, grad.as_view_mut()).unwrap();
        let h = 1e-6;
        let mut worst: f64 = 0.0;
        for k in 0..y.len() {
            let mut yp = y.clone();
            yp[k] += h;
            let lp = loss.value(yp.as_view(), targets).unwrap();
            yp[k] -= 2.0 * h;
            let lm = loss.value(yp.as_view(), targets).unwrap();
            let numeric = (lp - lm) / (2.0 * h);
            worst = worst.max((grad[k] - numeric).abs() / grad[k].abs().max(numeric.abs()).max(1e-3));
        }
        assert!(worst < 1e-6, "{loss:?}: gradient differs from finite differences by {worst:e}");
    }

    fn logits() -> DMatrix<f64> {
        DMatrix::from_column_slice(3, 4, &[0.5, -1.2, 2.0, 0.0, 0.3, -0.7, 1.5, 1.5, -2.0, -0.1, 0.25, 3.0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        let y = logits();
        check_grad(Loss::SoftmaxCrossEntropy, &y, Targets::Classes(&[2, 0, 1, 2]));
        let t = DMatrix::from_fn(3, 4, |i, j| ((i * 4 + j) % 5) as f64 * 0.2);
        check_grad(Loss::Mse, &y, Targets::Real(t.as_view()));
        check_grad(Loss::BinaryCrossEntropyWithLogits, &y, Targets::Real(t.as_view()));
    }

    #[test]
    fn cross_entropy_gradient_is_finite_at_logits_of_magnitude_1000() {
        let y = DMatrix::from_column_slice(3, 2, &[1000.0, -1000.0, 999.0, -1000.0, 1000.0, 0.0]);
        check_grad(Loss::SoftmaxCrossEntropy, &y, Targets::Classes(&[2, 0]));
    }

    #[test]
    fn mismatched_targets_are_typed_errors() {
        let y = logits();
        assert_eq!(
            Loss::SoftmaxCrossEntropy.value(y.as_view(), Targets::Classes(&[0, 1, 3, 0])),
            Err(LossError::ClassOutOfRange { sample: 2, class: 3, classes: 3 })
        );
        assert!(matches!(
            Loss::SoftmaxCrossEntropy.value(y.as_view(), Targets::Classes(&[0])),
            Err(LossError::Shape { what: "targets", .. })
        ));
        assert!(matches!(
            Loss::Mse.value(y.as_view(), Targets::Classes(&[0, 1, 2, 0])),
            Err(LossError::TargetKind { .. })
        ));
        let mut small = DMatrix::zeros(3, 3);
        assert!(matches!(
            Loss::SoftmaxCrossEntropy.value_and_grad(y.as_view(), Targets::Classes(&[0, 1, 2, 0]), small.as_view_mut()),
            Err(LossError::Shape { what: "gradient buffer", .. })
        ));
    }
}
