//! Losses on a batch of network outputs (one column per sample), averaged over
//! the batch as PyTorch's `reduction="mean"`: softmax cross-entropy over the
//! samples, MSE and binary cross-entropy over every element. With outputs
//! per time step (`steps * M` rows, [`Targets::StepClasses`],
//! [`Targets::StepReal`]) the average runs over every real step of every
//! sequence, as PyTorch's losses on a packed sequence's data: padding counts
//! for nothing and gets a zero gradient.

use nalgebra::allocator::Allocator;
use nalgebra::{Const, DMatrixView, DMatrixViewMut, DefaultAllocator, Dim, Dyn, Matrix, OMatrix, RawStorage, Storage};

use crate::kernels::sigmoid;
use crate::kernels::Float;

/// What the outputs are compared with.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Targets<'a, T: Float> {
    /// One class index per sample (softmax cross-entropy).
    Classes(&'a [usize]),
    /// A real target per output and sample, shaped as the outputs (MSE, BCE).
    Real(DMatrixView<'a, T>),
    /// A class per time step, for outputs per step of sequences of different
    /// lengths (`steps * M` rows): `classes[j * steps + t]` is sample `j`'s
    /// class at step `t`; steps at or past `lengths[j]` are padding, whatever
    /// they hold (softmax cross-entropy).
    StepClasses {
        /// Each sample's class at each step, sample after sample: `steps` entries per sample.
        classes: &'a [usize],
        /// Each sample's real steps.
        lengths: &'a [usize],
    },
    /// Real targets per time step, shaped as the outputs (`steps * M` rows,
    /// one column per sample, `per_step` = `M`); the rows of steps at or past
    /// `lengths[j]` are padding (MSE, BCE).
    StepReal {
        /// The targets: `steps * per_step` rows, one column per sample.
        values: DMatrixView<'a, T>,
        /// Outputs per step (`M`).
        per_step: usize,
        /// Each sample's real steps.
        lengths: &'a [usize],
    },
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
    TargetKind {
        /// The loss.
        loss: Loss,
        /// The targets it needs, e.g. "class indices".
        expected: &'static str,
    },
    /// Outputs and targets (or the gradient buffer) have different shapes.
    #[error("{what} is {}x{} (outputs x samples) but the outputs are {}x{}", found.0, found.1, expected.0, expected.1)]
    Shape {
        /// What had the wrong shape: "targets" or the gradient buffer.
        what: &'static str,
        /// The shape of the outputs: (outputs, samples).
        expected: (usize, usize),
        /// Its shape: (rows, columns).
        found: (usize, usize),
    },
    /// A class index is not below the number of outputs.
    #[error("sample {sample} has class {class} but the network has {classes} outputs")]
    ClassOutOfRange {
        /// The sample with the bad class.
        sample: usize,
        /// Its class.
        class: usize,
        /// Outputs of the network, which the class must be below.
        classes: usize,
    },
    /// A class of a real time step is not below the number of outputs per step.
    #[error("sample {sample}, step {step} has class {class} but the network has {classes} outputs per step")]
    StepClassOutOfRange {
        /// The sample with the bad class.
        sample: usize,
        /// The time step holding it.
        step: usize,
        /// Its class.
        class: usize,
        /// Outputs per step, which the class must be below.
        classes: usize,
    },
    /// Per-step targets whose lengths do not fit the outputs: another count
    /// than samples, a length of 0 or beyond the steps, or outputs that are
    /// not a whole number of steps.
    #[error("per-step targets for {samples} samples of {steps} steps do not fit: {problem}")]
    Steps {
        /// Samples of the outputs.
        samples: usize,
        /// Time steps the outputs were taken as.
        steps: usize,
        /// What does not fit.
        problem: String,
    },
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
        let classes = match (self, targets) {
            (Loss::SoftmaxCrossEntropy, Targets::Classes(c))
            | (Loss::SoftmaxCrossEntropy, Targets::StepClasses { classes: c, .. }) => c,
            (
                Loss::Mse | Loss::BinaryCrossEntropyWithLogits,
                Targets::Real(t) | Targets::StepReal { values: t, .. },
            ) => {
                if t.shape() != (rows, n) {
                    return Err(LossError::Shape { what: "targets", expected: (rows, n), found: t.shape() });
                }
                let layout = match targets {
                    Targets::StepReal { per_step, lengths, .. } => {
                        // Not a whole number of steps: no steps, which `Layout::steps` refuses.
                        let steps = rows.checked_div(per_step).filter(|s| s * per_step == rows).unwrap_or(0);
                        Layout::steps(rows, n, steps, lengths)?
                    }
                    _ => Layout::one_step(rows),
                };
                let f = if *self == Loss::Mse { squared_error::<T> } else { bce_with_logits::<T> };
                return Ok(elementwise(y, t, &layout, grad, f));
            }
            (Loss::SoftmaxCrossEntropy, _) => {
                return Err(LossError::TargetKind { loss: *self, expected: "class indices" })
            }
            (Loss::Mse | Loss::BinaryCrossEntropyWithLogits, _) => {
                return Err(LossError::TargetKind { loss: *self, expected: "real targets" })
            }
        };
        let layout = match targets {
            Targets::StepClasses { lengths, .. } => {
                let steps = classes.len().checked_div(n).unwrap_or(0);
                if classes.len() != steps * n {
                    return Err(LossError::Shape { what: "targets", expected: (rows, n), found: (1, classes.len()) });
                }
                Layout::steps(rows, n, steps, lengths)?
            }
            _ if classes.len() != n => {
                return Err(LossError::Shape { what: "targets", expected: (rows, n), found: (1, classes.len()) })
            }
            _ => Layout::one_step(rows),
        };
        for sample in 0..n {
            for step in 0..layout.real(sample) {
                let class = classes[sample * layout.steps + step];
                if class >= layout.per_step {
                    return Err(match targets {
                        Targets::StepClasses { .. } => {
                            LossError::StepClassOutOfRange { sample, step, class, classes: layout.per_step }
                        }
                        _ => LossError::ClassOutOfRange { sample, class, classes: layout.per_step },
                    });
                }
            }
        }
        Ok(cross_entropy(y, classes, &layout, grad))
    }
}

