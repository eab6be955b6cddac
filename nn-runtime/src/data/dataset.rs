//! A [`Dataset`]: inputs with one column per sample, their labels, and the
//! names of the classes and features where they are known.

use nalgebra::DMatrix;

use super::rows::{check_finite_inputs, matrix_from_rows};
use super::{first_non_finite, DataError};
use crate::loss::Targets;
use crate::{batch::Batch, kernels::Float};

/// What each sample is labelled with.
#[derive(Clone, Debug, PartialEq)]
pub enum Labels<T> {
    /// A class index per sample, each below `count`.
    Classes {
        /// Each sample's class.
        indices: Vec<usize>,
        /// Number of classes.
        count: usize,
    },
    /// Real targets, one column per sample.
    Real(DMatrix<T>),
    /// A class per time step of sequences (for a network with outputs per
    /// step, `-> seq M`): `indices[j * steps + t]` is sample `j`'s class at
    /// step `t`; entries past a sample's length are padding, never read.
    StepClasses {
        /// Each sample's class at each step, sample after sample: `steps` entries per sample.
        indices: Vec<usize>,
        /// Number of classes.
        count: usize,
    },
    /// Real targets per time step: `steps * per_step` rows (rows
    /// `t * per_step ..` are step `t`), one column per sample; rows past a
    /// sample's length are padding, never read.
    StepReal {
        /// The targets: `steps * per_step` rows, one column per sample.
        values: DMatrix<T>,
        /// Targets per step.
        per_step: usize,
    },
}

/// How the samples of a [`Dataset`] of sequences are laid out: every sample
/// padded to `steps` steps, sample `j` of `lengths[j]` real ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Lengths {
    /// Steps every sample is padded to.
    pub steps: usize,
    /// Each sample's real steps, from 1 to `steps`.
    pub lengths: Vec<usize>,
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
/// A network takes a [`Batch<T, N>`](crate::batch::Batch): a matrix with `N` rows
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
    /// For sequences of different lengths (or labels per step): their lengths.
    lengths: Option<Lengths>,
    class_names: Option<Vec<String>>,
    feature_names: Option<Vec<String>>,
}

impl<T: Float> Dataset<T> {
    /// Checks that labels and inputs agree (sample count, class range) and
    /// that every input and real target is finite.
    pub fn new(inputs: DMatrix<T>, labels: Labels<T>) -> Result<Self, DataError> {
        let n = inputs.ncols();
        // Labels per step of sequences of one length: every step is real.
        let steps = match &labels {
            Labels::StepClasses { indices, .. } => indices.len().checked_div(n).unwrap_or(0),
            Labels::StepReal { values, per_step } => values.nrows().checked_div(*per_step).unwrap_or(0),
            Labels::Classes { .. } | Labels::Real(_) => 0,
        };
        let lengths = (steps > 0).then(|| Lengths { steps, lengths: vec![steps; n] });
        Self::checked(inputs, labels, lengths)
    }

    /// Sequences of different lengths, each padded to the same number of
    /// steps: sample `j` is column `j` of `inputs`, `per_step` values per step
    /// (rows `t * per_step ..` are step `t`), of which the first `lengths[j]`
    /// steps are real. Labels per sample ([`Labels::Classes`],
    /// [`Labels::Real`]) or per step ([`Labels::StepClasses`],
    /// [`Labels::StepReal`], with as many steps as the inputs). Padding is
    /// never read by a network or a loss, but must be finite.
    pub fn sequences(
        inputs: DMatrix<T>,
        per_step: usize,
        lengths: Vec<usize>,
        labels: Labels<T>,
    ) -> Result<Self, DataError> {
        let steps = inputs.nrows().checked_div(per_step).filter(|s| s * per_step == inputs.nrows());
        let steps = steps.ok_or(DataError::SliceLength { len: inputs.nrows(), width: per_step })?;
        if lengths.len() != inputs.ncols() {
            return Err(DataError::SampleCount { inputs: inputs.ncols(), labels: lengths.len() });
        }
        if let Some((sample, &length)) = lengths.iter().enumerate().find(|(_, &l)| l == 0 || l > steps) {
            return Err(DataError::Length { sample, length, steps });
        }
        Self::checked(inputs, labels, Some(Lengths { steps, lengths }))
    }

    /// Token sequences of different lengths, the input of a `tokens V`
    /// network (ids as exact whole numbers, padded with 0), each with a class
    /// per step (a language model's next token, a tagger's tags).
    ///
    /// ```
    /// # use nn_runtime as nn;
    /// use nn::data::Dataset;
    ///
    /// // "cab" and "a" as a character model sees them: inputs and next characters.
    /// let data = Dataset::<f32>::token_sequences(&[vec![27, 2, 0, 1], vec![27, 0]], &[vec![2, 0, 1, 26], vec![0, 26]], 28)?;
    /// assert_eq!((data.len(), data.width(), data.lengths()), (2, 4, Some(&[4, 2][..])));
    /// # Ok::<(), nn::data::DataError>(())
    /// ```
    pub fn token_sequences<S: AsRef<[usize]>>(inputs: &[S], classes: &[S], count: usize) -> Result<Self, DataError> {
        if inputs.len() != classes.len() {
            return Err(DataError::SampleCount { inputs: inputs.len(), labels: classes.len() });
        }
        if let Some(sample) = inputs.iter().zip(classes).position(|(x, c)| x.as_ref().len() != c.as_ref().len()) {
            let (found, expected) = (classes[sample].as_ref().len(), inputs[sample].as_ref().len());
            return Err(DataError::StepCount { sample, expected, found });
        }
        let lengths: Vec<usize> = inputs.iter().map(|x| x.as_ref().len()).collect();
        let steps = lengths.iter().copied().max().unwrap_or(0);
        let ids =
            DMatrix::from_fn(steps, inputs.len(), |t, j| T::of(inputs[j].as_ref().get(t).copied().unwrap_or(0) as f64));
        let mut indices = vec![0; steps * inputs.len()];
        for (j, c) in classes.iter().enumerate() {
            indices[j * steps..j * steps + c.as_ref().len()].copy_from_slice(c.as_ref());
        }
        Self::sequences(ids, 1, lengths, Labels::StepClasses { indices, count })
    }

