//! What a model gets right on a dataset, in evaluation mode: its loss,
//! accuracy and confusion matrix with per-class precision, recall and F1 for
//! classes, MAE and RMSE for real targets; and the predicted classes and
//! probabilities of a classification network's outputs.

use std::fmt;

use nalgebra::DMatrixView;

use super::TrainError;
use crate::data::Dataset;
use crate::loss::argmax;
use crate::{
    kernels::Float,
    loss::{Loss, LossError, Targets},
    model::Model,
};

/// A model's loss on a dataset, and the metrics its labels allow. More
/// metrics may come: read it, do not build it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Evaluation {
    /// The loss on all of the data, as [`Loss::value`](crate::loss::Loss::value) reduces it (PyTorch's mean).
    pub loss: f64,
    /// Share of samples classified right: the largest output is the class
    /// (class labels), or for binary cross-entropy the sign of the logit
    /// (probability above 0.5) agrees with a target of 1 or 0 (see [`ConfusionMatrix`]).
    pub accuracy: Option<f64>,
    /// For class labels and for binary cross-entropy: how often each class
    /// was predicted as each class, with per-class precision, recall and F1.
    pub confusion: Option<ConfusionMatrix>,
    /// For real targets (other than binary cross-entropy's): the mean absolute
    /// error over every output of every sample (`nn.L1Loss`).
    pub mae: Option<f64>,
    /// The root of the mean squared error over every output of every sample.
    pub rmse: Option<f64>,
}

/// Runs `model.predict` on all of `data` and measures `loss` and the metrics
/// the labels allow ([`Evaluation`]).
pub fn evaluate<T: Float, M: Model<T>>(model: &M, loss: Loss, data: &Dataset<T>) -> Result<Evaluation, TrainError> {
    if !M::accepts_rows(data.width()) {
        return Err(TrainError::Width { what: "evaluation data", expected: M::INPUT, found: data.width() });
    }
    let outputs = predict(model, data)?;
    let outputs = outputs.as_view();
    let targets = data.targets();
    let value = loss.value(outputs, targets).map_err(|e| TrainError::Targets { what: "evaluation data", error: e })?;
    let confusion = ConfusionMatrix::of(loss, outputs, targets, data.classes().unwrap_or(0));
    let (mae, rmse) = match (confusion.is_some(), targets) {
        (false, Targets::Real(t) | Targets::StepReal { values: t, .. }) => {
            let (mut count, mut abs, mut sq) = (0usize, 0.0, 0.0);
            for (j, (y, t)) in outputs.column_iter().zip(t.column_iter()).enumerate() {
                // With outputs per step, only the rows of real steps.
                let rows = match targets {
                    Targets::StepReal { per_step, lengths, .. } => per_step * lengths[j],
                    _ => y.len(),
                };
                for (y, t) in y.iter().zip(t.iter()).take(rows) {
                    let d = (*y - *t).as_f64();
                    (count, abs, sq) = (count + 1, abs + d.abs(), sq + d * d);
                }
            }
            let count = count.max(1) as f64;
            (Some(abs / count), Some((sq / count).sqrt()))
        }
        _ => (None, None),
    };
    let accuracy = confusion.as_ref().map(ConfusionMatrix::accuracy);
    Ok(Evaluation { loss: value, accuracy, confusion, mae, rmse })
}

/// How often each class was predicted as each class, with the scores
/// derived from it.
///
/// For a network trained with binary cross-entropy it is 2x2: class 1 is a
/// target of at least 0.5 or a positive logit, class 0 the rest, counted
/// over every output of every sample.
///
/// Precision, recall and F1 follow scikit-learn: a score whose denominator
/// is 0 (a class never predicted, or without samples) is 0, and the macro
/// averages run over the classes that occur among the true or predicted ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major: `counts[actual * classes + predicted]`.
    counts: Vec<usize>,
}