/// Which entries of the outputs count: `per_step` rows per step, `steps`
/// steps per sample, of which sample `j` has `lengths[j]` real ones (all,
/// without lengths).
struct Layout<'a> {
    per_step: usize,
    steps: usize,
    lengths: Option<&'a [usize]>,
}

impl<'a> Layout<'a> {
    /// One output vector per sample.
    fn one_step(rows: usize) -> Self {
        Layout { per_step: rows, steps: 1, lengths: None }
    }

    /// `rows` outputs per sample of `steps` steps, sample `j` of `lengths[j]` real steps.
    fn steps(rows: usize, n: usize, steps: usize, lengths: &'a [usize]) -> Result<Self, LossError> {
        let problem = |problem: String| Err(LossError::Steps { samples: n, steps, problem });
        if lengths.len() != n {
            return problem(format!("{} lengths for {n} samples", lengths.len()));
        }
        if steps == 0 || !rows.is_multiple_of(steps) {
            return problem(format!("{rows} output rows are not a whole number of steps"));
        }
        if let Some((sample, length)) = lengths.iter().enumerate().find(|(_, &l)| l == 0 || l > steps) {
            return problem(format!("sample {sample} has length {length}, outside 1..={steps}"));
        }
        Ok(Layout { per_step: rows / steps, steps, lengths: Some(lengths) })
    }

    /// Real steps of sample `j`.
    fn real(&self, j: usize) -> usize {
        self.lengths.map_or(self.steps, |l| l[j])
    }

    /// Real steps over the `n` samples: what the mean divides by.
    fn count(&self, n: usize) -> usize {
        self.lengths.map_or(self.steps * n, |l| l.iter().sum())
    }
}

