//! Datasets for training and tests: a [`Dataset`] of inputs (one column per
//! sample) and labels, the embedded digits and iris data, a CSV loader,
//! stratified splits, standardization, and mini-batches copied into reused buffers.

mod adding;
mod csv;
mod digits;
mod iris;
mod split;
mod standardize;

pub use adding::adding_problem;
pub use csv::{Csv, CsvError, LabelColumn};
pub use digits::digits;
pub use iris::iris;
pub use split::stratified_split;
pub use standardize::Standardizer;

use std::fmt;

use nalgebra::{DMatrix, DMatrixView};

use crate::loss::Targets;
use crate::{Batch, Float};

/// What each sample is labelled with.
#[derive(Clone, Debug, PartialEq)]
pub enum Labels<T> {
    /// A class index per sample, each below `count`.
    Classes { indices: Vec<usize>, count: usize },
    /// Real targets, one column per sample.
    Real(DMatrix<T>),
}

/// Inputs with one column per sample, and their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T> {
    inputs: DMatrix<T>,
    labels: Labels<T>,
}

/// A dataset whose parts do not fit together.
#[derive(Clone, Debug, PartialEq)]
pub enum DataError {
    /// Inputs and labels describe different numbers of samples.
    SampleCount { inputs: usize, labels: usize },
    /// A class index is not below the number of classes.
    ClassOutOfRange { sample: usize, class: usize, classes: usize },
    /// The data has a different number of features than expected.
    Width { expected: usize, found: usize },
    /// A split fraction outside (0, 1).
    Fraction(f64),
    /// A sample index beyond the dataset.
    Index { index: usize, samples: usize },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::SampleCount { inputs, labels } => {
                write!(f, "{inputs} input samples but {labels} labels")
            }
            DataError::ClassOutOfRange { sample, class, classes } => {
                write!(f, "sample {sample} has class {class}, but there are {classes} classes")
            }
            DataError::Width { expected, found } => {
                write!(f, "the data has {found} features per sample but {expected} are expected")
            }
            DataError::Fraction(v) => write!(f, "split fraction {v} is not strictly between 0 and 1"),
            DataError::Index { index, samples } => {
                write!(f, "sample index {index} is out of range for a dataset of {samples} samples")
            }
        }
    }
}

impl std::error::Error for DataError {}

impl<T: Float> Dataset<T> {
    /// Checks that labels and inputs agree (sample count, class range).
    pub fn new(inputs: DMatrix<T>, labels: Labels<T>) -> Result<Self, DataError> {
        let n = match &labels {
            Labels::Classes { indices, count } => {
                if let Some((sample, &class)) = indices.iter().enumerate().find(|(_, &c)| c >= *count) {
                    return Err(DataError::ClassOutOfRange { sample, class, classes: *count });
                }
                indices.len()
            }
            Labels::Real(t) => t.ncols(),
        };
        if n != inputs.ncols() {
            return Err(DataError::SampleCount { inputs: inputs.ncols(), labels: n });
        }
        Ok(Self { inputs, labels })
    }

    /// Inputs, one column per sample.
    pub fn inputs(&self) -> &DMatrix<T> {
        &self.inputs
    }
    /// Inputs, for in-place preprocessing.
    pub fn inputs_mut(&mut self) -> &mut DMatrix<T> {
        &mut self.inputs
    }
    pub fn labels(&self) -> &Labels<T> {
        &self.labels
    }
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.inputs.ncols()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Features per sample.
    pub fn width(&self) -> usize {
        self.inputs.nrows()
    }
    /// The number of classes, for class labels.
    pub fn classes(&self) -> Option<usize> {
        match &self.labels {
            Labels::Classes { count, .. } => Some(*count),
            Labels::Real(_) => None,
        }
    }
    /// Every sample's targets, for a loss.
    pub fn targets(&self) -> Targets<'_, T> {
        match &self.labels {
            Labels::Classes { indices, .. } => Targets::Classes(indices),
            Labels::Real(t) => Targets::Real(t.as_view()),
        }
    }

    /// Checks that every index names a sample.
    fn check_indices(&self, indices: &[usize]) -> Result<(), DataError> {
        match indices.iter().find(|&&i| i >= self.len()) {
            Some(&index) => Err(DataError::Index { index, samples: self.len() }),
            None => Ok(()),
        }
    }

    /// The samples at `indices`, in that order (copied).
    pub fn subset(&self, indices: &[usize]) -> Result<Self, DataError> {
        self.check_indices(indices)?;
        let inputs = self.inputs.select_columns(indices);
        let labels = match &self.labels {
            Labels::Classes { indices: all, count } => {
                Labels::Classes { indices: indices.iter().map(|&i| all[i]).collect(), count: *count }
            }
            Labels::Real(t) => Labels::Real(t.select_columns(indices)),
        };
        Ok(Self { inputs, labels })
    }

    /// The inputs of a sequence dataset (each sample `steps * N` values, rows
    /// `t*N .. (t+1)*N` being step `t`) as one batch per step, for a `seq N` network.
    pub fn to_steps<const N: usize>(&self) -> Result<Vec<Batch<T, N>>, DataError> {
        if !self.width().is_multiple_of(N) {
            return Err(DataError::Width { expected: N, found: self.width() });
        }
        let steps = self.width() / N;
        Ok((0..steps).map(|t| Batch::<T, N>::from_fn(self.len(), |i, j| self.inputs[(t * N + i, j)])).collect())
    }

    /// The inputs as a statically shaped batch for a network with `N` inputs.
    pub fn to_batch<const N: usize>(&self) -> Result<Batch<T, N>, DataError> {
        if self.width() != N {
            return Err(DataError::Width { expected: N, found: self.width() });
        }
        Ok(Batch::<T, N>::from_column_slice(self.inputs.as_slice()))
    }
}