    /// Checks that labels, lengths and inputs agree (sample count, steps,
    /// class range) and that every input and real target is finite.
    fn checked(inputs: DMatrix<T>, labels: Labels<T>, lengths: Option<Lengths>) -> Result<Self, DataError> {
        let n = inputs.ncols();
        let found = match &labels {
            Labels::Classes { indices, .. } => indices.len(),
            Labels::Real(t) => t.ncols(),
            Labels::StepReal { values, .. } => values.ncols(),
            Labels::StepClasses { .. } => n,
        };
        if found != n {
            return Err(DataError::SampleCount { inputs: n, labels: found });
        }
        let real = |j: usize| lengths.as_ref().map_or(1, |l| l.lengths[j]);
        let steps = lengths.as_ref().map_or(1, |l| l.steps);
        match &labels {
            Labels::Classes { indices, count } => {
                if let Some((sample, &class)) = indices.iter().enumerate().find(|(_, &c)| c >= *count) {
                    return Err(DataError::ClassOutOfRange { sample, class, classes: *count });
                }
            }
            Labels::StepClasses { indices, count } => {
                if indices.len() != steps * n {
                    return Err(DataError::StepCount { sample: 0, expected: steps * n, found: indices.len() });
                }
                for sample in 0..n {
                    let real = &indices[sample * steps..sample * steps + real(sample)];
                    if let Some(&class) = real.iter().find(|&&c| c >= *count) {
                        return Err(DataError::ClassOutOfRange { sample, class, classes: *count });
                    }
                }
            }
            Labels::StepReal { values, per_step } if values.nrows() != steps * per_step => {
                return Err(DataError::StepCount { sample: 0, expected: steps * per_step, found: values.nrows() });
            }
            Labels::Real(_) | Labels::StepReal { .. } => {}
        }
        check_finite_inputs(inputs.as_slice(), inputs.nrows())?;
        if let Labels::Real(t) | Labels::StepReal { values: t, .. } = &labels {
            if let Some((sample, output, value)) = first_non_finite(t.as_slice(), t.nrows()) {
                return Err(DataError::NonFiniteTarget { sample, output, value });
            }
        }
        let mut data = Self::unchecked(inputs, labels, None, None);
        data.lengths = lengths;
        Ok(data)
    }

    /// Parts already checked (by [`Dataset::new`] or while reading them),
    /// names matching the classes and features.
    pub(super) fn unchecked(
        inputs: DMatrix<T>,
        labels: Labels<T>,
        class_names: Option<Vec<String>>,
        feature_names: Option<Vec<String>>,
    ) -> Self {
        Self { inputs, labels, lengths: None, class_names, feature_names }
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
    /// What each sample is labelled with.
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
    /// Whether there are no samples.
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
            Labels::Classes { count, .. } | Labels::StepClasses { count, .. } => Some(*count),
            Labels::Real(_) | Labels::StepReal { .. } => None,
        }
    }

    /// Each sample's real steps, for sequences of different lengths or
    /// labels per step ([`Dataset::sequences`]); `None` otherwise.
    pub fn lengths(&self) -> Option<&[usize]> {
        self.lengths.as_ref().map(|l| &l.lengths[..])
    }

    /// The steps every sample is padded to, with [`Dataset::lengths`].
    pub fn steps(&self) -> Option<usize> {
        self.lengths.as_ref().map(|l| l.steps)
    }
    /// Every sample's targets, for a loss.
    pub fn targets(&self) -> Targets<'_, T> {
        let lengths = self.lengths().unwrap_or_default();
        match &self.labels {
            Labels::Classes { indices, .. } => Targets::Classes(indices),
            Labels::Real(t) => Targets::Real(t.as_view()),
            Labels::StepClasses { indices, .. } => Targets::StepClasses { classes: indices, lengths },
            Labels::StepReal { values, per_step } => {
                Targets::StepReal { values: values.as_view(), per_step: *per_step, lengths }
            }
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
        let steps = self.steps().unwrap_or(1);
        let labels = match &self.labels {
            Labels::Classes { indices: all, count } => {
                Labels::Classes { indices: indices.iter().map(|&i| all[i]).collect(), count: *count }
            }
            Labels::Real(t) => Labels::Real(t.select_columns(indices)),
            Labels::StepClasses { indices: all, count } => Labels::StepClasses {
                indices: indices.iter().flat_map(|&i| all[i * steps..(i + 1) * steps].iter().copied()).collect(),
                count: *count,
            },
            Labels::StepReal { values, per_step } => {
                Labels::StepReal { values: values.select_columns(indices), per_step: *per_step }
            }
        };
        let lengths = self
            .lengths
            .as_ref()
            .map(|l| Lengths { steps: l.steps, lengths: indices.iter().map(|&i| l.lengths[i]).collect() });
        Ok(Self {
            inputs: self.inputs.select_columns(indices),
            labels,
            lengths,
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