/// Per real step `logsumexp(y) - y[c]`, with the maximum subtracted before
/// `exp` so logits of any magnitude neither overflow nor lose the small
/// terms; the gradient is `(softmax(y) - onehot(c)) / count`, zero at padding.
fn cross_entropy<T: Float>(
    y: DMatrixView<'_, T>,
    classes: &[usize],
    layout: &Layout<'_>,
    grad: Option<DMatrixViewMut<'_, T>>,
) -> f64 {
    let (m, n) = (layout.per_step, y.ncols());
    let count = layout.count(n);
    let column = |j: usize, t: usize| y.generic_view((t * m, j), (Dyn(m), Const::<1>));
    let max_of = |col: &[T]| col.iter().copied().fold(col[0], |a, b| if b > a { b } else { a });
    let real = || (0..n).flat_map(|j| (0..layout.real(j)).map(move |t| (j, t)));
    let loss = |col: &[T], c: usize, max: T, sum: T| (max + sum.ln() - col[c]).as_f64();
    let total = match grad {
        None => real()
            .map(|(j, t)| {
                let col = column(j, t);
                let col = col.as_slice();
                let max = max_of(col);
                loss(col, classes[j * layout.steps + t], max, col.iter().fold(T::zero(), |s, &v| s + (v - max).exp()))
            })
            .sum(),
        Some(mut g) => {
            if layout.lengths.is_some() {
                g.fill(T::zero());
            }
            let inv = T::of(1.0 / count.max(1) as f64);
            // softmax as torch computes it, `e^(y - max) / sum`: each
            // exponential once, every step's in one vector pass (vectorized
            // for f32, as torch's; a call per step of ten classes cost W1
            // more than the exponentials themselves).
            T::with_buf(|buf| {
                // The products' scratch buffer: grown, never shrunk, so that
                // they find it as long as they left it. Every step's `y - max`,
                // then every step's maximum.
                if buf.len() < count * (m + 1) {
                    buf.resize(count * (m + 1), T::zero());
                }
                let (e, maxes) = buf[..count * (m + 1)].split_at_mut(count * m);
                for (((j, t), e), max) in real().zip(e.chunks_exact_mut(m)).zip(maxes.iter_mut()) {
                    let col = column(j, t);
                    let col = col.as_slice();
                    *max = max_of(col);
                    for (e, &v) in e.iter_mut().zip(col) {
                        *e = v - *max;
                    }
                }
                T::exp_in_place(e);
                let mut total = 0.0;
                for (((j, t), e), &max) in real().zip(e.chunks_exact(m)).zip(maxes.iter()) {
                    let c = classes[j * layout.steps + t];
                    let col = column(j, t);
                    let sum = e.iter().fold(T::zero(), |s, &e| s + e);
                    total += loss(col.as_slice(), c, max, sum);
                    let scale = inv / sum;
                    let mut g = g.generic_view_mut((t * m, j), (Dyn(m), Const::<1>));
                    for (i, (g, e)) in g.as_mut_slice().iter_mut().zip(e).enumerate() {
                        *g = if i == c { *e * scale - inv } else { *e * scale };
                    }
                }
                total
            })
        }
    };
    if count == 0 {
        0.0
    } else {
        total / count as f64
    }
}

/// `(y - t)^2` and its derivative in `y`.
fn squared_error<T: Float>(y: T, t: T) -> (f64, T) {
    let d = y - t;
    ((d * d).as_f64(), T::of(2.0) * d)
}

/// `max(y, 0) - y t + ln(1 + e^-|y|)`, PyTorch's overflow-free form, and its
/// derivative `sigmoid(y) - t`.
fn bce_with_logits<T: Float>(x: T, z: T) -> (f64, T) {
    let relu = if x > T::zero() { x } else { T::zero() };
    ((relu - x * z + (-x.abs()).exp().ln_1p()).as_f64(), sigmoid(x) - z)
}

/// The mean of `f` over every element of every real step; its gradient
/// divided by that count, zero at padding.
fn elementwise<T: Float>(
    y: DMatrixView<'_, T>,
    t: DMatrixView<'_, T>,
    layout: &Layout<'_>,
    mut grad: Option<DMatrixViewMut<'_, T>>,
    f: fn(T, T) -> (f64, T),
) -> f64 {
    let n = y.ncols();
    let count = layout.count(n) * layout.per_step;
    let scale = T::of(1.0 / count.max(1) as f64);
    if let Some(g) = grad.as_mut().filter(|_| layout.lengths.is_some()) {
        g.fill(T::zero());
    }
    let mut total = 0.0;
    for j in 0..n {
        for i in 0..layout.real(j) * layout.per_step {
            let (loss, d) = f(y[(i, j)], t[(i, j)]);
            total += loss;
            if let Some(g) = grad.as_mut() {
                g[(i, j)] = scale * d;
            }
        }
    }
    total / count.max(1) as f64
}