/// A mini-batch copied out of a [`Dataset`] into buffers that are kept between
/// batches: once sized for the largest batch, filling it allocates nothing
/// (a smaller last batch uses the leading columns).
#[derive(Clone, Debug)]
pub struct MiniBatch<T> {
    inputs: DMatrix<T>,
    classes: Vec<usize>,
    real: DMatrix<T>,
    from_classes: bool,
    len: usize,
}

impl<T: Float> Default for MiniBatch<T> {
    fn default() -> Self {
        Self {
            inputs: DMatrix::zeros(0, 0),
            classes: Vec::new(),
            real: DMatrix::zeros(0, 0),
            from_classes: true,
            len: 0,
        }
    }
}

impl<T: Float> MiniBatch<T> {
    /// Copies the samples at `indices` from `data`.
    pub fn fill(&mut self, data: &Dataset<T>, indices: &[usize]) -> Result<(), DataError> {
        data.check_indices(indices)?;
        let n = indices.len();
        if self.inputs.nrows() != data.width() || self.inputs.ncols() < n {
            self.inputs = DMatrix::zeros(data.width(), n);
        }
        for (j, &i) in indices.iter().enumerate() {
            self.inputs.column_mut(j).copy_from(&data.inputs.column(i));
        }
        match &data.labels {
            Labels::Classes { indices: all, .. } => {
                self.classes.clear();
                self.classes.extend(indices.iter().map(|&i| all[i]));
                self.from_classes = true;
            }
            Labels::Real(t) => {
                if self.real.nrows() != t.nrows() || self.real.ncols() < n {
                    self.real = DMatrix::zeros(t.nrows(), n);
                }
                for (j, &i) in indices.iter().enumerate() {
                    self.real.column_mut(j).copy_from(&t.column(i));
                }
                self.from_classes = false;
            }
        }
        self.len = n;
        Ok(())
    }

    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The batch's inputs, one column per sample.
    pub fn inputs(&self) -> DMatrixView<'_, T> {
        self.inputs.columns(0, self.len)
    }
    /// The batch's targets, for a loss.
    pub fn targets(&self) -> Targets<'_, T> {
        if self.from_classes {
            Targets::Classes(&self.classes[..self.len])
        } else {
            Targets::Real(self.real.columns(0, self.len))
        }
    }
}

/// Parses the embedded, known-good CSV of a bundled dataset.
fn embedded<T: Float>(name: &str, csv: &Csv, text: &str) -> Dataset<T> {
    csv.parse(text).unwrap_or_else(|e| panic!("the embedded {name} data is corrupt: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Dataset<f64> {
        let x = DMatrix::from_fn(2, 5, |i, j| (10 * j + i) as f64);
        Dataset::new(x, Labels::Classes { indices: vec![0, 1, 2, 1, 0], count: 3 }).unwrap()
    }

    #[test]
    fn mini_batches_copy_the_chosen_samples_and_keep_their_buffer() {
        let data = small();
        let mut batch = MiniBatch::default();
        batch.fill(&data, &[4, 1, 2]).unwrap();
        assert_eq!(batch.inputs(), DMatrix::from_column_slice(2, 3, &[40.0, 41.0, 10.0, 11.0, 20.0, 21.0]));
        let Targets::Classes(c) = batch.targets() else { panic!("class targets") };
        assert_eq!(c, &[0, 1, 2]);
        let buffer = batch.inputs().as_ptr();
        batch.fill(&data, &[3]).unwrap();
        assert_eq!((batch.len(), batch.inputs().as_ptr()), (1, buffer));
        assert_eq!(batch.inputs(), DMatrix::from_column_slice(2, 1, &[30.0, 31.0]));
        assert_eq!(batch.fill(&data, &[0, 5]), Err(DataError::Index { index: 5, samples: 5 }));
    }

    #[test]
    fn inconsistent_parts_are_refused() {
        let x = DMatrix::<f64>::zeros(2, 3);
        assert_eq!(
            Dataset::new(x.clone(), Labels::Classes { indices: vec![0, 1], count: 2 }),
            Err(DataError::SampleCount { inputs: 3, labels: 2 })
        );
        assert_eq!(
            Dataset::new(x.clone(), Labels::Classes { indices: vec![0, 2, 1], count: 2 }),
            Err(DataError::ClassOutOfRange { sample: 1, class: 2, classes: 2 })
        );
        assert_eq!(small().subset(&[7]), Err(DataError::Index { index: 7, samples: 5 }));
        assert_eq!(small().to_batch::<3>(), Err(DataError::Width { expected: 3, found: 2 }));
        assert_eq!(small().to_batch::<2>().unwrap().column(2).as_slice(), &[20.0, 21.0]);
    }
}
