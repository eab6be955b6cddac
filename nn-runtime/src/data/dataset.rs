//! A [`Dataset`]: inputs with one column per sample, their labels, and the
//! names of the classes and features where they are known.

use nalgebra::DMatrix;

use super::rows::{check_finite_inputs, matrix_from_rows};
use super::{first_non_finite, DataError};
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

/// Inputs with one column per sample, their labels, and optionally the names
/// of the classes and of the features (read from a CSV header, or given with
/// [`Dataset::with_class_names`] and [`Dataset::with_feature_names`]).
///
/// Every input and real target is finite: the constructors refuse NaN and
/// infinity with an error naming the sample and the feature.
///
/// # From plain rows to a network and back
///
/// A network takes a [`Batch<T, N>`](crate::Batch): a matrix with `N` rows
/// and one column per sample. [`Dataset::to_batch`] (or `Batch::try_from`)
/// turns a dataset's inputs into one, [`Dataset::from_batch`] goes the other
/// way; [`batch_from_rows`](super::batch_from_rows) and
/// [`batch_to_rows`](super::batch_to_rows) convert plain rows without a dataset.
///
/// ```
/// # use nn_runtime as nn;
/// use nn::data::{batch_to_rows, Dataset, Labels};
/// use nn::nalgebra::DMatrix;
/// use nn::Batch;
///
/// // Four samples of two features, one row each, and their classes.
/// let rows = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// let xor = Dataset::from_rows_classes(&rows, &[0, 1, 1, 0], 2)?;
/// assert_eq!((xor.len(), xor.width(), xor.classes()), (4, 2, Some(2)));
///
/// // The inputs as the batch a `network!` with 2 inputs takes: one column per sample.
/// let x: Batch<f64, 2> = xor.to_batch()?;
/// assert_eq!(x.column(2).as_slice(), &[1.0, 0.0]);
/// let same = Batch::<f64, 2>::try_from(&xor)?;
/// assert_eq!(same, x);
/// assert_eq!(batch_to_rows(&x), rows);
///
/// // A batch and labels back into a dataset: here real targets, one column per sample.
/// let sums = Dataset::from_batch(&x, Labels::Real(DMatrix::from_row_slice(1, 4, &[0.0, 1.0, 1.0, 2.0])))?;
/// assert_eq!(sums.inputs(), xor.inputs());
/// # Ok::<(), nn::data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T> {
    inputs: DMatrix<T>,
    labels: Labels<T>,
    class_names: Option<Vec<String>>,
    feature_names: Option<Vec<String>>,
}

