//! Loss and accuracy of a model on a dataset, in evaluation mode.

use nalgebra::DMatrixView;

use super::TrainError;
use crate::data::Dataset;
use crate::{Float, Loss, Model, Targets};

/// A model's loss on a dataset, and its accuracy when the labels are classes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: Option<f64>,
}

/// Runs `model.predict` on all of `data` and measures `loss` (and accuracy for class labels).
pub fn evaluate<T: Float, M: Model<T>>(model: &M, loss: Loss, data: &Dataset<T>) -> Result<Evaluation, TrainError> {
    if data.width() != M::INPUT {
        return Err(TrainError::Width { what: "evaluation data", expected: M::INPUT, found: data.width() });
    }
    let outputs = model.predict_view(data.inputs().as_view())?;
    let value = loss
        .value(outputs.as_view(), data.targets())
        .map_err(|e| TrainError::Targets { what: "evaluation data", error: e })?;
    let accuracy = match data.targets() {
        Targets::Classes(classes) => Some(accuracy(outputs.as_view(), classes)),
        Targets::Real(_) => None,
    };
    Ok(Evaluation { loss: value, accuracy })
}

/// Share of samples whose largest output (the first, on ties) is their class.
fn accuracy<T: Float>(outputs: DMatrixView<'_, T>, classes: &[usize]) -> f64 {
    if classes.is_empty() {
        return 0.0;
    }
    let correct = classes
        .iter()
        .enumerate()
        .filter(|&(j, &c)| {
            let col = outputs.column(j);
            let best = (1..col.len()).fold(0, |best, i| if col[i] > col[best] { i } else { best });
            best == c
        })
        .count();
    correct as f64 / classes.len() as f64
}