/// The predicted class of each sample (column): its largest output, the
/// first on ties. For a [`Batch`](crate::batch::Batch) or any matrix of outputs,
/// one column per sample.
///
/// A one-output network trained with binary cross-entropy predicts class 1
/// where its output (a logit) is above 0.
///
/// ```
/// # use nn_runtime as nn;
/// use nn::train::{predicted_classes, probabilities};
/// use nn::Batch;
///
/// let logits = Batch::<f64, 3>::from_column_slice(&[2.0, 0.5, -1.0, 0.0, 3.0, 3.0]);
/// assert_eq!(predicted_classes(&logits), [0, 1]);
/// let p = probabilities(&logits);
/// assert!((p.column(0).sum() - 1.0).abs() < 1e-15);
/// assert_eq!(p[(1, 1)], p[(2, 1)]);
/// ```
pub fn predicted_classes<T: Float, R: Dim, C: Dim, S: RawStorage<T, R, C>>(outputs: &Matrix<T, R, C, S>) -> Vec<usize> {
    if outputs.nrows() == 1 {
        // One output is a logit of class 1 (binary cross-entropy), not a
        // choice among one class.
        return outputs.iter().map(|&v| usize::from(v > T::zero())).collect();
    }
    (0..outputs.ncols()).map(|j| argmax(outputs, j)).collect()
}

/// The softmax of each sample's outputs (column): the class probabilities
/// of a network trained with softmax cross-entropy, shaped as `outputs`.
/// For binary cross-entropy the probability of class 1 is
/// [`sigmoid`](crate::kernels::sigmoid) of the output instead.
pub fn probabilities<T: Float, R: Dim, C: Dim, S: Storage<T, R, C>>(outputs: &Matrix<T, R, C, S>) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut p = outputs.clone_owned();
    for mut col in p.column_iter_mut() {
        // Shifted by the maximum, so large logits do not overflow.
        let max = col.iter().copied().fold(T::of(f64::NEG_INFINITY), |a, b| if b > a { b } else { a });
        col.iter_mut().for_each(|v| *v = (*v - max).exp());
        let sum = col.sum();
        col /= sum;
    }
    p
}