impl<T: Float> Dataset<T> {
    /// Checks that labels and inputs agree (sample count, class range) and
    /// that every input and real target is finite.
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
        check_finite_inputs(inputs.as_slice(), inputs.nrows())?;
        if let Labels::Real(t) = &labels {
            if let Some((sample, output, value)) = first_non_finite(t.as_slice(), t.nrows()) {
                return Err(DataError::NonFiniteTarget { sample, output, value });
            }
        }
        Ok(Self::unchecked(inputs, labels, None, None))
    }

    /// Parts already checked (by [`Dataset::new`] or while reading them),
    /// names matching the classes and features.
    pub(super) fn unchecked(
        inputs: DMatrix<T>,
        labels: Labels<T>,
        class_names: Option<Vec<String>>,
        feature_names: Option<Vec<String>>,
    ) -> Self {
        Self { inputs, labels, class_names, feature_names }
    }

    /// One row of features per sample (`&[[T; N]]`, `&[Vec<T>]`, `&[&[T]]`)
    /// and one class index below `count` per sample.
    ///
    /// ```
    /// # use nn_runtime as nn;
    /// use nn::data::Dataset;
    ///
    /// let rows = vec![vec![5.1_f32, 3.5], vec![7.0, 3.2]];
    /// let data = Dataset::from_rows_classes(&rows, &[0, 1], 2)?;
    /// assert_eq!(data.inputs().column(1).as_slice(), &[7.0, 3.2]);
    /// assert!(Dataset::from_rows_classes(&[[1.0_f32, f32::NAN]], &[0], 2).is_err());
    /// # Ok::<(), nn::data::DataError>(())
    /// ```
    pub fn from_rows_classes<R: AsRef<[T]>>(rows: &[R], classes: &[usize], count: usize) -> Result<Self, DataError> {
        Self::new(matrix_from_rows(rows)?, Labels::Classes { indices: classes.to_vec(), count })
    }

    /// One row of features and one row of real targets per sample (for a
    /// single output, rows of one value: `[[y0], [y1], ..]`).
    ///
    /// ```
    /// # use nn_runtime as nn;
    /// use nn::data::Dataset;
    ///
    /// let xs: Vec<[f64; 1]> = (0..5).map(|i| [i as f64 / 4.0]).collect();
    /// let ys: Vec<[f64; 1]> = xs.iter().map(|&[x]| [(6.0 * x).sin()]).collect();
    /// let sine = Dataset::from_rows_real(&xs, &ys)?;
    /// assert_eq!((sine.len(), sine.width(), sine.classes()), (5, 1, None));
    /// # Ok::<(), nn::data::DataError>(())
    /// ```
    pub fn from_rows_real<R: AsRef<[T]>, S: AsRef<[T]>>(rows: &[R], targets: &[S]) -> Result<Self, DataError> {
        Self::new(matrix_from_rows(rows)?, Labels::Real(matrix_from_rows(targets)?))
    }

    /// A network batch's samples (its columns) with their labels.
    pub fn from_batch<const N: usize>(inputs: &Batch<T, N>, labels: Labels<T>) -> Result<Self, DataError> {
        Self::new(DMatrix::from_column_slice(N, inputs.ncols(), inputs.as_slice()), labels)
    }

    /// Names the classes, in class-index order (what a model prints for its
    /// predictions). Their count must be the number of classes.
    pub fn with_class_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Result<Self, DataError> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if self.classes() != Some(names.len()) {
            return Err(DataError::ClassNames { names: names.len(), classes: self.classes() });
        }
        self.class_names = Some(names);
        Ok(self)
    }

    /// Names the features, in input-row order. Their count must be the width.
    pub fn with_feature_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Self, DataError> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.len() != self.width() {
            return Err(DataError::FeatureNames { names: names.len(), features: self.width() });
        }
        self.feature_names = Some(names);
        Ok(self)
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
    /// The class names, in class-index order, if known.
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }
    /// The feature names, in input-row order, if known.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
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
    pub(super) fn check_indices(&self, indices: &[usize]) -> Result<(), DataError> {
        match indices.iter().find(|&&i| i >= self.len()) {
            Some(&index) => Err(DataError::Index { index, samples: self.len() }),
            None => Ok(()),
        }
    }

    /// The samples at `indices`, in that order (copied), with the same names.
    pub fn subset(&self, indices: &[usize]) -> Result<Self, DataError> {
        self.check_indices(indices)?;
        let labels = match &self.labels {
            Labels::Classes { indices: all, count } => {
                Labels::Classes { indices: indices.iter().map(|&i| all[i]).collect(), count: *count }
            }
            Labels::Real(t) => Labels::Real(t.select_columns(indices)),
        };
        Ok(Self {
            inputs: self.inputs.select_columns(indices),
            labels,
            class_names: self.class_names.clone(),
            feature_names: self.feature_names.clone(),
        })
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

    /// The inputs as the batch a network with `N` inputs takes (copied; also
    /// `Batch::try_from(&data)`). An error if the samples do not have `N` features.
    pub fn to_batch<const N: usize>(&self) -> Result<Batch<T, N>, DataError> {
        if self.width() != N {
            return Err(DataError::Width { expected: N, found: self.width() });
        }
        Ok(Batch::<T, N>::from_iterator(self.len(), self.inputs.iter().copied()))
    }
}

/// [`Dataset::to_batch`] as a conversion: `Batch::<f32, 4>::try_from(&data)?`.
impl<T: Float, const N: usize> TryFrom<&Dataset<T>> for Batch<T, N> {
    type Error = DataError;