impl ConfusionMatrix {
    /// The matrix of `loss`'s predictions, or `None` when its targets are not
    /// classes: argmax against class labels (at every real step, for a class
    /// per step), sign against binary targets.
    fn of<T: Float>(loss: Loss, outputs: DMatrixView<'_, T>, targets: Targets<'_, T>, labels: usize) -> Option<Self> {
        match (loss, targets) {
            (_, Targets::Classes(actual)) => Some(Self::by_argmax(outputs, actual, labels)),
            (_, Targets::StepClasses { classes, lengths }) => {
                let steps = classes.len().checked_div(lengths.len()).unwrap_or(0);
                let m = outputs.nrows().checked_div(steps).unwrap_or(0);
                let pairs = lengths.iter().enumerate().flat_map(|(j, &length)| {
                    (0..length).map(move |t| (classes[j * steps + t], argmax(&outputs.view((t * m, j), (m, 1)), 0)))
                });
                Some(Self::from_pairs(labels.max(m), pairs))
            }
            (Loss::BinaryCrossEntropyWithLogits, Targets::Real(t)) => {
                let class = |positive: bool| usize::from(positive);
                let pairs =
                    t.iter().zip(outputs.iter()).map(|(t, y)| (class(t.as_f64() >= 0.5), class(*y > T::zero())));
                Some(Self::from_pairs(2, pairs))
            }
            _ => None,
        }
    }

    /// Each sample's class against its largest output, over `labels` classes
    /// or as many as there are outputs, if more.
    fn by_argmax<T: Float>(outputs: DMatrixView<'_, T>, actual: &[usize], labels: usize) -> Self {
        let predicted = (0..outputs.ncols()).map(|j| argmax(&outputs, j));
        Self::from_pairs(labels.max(outputs.nrows()), actual.iter().copied().zip(predicted))
    }

    /// Counts (actual, predicted) pairs, each below `classes`.
    fn from_pairs(classes: usize, pairs: impl Iterator<Item = (usize, usize)>) -> Self {
        let mut counts = vec![0; classes * classes];
        for (actual, predicted) in pairs {
            counts[actual * classes + predicted] += 1;
        }
        Self { classes, counts }
    }

    /// Number of classes (rows and columns).
    pub fn classes(&self) -> usize {
        self.classes
    }
    /// How many samples of class `actual` were predicted as `predicted`
    /// (0 for classes outside the matrix).
    pub fn count(&self, actual: usize, predicted: usize) -> usize {
        if actual < self.classes && predicted < self.classes {
            self.counts[actual * self.classes + predicted]
        } else {
            0
        }
    }
    /// Share of samples on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.counts.iter().sum();
        let correct: usize = (0..self.classes).map(|c| self.count(c, c)).sum();
        correct as f64 / total.max(1) as f64
    }

    /// Samples of class `c` (its row's sum).
    pub fn support(&self, c: usize) -> usize {
        (0..self.classes).map(|p| self.count(c, p)).sum()
    }
    /// Samples predicted as `c` (its column's sum).
    fn predicted_as(&self, c: usize) -> usize {
        (0..self.classes).map(|a| self.count(a, c)).sum()
    }

    /// Of the samples predicted as `c`, the share that are `c`.
    pub fn precision(&self, c: usize) -> f64 {
        ratio(self.count(c, c), self.predicted_as(c))
    }
    /// Of the samples of class `c`, the share predicted as `c`.
    pub fn recall(&self, c: usize) -> f64 {
        ratio(self.count(c, c), self.support(c))
    }
    /// The harmonic mean of precision and recall of `c`, computed as
    /// `2 tp / (2 tp + fp + fn)`.
    pub fn f1(&self, c: usize) -> f64 {
        let tp = self.count(c, c);
        ratio(2 * tp, self.support(c) + self.predicted_as(c))
    }

    /// The classes the macro averages run over: those with samples or predictions.
    fn present(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.classes).filter(|&c| self.support(c) + self.predicted_as(c) > 0)
    }
    fn macro_average(&self, score: impl Fn(usize) -> f64) -> f64 {
        let (sum, n) = self.present().fold((0.0, 0), |(s, n), c| (s + score(c), n + 1));
        if n == 0 {
            0.0
        } else {
            sum / n as f64
        }
    }
    /// The mean of [`Self::precision`] over the classes present.
    pub fn macro_precision(&self) -> f64 {
        self.macro_average(|c| self.precision(c))
    }
    /// The mean of [`Self::recall`] over the classes present.
    pub fn macro_recall(&self) -> f64 {
        self.macro_average(|c| self.recall(c))
    }
    /// The mean of [`Self::f1`] over the classes present.
    pub fn macro_f1(&self) -> f64 {
        self.macro_average(|c| self.f1(c))
    }

    /// A table of precision, recall, F1 and support per class, and their
    /// macro averages (scikit-learn's `classification_report`).
    pub fn report(&self) -> String {
        let mut out = format!("{:>9}  {:>9}  {:>6}  {:>6}  {:>7}\n", "class", "precision", "recall", "f1", "support");
        for c in 0..self.classes {
            out += &format!(
                "{c:>9}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}\n",
                self.precision(c),
                self.recall(c),
                self.f1(c),
                self.support(c)
            );
        }
        let total: usize = self.counts.iter().sum();
        out += &format!(
            "{:>9}  {:>9.4}  {:>6.4}  {:>6.4}  {total:>7}\n",
            "macro",
            self.macro_precision(),
            self.macro_recall(),
            self.macro_f1()
        );
        out
    }
}

