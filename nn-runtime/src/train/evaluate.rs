//! Loss and accuracy of a model on a dataset, in evaluation mode.

use std::fmt;

use nalgebra::DMatrixView;

use super::TrainError;
use crate::data::Dataset;
use crate::{Float, Loss, LossError, Model, Targets};

/// A model's loss on a dataset, and its accuracy when the labels are classes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: Option<f64>,
}

/// Runs `model.predict` on all of `data` and measures `loss` (and accuracy for class labels).
pub fn evaluate<T: Float, M: Model<T>>(model: &M, loss: Loss, data: &Dataset<T>) -> Result<Evaluation, TrainError> {
    if !M::accepts_rows(data.width()) {
        return Err(TrainError::Width { what: "evaluation data", expected: M::INPUT, found: data.width() });
    }
    let outputs = model.predict_view(data.inputs().as_view())?;
    let value = loss
        .value(outputs.as_view(), data.targets())
        .map_err(|e| TrainError::Targets { what: "evaluation data", error: e })?;
    Ok(Evaluation { loss: value, accuracy: accuracy(outputs.as_view(), data.targets()) })
}

/// The predicted class of sample `j`: its largest output (the first, on ties).
fn predicted<T: Float>(outputs: &DMatrixView<'_, T>, j: usize) -> usize {
    let col = outputs.column(j);
    (1..col.len()).fold(0, |best, i| if col[i] > col[best] { i } else { best })
}

/// Share of samples (of real steps, for a class per step) whose predicted
/// class is their class; `None` for real targets.
pub(crate) fn accuracy<T: Float>(outputs: DMatrixView<'_, T>, targets: Targets<'_, T>) -> Option<f64> {
    let (correct, total) = match targets {
        Targets::Classes(classes) => {
            (classes.iter().enumerate().filter(|&(j, &c)| predicted(&outputs, j) == c).count(), classes.len())
        }
        Targets::StepClasses { classes, lengths } => {
            let steps = classes.len().checked_div(lengths.len()).unwrap_or(0);
            let m = outputs.nrows().checked_div(steps).unwrap_or(0);
            let mut correct = 0;
            for (j, &length) in lengths.iter().enumerate() {
                for t in 0..length {
                    let step = outputs.view((t * m, j), (m, 1));
                    correct += usize::from(predicted(&step, 0) == classes[j * steps + t]);
                }
            }
            (correct, lengths.iter().sum())
        }
        _ => return None,
    };
    Some(if total == 0 { 0.0 } else { correct as f64 / total as f64 })
}

/// How often each class was predicted as each class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major: `counts[actual * classes + predicted]`.
    counts: Vec<usize>,
}

impl ConfusionMatrix {
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

/// The confusion matrix of `model` on `data` (class labels), in evaluation mode.
pub fn confusion_matrix<T: Float, M: Model<T>>(model: &M, data: &Dataset<T>) -> Result<ConfusionMatrix, TrainError> {
    if !M::accepts_rows(data.width()) {
        return Err(TrainError::Width { what: "evaluation data", expected: M::INPUT, found: data.width() });
    }
    let Targets::Classes(labels) = data.targets() else {
        let error = LossError::TargetKind { loss: Loss::SoftmaxCrossEntropy, expected: "class indices" };
        return Err(TrainError::Targets { what: "evaluation data", error });
    };
    let outputs = model.predict_view(data.inputs().as_view())?;
    let classes = data.classes().unwrap_or(0).max(M::OUTPUT);
    let mut counts = vec![0; classes * classes];
    for (j, &c) in labels.iter().enumerate() {
        counts[c * classes + predicted(&outputs.as_view(), j)] += 1;
    }
    Ok(ConfusionMatrix { classes, counts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Labels;
    use crate::layers::Dense;
    use crate::testing::LayerModel;
    use crate::{seeded_rng, Init};
    use nalgebra::DMatrix;

    #[test]
    fn confusion_matrix_counts_argmax_predictions() {
        // The identity network predicts the largest input.
        let mut dense = Dense::<f64, 3, 3>::new(&mut seeded_rng(0), Init::Zeros, false);
        dense.weight_mut().copy_from_slice(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        let model = LayerModel::new(dense);
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
}