    fn try_from(data: &Dataset<T>) -> Result<Self, DataError> {
        data.to_batch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Dataset<f64> {
        let x = DMatrix::from_fn(2, 5, |i, j| (10 * j + i) as f64);
        Dataset::new(x, Labels::Classes { indices: vec![0, 1, 2, 1, 0], count: 3 }).unwrap()
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

    #[test]
    fn nan_and_infinity_are_refused_with_sample_and_feature() {
        let mut x = DMatrix::<f64>::zeros(3, 4);
        x[(2, 1)] = f64::NAN;
        let classes = Labels::Classes { indices: vec![0; 4], count: 1 };
        let err = Dataset::new(x.clone(), classes.clone()).unwrap_err();
        assert!(matches!(err, DataError::NonFiniteInput { sample: 1, feature: 2, value } if value.is_nan()), "{err:?}");
        assert_eq!(
            err.to_string(),
            "input sample 1, feature 2 is NaN: every input must be a finite number \
             (a missing value? fill or drop it before building the data set)"
        );
        x[(2, 1)] = 0.0;
        x[(0, 3)] = f64::NEG_INFINITY;
        assert_eq!(
            Dataset::new(x.clone(), classes).unwrap_err(),
            DataError::NonFiniteInput { sample: 3, feature: 0, value: f64::NEG_INFINITY }
        );
        x[(0, 3)] = 0.0;
        let mut t = DMatrix::<f64>::zeros(2, 4);
        t[(1, 2)] = f64::INFINITY;
        let err = Dataset::new(x, Labels::Real(t)).unwrap_err();
        assert_eq!(err, DataError::NonFiniteTarget { sample: 2, output: 1, value: f64::INFINITY });
        assert!(err.to_string().starts_with("the target of sample 2, output 1 is inf"), "{err}");
    }

    #[test]
    fn rows_give_the_same_dataset_as_a_matrix_and_the_batch_of_its_columns() {
        let rows = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let data = Dataset::from_rows_classes(&rows, &[1, 0], 2).unwrap();
        let expected = Dataset::new(
            DMatrix::from_column_slice(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            Labels::Classes { indices: vec![1, 0], count: 2 },
        )
        .unwrap();
        assert_eq!(data, expected);
        let slices: Vec<&[f64]> = rows.iter().map(|r| &r[..]).collect();
        assert_eq!(Dataset::from_rows_classes(&slices, &[1, 0], 2).unwrap(), expected);
        let batch = data.to_batch::<3>().unwrap();
        assert_eq!(batch, Batch::<f64, 3>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        assert_eq!(Batch::<f64, 3>::try_from(&data), Ok(batch.clone()));
        assert_eq!(Batch::<f64, 2>::try_from(&data), Err(DataError::Width { expected: 2, found: 3 }));
        let back = Dataset::from_batch(&batch, data.labels().clone()).unwrap();
        assert_eq!(back, data);

        let real = Dataset::from_rows_real(&rows, &[[0.5], [-1.5]]).unwrap();
        assert_eq!(real.labels(), &Labels::Real(DMatrix::from_row_slice(1, 2, &[0.5, -1.5])));
        assert_eq!(Dataset::from_rows_real(&rows, &[[0.5]]), Err(DataError::SampleCount { inputs: 2, labels: 1 }));
        assert_eq!(
            Dataset::from_rows_real(&rows, &[[0.5], [f64::NAN]]).unwrap_err().to_string(),
            "the target of sample 1, output 0 is NaN: every target must be a finite number"
        );
        let ragged: [&[f64]; 3] = [&[1.0, 2.0], &[3.0, 4.0], &[5.0]];
        assert_eq!(
            Dataset::from_rows_classes(&ragged, &[0, 0, 0], 1),
            Err(DataError::RowLength { row: 2, expected: 2, found: 1 })
        );
        assert_eq!(
            Dataset::from_rows_classes(&rows, &[0, 2], 2),
            Err(DataError::ClassOutOfRange { sample: 1, class: 2, classes: 2 })
        );
    }

    #[test]
    fn names_must_match_the_classes_and_features_and_survive_subsets() {
        let data = small().with_class_names(["a", "b", "c"]).unwrap().with_feature_names(["x", "y"]).unwrap();
        let part = data.subset(&[4, 0]).unwrap();
        assert_eq!(part.class_names().unwrap(), ["a", "b", "c"]);
        assert_eq!(part.feature_names().unwrap(), ["x", "y"]);
        assert_eq!(small().class_names(), None);
        assert_eq!(small().with_class_names(["a"]), Err(DataError::ClassNames { names: 1, classes: Some(3) }));
        assert_eq!(small().with_feature_names(["x"]), Err(DataError::FeatureNames { names: 1, features: 2 }));
        let real = Dataset::from_rows_real(&[[1.0]], &[[2.0]]).unwrap();
        let err = real.with_class_names(["a"]).unwrap_err();
        assert_eq!(err, DataError::ClassNames { names: 1, classes: None });
        assert_eq!(err.to_string(), "1 class names for real-valued targets, which have no classes");
    }
}