/// `num / den`, or 0 when `den` is 0.
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl fmt::Display for ConfusionMatrix {
    /// Rows are the true classes, columns the predicted ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.counts.iter().max().map_or(1, |m| m.to_string().len()).max(self.classes.to_string().len());
        write!(f, "true\\pred")?;
        for c in 0..self.classes {
            write!(f, " {c:>width$}")?;
        }
        writeln!(f)?;
        for a in 0..self.classes {
            write!(f, "{a:>9}")?;
            for p in 0..self.classes {
                write!(f, " {:>width$}", self.count(a, p))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// `model`'s evaluation-mode outputs on all of `data`, sequences of different
/// lengths with their lengths.
fn predict<T: Float, M: Model<T>>(model: &M, data: &Dataset<T>) -> Result<nalgebra::DMatrix<T>, TrainError> {
    Ok(match data.lengths() {
        Some(lengths) => model.predict_seq_view(data.inputs().as_view(), lengths)?,
        None => model.predict_view(data.inputs().as_view())?,
    })
}

/// The confusion matrix of `model` on `data` (class labels), in evaluation mode.
pub fn confusion_matrix<T: Float, M: Model<T>>(model: &M, data: &Dataset<T>) -> Result<ConfusionMatrix, TrainError> {
    if !M::accepts_rows(data.width()) {
        return Err(TrainError::Width { what: "evaluation data", expected: M::INPUT, found: data.width() });
    }
    let Targets::Classes(actual) = data.targets() else {
        let error = LossError::TargetKind { loss: Loss::SoftmaxCrossEntropy, expected: "class indices" };
        return Err(TrainError::Targets { what: "evaluation data", error });
    };
    let outputs = predict(model, data)?;
    Ok(ConfusionMatrix::by_argmax(outputs.as_view(), actual, data.classes().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Labels;
    use crate::init::{seeded_rng, Init};
    use crate::layers::Dense;
    use crate::testing::LayerModel;
    use nalgebra::DMatrix;

    /// A network whose outputs are its inputs.
    fn identity<const N: usize>() -> LayerModel<f64, Dense<f64, N, N>, N, N> {
        let mut dense = Dense::<f64, N, N>::new(&mut seeded_rng(0), Init::Zeros, false);
        for i in 0..N {
            dense.weight_mut()[i * N + i] = 1.0;
        }
        LayerModel::new(dense)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-15
    }

    #[test]
    fn confusion_matrix_counts_argmax_predictions() {
        // The identity network predicts the largest input.
        let model = identity::<3>();
        #[rustfmt::skip]
        let x = DMatrix::from_column_slice(3, 5, &[
            0.9, 0.1, 0.0, // predicted 0
            0.2, 0.7, 0.1, // 1
            0.2, 0.7, 0.1, // 1
            0.5, 0.5, 0.9, // 2
            0.3, 0.3, 0.3, // tie: 0
        ]);
        let data = Dataset::new(x, Labels::Classes { indices: vec![0, 1, 2, 2, 1], count: 3 }).unwrap();
        let m = confusion_matrix(&model, &data).unwrap();
        let table: Vec<usize> = (0..3).flat_map(|a| (0..3).map(move |p| (a, p))).map(|(a, p)| m.count(a, p)).collect();
        assert_eq!(table, vec![1, 0, 0, 1, 1, 0, 0, 1, 1]);
        assert_eq!(m.accuracy(), 0.6);
        assert_eq!(m.count(3, 0), 0);
        assert_eq!(evaluate(&model, Loss::SoftmaxCrossEntropy, &data).unwrap().accuracy, Some(0.6));
        assert_eq!(m.to_string().lines().nth(2).unwrap().split_whitespace().collect::<Vec<_>>(), ["1", "1", "1", "0"]);
    }

    #[test]
    fn precision_recall_and_f1_per_class_and_macro_match_hand_computed_values() {
        // Rows are the true classes: class 0 has 4 samples (3 right, 1 taken
        // for 1), class 1 has 3 (2 right, 1 taken for 2), class 2 has 2 (both
        // taken for 0), class 3 has none and is never predicted.
        let pairs = [(0, 0), (0, 0), (0, 0), (0, 1), (1, 1), (1, 1), (1, 2), (2, 0), (2, 0)];
        let m = ConfusionMatrix::from_pairs(4, pairs.into_iter());
        // Predicted as 0: 5 (3 right), as 1: 3 (2 right), as 2: 1 (0 right).
        let precision = [3.0 / 5.0, 2.0 / 3.0, 0.0, 0.0];
        let recall = [3.0 / 4.0, 2.0 / 3.0, 0.0, 0.0];
        // 2 tp / (support + predicted): 6/9, 4/6, 0/3, and 0 for the absent class.
        let f1 = [6.0 / 9.0, 4.0 / 6.0, 0.0, 0.0];
        for c in 0..4 {
            assert_eq!((m.precision(c), m.recall(c), m.f1(c)), (precision[c], recall[c], f1[c]), "class {c}");
        }
        assert_eq!([0, 1, 2, 3].map(|c| m.support(c)), [4, 3, 2, 0]);
        // Class 3 has neither samples nor predictions: the averages leave it out.
        assert!(close(m.macro_precision(), (0.6 + 2.0 / 3.0) / 3.0));
        assert!(close(m.macro_recall(), (0.75 + 2.0 / 3.0) / 3.0));
        assert!(close(m.macro_f1(), (4.0 / 3.0) / 3.0));
        assert!(close(m.accuracy(), 5.0 / 9.0));
        let report = m.report();
        assert_eq!(
            report.lines().nth(1).unwrap().split_whitespace().collect::<Vec<_>>(),
            ["0", "0.6000", "0.7500", "0.6667", "4"]
        );
        assert_eq!(
            report.lines().last().unwrap().split_whitespace().collect::<Vec<_>>(),
            ["macro", "0.4222", "0.4722", "0.4444", "9"]
        );
        let empty = ConfusionMatrix::from_pairs(2, std::iter::empty());
        assert_eq!((empty.macro_f1(), empty.precision(0), empty.accuracy()), (0.0, 0.0, 0.0));
    }

    #[test]
    fn mae_and_rmse_match_hand_computed_values() {
        let x = DMatrix::from_column_slice(2, 2, &[1.0, 3.0, 2.0, 4.0]);
        let t = DMatrix::from_column_slice(2, 2, &[1.5, 1.0, 2.0, 5.0]);
        let data = Dataset::new(x, Labels::Real(t)).unwrap();
        let e = evaluate(&identity::<2>(), Loss::Mse, &data).unwrap();
        // |differences| 0.5, 2, 0, 1; squares 0.25, 4, 0, 1.
        assert_eq!(e.mae, Some(3.5 / 4.0));
        assert_eq!(e.rmse, Some((5.25f64 / 4.0).sqrt()));
        assert_eq!(e.loss, 5.25 / 4.0);
        assert_eq!((e.accuracy, e.confusion), (None, None));
    }

    #[test]
    fn binary_cross_entropy_accuracy_thresholds_the_logit_at_zero() {
        // Logit 0 is probability 0.5, which is not above the threshold.
        let x = DMatrix::from_row_slice(1, 5, &[2.0, -1.0, 0.0, 3.0, -0.5]);
        let t = DMatrix::from_row_slice(1, 5, &[1.0, 0.0, 1.0, 0.0, 0.0]);
        let data = Dataset::new(x, Labels::Real(t)).unwrap();
        let e = evaluate(&identity::<1>(), Loss::BinaryCrossEntropyWithLogits, &data).unwrap();
        assert_eq!(e.accuracy, Some(0.6));
        let m = e.confusion.unwrap();
        assert_eq!([(0, 0), (0, 1), (1, 0), (1, 1)].map(|(a, p)| m.count(a, p)), [2, 1, 1, 1]);
        assert_eq!((m.precision(1), m.recall(1)), (0.5, 0.5));
        assert_eq!((e.mae, e.rmse), (None, None));
    }
}