/// The largest output of sample `j` (the first, on ties).
pub(crate) fn argmax<T: Float, R: Dim, C: Dim, S: RawStorage<T, R, C>>(
    outputs: &Matrix<T, R, C, S>,
    j: usize,
) -> usize {
    let col = outputs.column(j);
    (1..col.len()).fold(0, |best, i| if col[i] > col[best] { i } else { best })
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

    /// Outputs per step of three sequences of lengths 2, 3, 1 (3 steps of 2
    /// outputs each: 6 rows): the loss is the mean over the six real steps,
    /// as the plain loss on those steps alone, and padding has no gradient.
    #[test]
    fn per_step_losses_average_over_real_steps_and_ignore_padding() {
        let lengths = [2, 3, 1];
        let y = DMatrix::from_fn(6, 3, |i, j| ((i * 3 + j) as f64 * 0.7).sin() * 2.0);
        // Padding holds anything: a class out of range, a huge target.
        let classes = [1, 0, 9, 0, 1, 1, 1, 7, 7];
        let t = DMatrix::from_fn(6, 3, |i, j| if i / 2 < lengths[j] { (i + j) as f64 * 0.1 } else { 1e9 });
        let real: Vec<(usize, usize)> = (0..3).flat_map(|j| (0..lengths[j]).map(move |s| (s, j))).collect();
        let packed = DMatrix::from_fn(2, real.len(), |i, k| y[(2 * real[k].0 + i, real[k].1)]);
        let packed_t = DMatrix::from_fn(2, real.len(), |i, k| t[(2 * real[k].0 + i, real[k].1)]);
        let packed_classes: Vec<usize> = real.iter().map(|&(s, j)| classes[3 * j + s]).collect();
        let cases = [
            (
                Loss::SoftmaxCrossEntropy,
                Targets::StepClasses { classes: &classes, lengths: &lengths },
                Targets::Classes(&packed_classes),
            ),
            (
                Loss::Mse,
                Targets::StepReal { values: t.as_view(), per_step: 2, lengths: &lengths },
                Targets::Real(packed_t.as_view()),
            ),
            (
                Loss::BinaryCrossEntropyWithLogits,
                Targets::StepReal { values: t.as_view(), per_step: 2, lengths: &lengths },
                Targets::Real(packed_t.as_view()),
            ),
        ];
        for (loss, per_step, plain) in cases {
            let mut g = DMatrix::from_element(6, 3, f64::NAN);
            let value = loss.value_and_grad(y.as_view(), per_step, g.as_view_mut()).unwrap();
            let mut pg = DMatrix::zeros(2, real.len());
            let expected = loss.value_and_grad(packed.as_view(), plain, pg.as_view_mut()).unwrap();
            assert!((value - expected).abs() < 1e-14, "{loss:?}: {value} vs {expected}");
            for (k, &(s, j)) in real.iter().enumerate() {
                for i in 0..2 {
                    assert!((g[(2 * s + i, j)] - pg[(i, k)]).abs() < 1e-15, "{loss:?}");
                }
            }
            for (j, &length) in lengths.iter().enumerate() {
                assert!(g.view((2 * length, j), (6 - 2 * length, 1)).iter().all(|v| *v == 0.0), "{loss:?} padding");
            }
            check_grad(loss, &y, per_step);
        }
    }

    #[test]
    fn per_step_targets_that_do_not_fit_are_errors() {
        let y = DMatrix::<f64>::zeros(6, 2);
        let steps =
            |classes, lengths| Loss::SoftmaxCrossEntropy.value(y.as_view(), Targets::StepClasses { classes, lengths });
        assert_eq!(
            steps(&[0, 1, 0, 1, 2, 1], &[3, 2]),
            Err(LossError::StepClassOutOfRange { sample: 1, step: 1, class: 2, classes: 2 })
        );
        assert!(matches!(steps(&[0; 6], &[3]), Err(LossError::Steps { .. })));
        assert!(matches!(steps(&[0; 6], &[4, 1]), Err(LossError::Steps { .. })));
        assert!(matches!(steps(&[0; 6], &[0, 1]), Err(LossError::Steps { .. })));
        let t = DMatrix::<f64>::zeros(6, 2);
        let real =
            Loss::Mse.value(y.as_view(), Targets::StepReal { values: t.as_view(), per_step: 4, lengths: &[1, 1] });
        assert!(matches!(real, Err(LossError::Steps { .. })), "6 rows are not steps of 4");
        let err = steps(&[0; 6], &[3]).unwrap_err().to_string();
        assert!(err.contains("1 lengths for 2 samples"), "{err}");
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

    #[test]
    fn predicted_classes_and_probabilities_of_logits() {
        let logits = DMatrix::from_column_slice(2, 3, &[0.0, 3f64.ln(), 5.0, -5.0, 1000.0, 1000.0]);
        assert_eq!(predicted_classes(&logits), [1, 0, 0]);
        let p = probabilities(&logits);
        let close_to = |a: f64, b: f64| (a - b).abs() < 1e-15;
        assert!(close_to(p[(0, 0)], 0.25) && close_to(p[(1, 0)], 0.75));
        assert_eq!((p[(0, 2)], p[(1, 2)]), (0.5, 0.5), "large logits do not overflow");
        let batch = crate::batch::Batch::<f32, 2>::from_column_slice(&[1.0, 2.0]);
        assert_eq!(predicted_classes(&batch), [1]);
        // One output: a logit of class 1, as binary cross-entropy trains it.
        let binary = crate::batch::Batch::<f32, 1>::from_column_slice(&[-0.5, 0.0, 2.0, f32::NAN]);
        assert_eq!(predicted_classes(&binary), [0, 0, 1, 0]);
        assert_eq!(probabilities(&batch).shape(), (2, 1));
    }
}
